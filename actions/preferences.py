"""Consent per kind of proactive message, and the profile-update form
(birthday, time zone, email, phone, preferred channel)."""

from __future__ import annotations

import abc
import asyncio
import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext, resolve_customer
from supportbot.errors import InvalidRequestError
from supportbot.parsing import normalise_outreach_kind, parse_birthday, parse_contact_update, parse_time_zone
from supportbot.services.preferences import set_consent, update_profile_field
from supportbot.store.models import OUTREACH_KINDS

KIND_NAMES = {
    "tips": "usage tips",
    "renewal": "renewal reminders",
    "milestones": "birthday and anniversary messages",
    "perks": "offers and perks",
    "feedback": "feedback requests",
    "all": "all proactive messages",
}
FIELD_NAMES = {
    "birthday": "birthday",
    "time_zone": "time zone",
    "email": "email address",
    "phone": "phone number",
    "preferred_channel": "preferred channel",
}


def kind_buttons(intent: str) -> list[dict[str, str]]:
    return [
        {"title": KIND_NAMES[k].capitalize(), "payload": f"/{intent}" + json.dumps({"outreach_kind": k})}
        for k in (*OUTREACH_KINDS, "all")
    ]


class _ConsentAction(StoreAction):
    """Opt out of / back into one kind of proactive message (abstract)."""

    granted: bool = False
    intent: str = ""
    ask_response: str = ""
    done_response: str = ""
    anonymous_response = "utter_anon_consent"

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk does not register this shared base as an action."""

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        kind = normalise_outreach_kind(tracker.get_slot("outreach_kind")) or normalise_outreach_kind(
            tracker.get_slot("last_outreach_kind")
        )
        if kind is None:
            dispatcher.utter_message(response=self.ask_response, buttons=kind_buttons(self.intent))
            return [SlotSet("outreach_kind", None)]
        set_consent(
            session=session,
            customer_id=customer_id_of(ctx),
            kind=kind,
            granted=self.granted,
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(response=self.done_response, kind=KIND_NAMES[kind])
        return [SlotSet("outreach_kind", None)]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("outreach_kind", None)]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("outreach_kind", None)]


class ActionOptOut(_ConsentAction):
    granted = False
    intent = "opt_out"
    ask_response = "utter_ask_opt_out_kind"
    done_response = "utter_opt_out_done"

    def name(self) -> str:
        return "action_opt_out"


class ActionOptIn(_ConsentAction):
    granted = True
    intent = "opt_in"
    ask_response = "utter_ask_opt_in_kind"
    done_response = "utter_opt_in_done"

    def name(self) -> str:
        return "action_opt_in"


def parse_update(field: str | None, text: str, *, today: Any) -> tuple[str, str]:
    """(profile field, stored value) for what the customer typed in answer to the form."""
    if field == "birthday":
        return "birthday", parse_birthday(text, today=today).isoformat()
    if field == "time_zone":
        return "time_zone", parse_time_zone(text)
    if field == "contact":
        return parse_contact_update(text)
    raise InvalidRequestError("Sorry, I lost track of what you wanted to change. Could you ask again?")


def _is_verified(tracker: Tracker) -> bool:
    with runtime.sessions()() as session:
        return resolve_customer(session=session, tracker=tracker) is not None


class ValidateProfileUpdateForm(FormValidationAction):
    def name(self) -> str:
        return "validate_profile_update_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # A visitor who is not verified is not asked for personal data at all:
        # the form ends at once and the submit action explains how to sign in.
        if not await asyncio.to_thread(_is_verified, tracker):
            return []
        return domain_slots

    def validate_update_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        import datetime as dt

        try:
            field, stored = parse_update(
                tracker.get_slot("update_field"), str(value or ""), today=dt.datetime.now(dt.UTC).date()
            )
        except InvalidRequestError as exc:
            dispatcher.utter_message(text=str(exc))
            return {"update_value": None}
        return {"update_value": json.dumps({"field": field, "value": stored})}


class ActionSubmitProfileUpdate(StoreAction):
    anonymous_response = "utter_anon_profile"

    def name(self) -> str:
        return "action_submit_profile_update"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        raw = tracker.get_slot("update_value")
        if not raw:
            return self.anonymous_events(tracker)
        update = json.loads(raw)
        update_profile_field(
            session=session,
            customer_id=customer_id_of(ctx),
            field=update["field"],
            value=update["value"],
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(
            response="utter_profile_updated", field=FIELD_NAMES[update["field"]], value=update["value"]
        )
        return self.anonymous_events(tracker)

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("update_field", None), SlotSet("update_value", None)]

    def failure_events(self, tracker: Tracker) -> Events:
        return self.anonymous_events(tracker)
