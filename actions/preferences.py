"""Consent per kind of proactive message: opting out of and back into each kind.

Consent asked for in so many words ("stop these", "no more tips", "send me tips again") or by a
button changes at once, without a confirming question; a message the classifier only took for
it ("my reminders don't send notifications") is asked about first
(``supportbot.parsing.asks_to_change_consent``). Profile changes (birthday, time zone, contact
details) are in ``actions.profile_form``.
"""

from __future__ import annotations

import abc
import json

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
from actions.questions import PENDING_SLOT, Question, ask, set_in_last_turn
from actions.wording import render
from supportbot.outreach.rules import consent_granted
from supportbot.parsing import asks_to_change_consent, find_outreach_kind, normalise_outreach_kind
from supportbot.services.preferences import set_consent
from supportbot.store.models import OUTREACH_KINDS
from supportbot.store.repo import get_profile

CHANGED_SLOT = "consent_changed"
"""Set in the turn a consent changed at once; "never mind" right after it must not claim that
everything was left as it was (``ActionNevermind``)."""
KIND_NAMES = {
    "tips": "usage tips",
    "renewal": "renewal reminders",
    "milestones": "birthday and anniversary messages",
    "perks": "offers and perks",
    "feedback": "feedback requests",
    "all": "all proactive messages",
}


def kind_buttons(intent: str) -> list[dict[str, str]]:
    return [
        {"title": KIND_NAMES[k].capitalize(), "payload": f"/{intent}" + json.dumps({"outreach_kind": k})}
        for k in (*OUTREACH_KINDS, "all")
    ]


class _ConsentAction(QuotesHelpCentre, StoreAction):
    """Opt out of / back into one kind of proactive message (abstract)."""

    granted: bool = False
    intent: str = ""
    ask_response: str = ""
    confirm_response: str = ""
    done_response: str = ""
    anonymous_response = "utter_anon_consent"

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk does not register this shared base as an action."""

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        kind = (
            normalise_outreach_kind(tracker.get_slot("outreach_kind"))
            or find_outreach_kind(ctx.latest_text)
            or normalise_outreach_kind(tracker.get_slot("last_outreach_kind"))
        )
        if kind is None:
            rendered = render(ctx.responses, self.ask_response)
            return [
                SlotSet("outreach_kind", None),
                *ask(
                    dispatcher,
                    text=rendered.text,
                    buttons=kind_buttons(self.intent),
                    question=Question("choose_kind", context={"intent": self.intent}),
                ),
            ]
        if self.already(session, ctx, kind):
            # "actually keep the renewal reminders" when they are on: nothing to change, and the
            # question it answered ("Which messages should I stop?") is still open
            dispatcher.utter_message(
                response="utter_consent_already_on" if self.granted else "utter_consent_already_off",
                kind="proactive messages" if kind == "all" else KIND_NAMES[kind],
            )
            return [SlotSet("outreach_kind", None), *self.ask_other_kind(ctx, dispatcher, tracker)]
        if not asks_to_change_consent(ctx.latest_text, granted=self.granted):
            rendered = render(ctx.responses, self.confirm_response, kind=KIND_NAMES[kind])
            question = Question("confirm_consent", context={"intent": self.intent, "kind": kind})
            return [
                SlotSet("outreach_kind", None),
                *ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=question),
            ]
        return [SlotSet("outreach_kind", None), *self.set_kind(session, ctx, dispatcher, kind)]

    def already(self, session: Session, ctx: ActionContext, kind: str) -> bool:
        """Whether every kind asked for is already as the customer wants it."""
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        kinds = OUTREACH_KINDS if kind == "all" else (kind,)
        return profile is not None and all(consent_granted(profile.consents, k) == self.granted for k in kinds)

    def ask_other_kind(self, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """The "which messages?" question the last turn asked for the other way round, once more."""
        asked = Question.from_slot(set_in_last_turn(tracker, PENDING_SLOT))
        if asked is None or asked.kind != "choose_kind" or asked.context.get("intent") == self.intent:
            return []
        other = str(asked.context.get("intent"))
        response = "utter_ask_opt_out_kind" if other == "opt_out" else "utter_ask_opt_in_kind"
        rendered = render(ctx.responses, response)
        return ask(dispatcher, text=rendered.text, buttons=kind_buttons(other), question=asked)

    def set_kind(self, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, kind: str) -> Events:
        """Consent changes now: "stop" said plainly never needs a second message."""
        set_consent(
            session=session,
            customer_id=customer_id_of(ctx),
            kind=kind,
            granted=self.granted,
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(response=self.done_response, kind=KIND_NAMES[kind])
        return [SlotSet(CHANGED_SLOT, json.dumps({"kind": kind, "granted": self.granted}))]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("outreach_kind", None)]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("outreach_kind", None)]


class ActionOptOut(_ConsentAction):
    granted = False
    intent = "opt_out"
    ask_response = "utter_ask_opt_out_kind"
    confirm_response = "utter_confirm_opt_out"
    done_response = "utter_opt_out_done"

    def name(self) -> str:
        return "action_opt_out"


class ActionOptIn(_ConsentAction):
    granted = True
    intent = "opt_in"
    ask_response = "utter_ask_opt_in_kind"
    confirm_response = "utter_confirm_opt_in"
    done_response = "utter_opt_in_done"

    def name(self) -> str:
        return "action_opt_in"


def consent_changed_just_now(tracker: Tracker) -> tuple[str, bool] | None:
    """The kind and new value of a consent the assistant's last turn changed, if it changed one."""
    value = set_in_last_turn(tracker, CHANGED_SLOT)
    if value is None:
        return None
    try:
        data = json.loads(str(value))
        return str(data["kind"]), bool(data["granted"])
    except (ValueError, KeyError, TypeError):
        return None


class ActionNevermind(StoreAction):
    """ "Never mind" outside a form. Usually nothing is open and nothing changed; but right after
    "stop sending me tips" (done at once) "actually wait, keep them" must not hear "I've left
    everything as it was": the tips are off, and the customer is asked whether to undo that."""

    requires_customer = False

    def name(self) -> str:
        return "action_nevermind"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        changed = consent_changed_just_now(tracker)
        if changed is None or ctx.customer_id is None:
            dispatcher.utter_message(response="utter_ok_nevermind")
            return []
        kind, granted = changed
        response = "utter_undo_opt_in" if granted else "utter_undo_opt_out"
        rendered = render(ctx.responses, response, kind=KIND_NAMES[kind])
        undo = Question("confirm_consent", context={"intent": "opt_out" if granted else "opt_in", "kind": kind})
        return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=undo)
