"""Changing a birthday, time zone, email address, phone number or preferred channel.

``profile_update_form`` collects the new value (from the opening message if it has one:
"please set my birthday to 14 March 1990"; only the missing part when it is partial:
"March 3" → "which year?"), then the submit action asks "Change your birthday to 14 March
1990?" and records the question (``actions.changes``). Only a yes to that question saves it;
"sorry, I meant 15 March" replaces the value and asks again. The year of a birthday is
required: the store has no way to say "year unknown", and a guessed year would be wrong.

How the form lets go of a customer (leaving, digressions, repeated failures) is in
``actions.form_flow``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction
from actions.changes import ask_profile_change
from actions.context import ActionContext, resolve_customer
from actions.form_flow import (
    DROPPED,
    FAILURES_SLOT,
    GAVE_UP,
    RESET_FORM_STATE,
    RESUME_SLOT,
    failed_just_now,
    failed_try,
    read_reply,
    resuming,
    settled,
)
from actions.help_quotes import QuotesHelpCentre, quote_help, quote_help_in_form, quoted_this_turn
from actions.questions import Question, ask, latest_intent, latest_text
from actions.wording import render
from supportbot.errors import InvalidRequestError
from supportbot.form_replies import strip_correction
from supportbot.formatting import PROFILE_FIELD_NAMES
from supportbot.parsing import (
    BirthdayParts,
    find_birthday,
    find_contact_value,
    find_day,
    find_time_zone,
    find_year,
    parse_contact_update,
)
from supportbot.postal_addresses import mentions_postal_address

FORM = "profile_update_form"
FIELD_NAMES = PROFILE_FIELD_NAMES
UPDATE_INTENTS = {"update_birthday": "birthday", "update_timezone": "time_zone", "update_contact_details": "contact"}
NOT_READ = {
    "birthday": "Sorry, I couldn't find a date in that. Please give your birthday like “14 March 1990”.",
    "time_zone": "I couldn't match that to a time zone. Try a city (“Berlin”) or a zone name (“Europe/Berlin”).",
    "contact": "Please send the new email address or phone number, or say which channel you prefer "
    "(email, SMS, WhatsApp, Telegram or chat).",
}
RESET = [SlotSet("update_field", None), SlotSet("update_value", None), SlotSet("update_partial", None)]
OPENING = "__opening__:"
"""Marks a value found in the message that started (or restarted) the form."""
RESUMED = "__resumed__"
RESTART = "__restart__"
NOT_HERE = "__not_here__"
"""The form let go because the customer wants something it cannot change (a postal address),
and has already said where that is done."""
POSTAL_HELP_QUERY = "how do I change the delivery address of my order"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Reading:
    """What a reply gives the form: a value to save, a birthday still missing its year, or a
    message saying why it could not be read."""

    field: str | None = None
    value: str | None = None
    partial: BirthdayParts | None = None
    problem: str | None = None
    postal: bool = False
    """A postal address where contact details were asked for: not something this form changes."""

    @property
    def is_value(self) -> bool:
        return self.value is not None or self.partial is not None or self.problem is not None or self.postal


def _partial_from_slot(raw: Any) -> BirthdayParts | None:
    if not raw:
        return None
    data = json.loads(str(raw))
    return BirthdayParts(int(data["month"]), int(data["day"]))


def read_value(field: str | None, text: str, *, partial: BirthdayParts | None, opening: bool = False) -> Reading:
    """Read ``text`` as the new value of ``field`` (``contact`` means email, phone or channel)."""
    try:
        if field == "birthday":
            if partial is not None and (year := find_year(text)) is not None:
                full = BirthdayParts(partial.month, partial.day, year)
                return Reading("birthday", full.complete(today=today()).isoformat())
            parts = find_birthday(text, today=today())
            if parts is None:
                return Reading()
            if parts.year is None:
                return Reading(partial=parts)
            return Reading("birthday", parts.complete(today=today()).isoformat())
        if field == "time_zone":
            zone = find_time_zone(text)
            return Reading("time_zone", zone) if zone else Reading()
        if field == "contact":
            found = find_contact_value(text)
            if found is None and not opening:
                try:
                    found = parse_contact_update(text)
                except InvalidRequestError:
                    found = None
            if found:
                return Reading(found[0], found[1])
            return Reading(postal=mentions_postal_address(text))
    except InvalidRequestError as exc:
        return Reading(problem=str(exc))
    return Reading()


def explain_postal_address(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> None:
    """Say that a postal address is changed on the order, with the help centre's article."""
    dispatcher.utter_message(response="utter_postal_address_not_here")
    quote_help_in_form(dispatcher, tracker, domain, text=POSTAL_HELP_QUERY, when="always")


def _value_slot(field: str, value: str) -> str:
    return json.dumps({"field": field, "value": value})


def corrected_value(context: dict[str, Any], text: str) -> tuple[str, str] | None:
    """The (field, value) a correction gives to a pending profile change, if it gives one that
    differs: "sorry, I meant 15 March" keeps the year already given."""
    field, current = str(context.get("field") or ""), str(context.get("value") or "")
    cleaned = strip_correction(text)
    if not cleaned:
        return None
    form_field = "contact" if field in ("email", "phone", "preferred_channel") else field
    partial = None
    if field == "birthday" and current:
        known = dt.date.fromisoformat(current)
        try:
            parts = find_birthday(cleaned, today=today())
        except InvalidRequestError:
            return None
        if parts is None and (day := find_day(cleaned)) is not None:
            parts = BirthdayParts(known.month, day)  # "no wait, it's the 4th": the same month and year
        if parts is not None and parts.year is None:
            partial = BirthdayParts(parts.month, parts.day)
            cleaned = str(known.year)
    reading = read_value(form_field, cleaned, partial=partial)
    if reading.value is None or reading.field is None or (reading.field, reading.value) == (field, current):
        return None
    return reading.field, reading.value


def corrects_value(question: Question, tracker: Tracker) -> bool:
    """Whether the latest message corrects the value a pending profile change quotes."""
    if question.context.get("change") != "profile_update":
        return False
    return corrected_value(question.context, latest_text(tracker)) is not None


def _is_verified(tracker: Tracker) -> bool:
    with runtime.sessions()() as session:
        return resolve_customer(session=session, tracker=tracker) is not None


class ValidateProfileUpdateForm(FormValidationAction):
    def name(self) -> str:
        return "validate_profile_update_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # A visitor who is not verified is not asked for personal data at all:
        # the form ends at once and the submit action explains how to sign in.
        if not await asyncio.to_thread(_is_verified, tracker):
            return []
        return domain_slots

    def extract_update_value(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Whether the message is for this form at all; ``validate_update_value`` reads it.

        (rasa-sdk keeps only the form's own slots from an extract method, so the reading, which
        also sets the partial birthday and the failure count, happens in validation.)"""
        text = latest_text(tracker)
        intent, _ = latest_intent(tracker)
        requested = tracker.get_slot("requested_slot")
        if requested is None or intent in UPDATE_INTENTS:
            # The opening message, or a new start ("actually, change my time zone"): use any value it
            # has; a new start without one asks again from the beginning.
            reading = read_value(tracker.get_slot("update_field"), text, partial=None, opening=True)
            if reading.value is not None or reading.partial is not None or reading.postal:
                return {"update_value": OPENING + text}
            return {"update_value": RESTART} if requested is not None else {}
        if requested != "update_value":
            return {}
        partial = _partial_from_slot(tracker.get_slot("update_partial"))
        reading = read_value(tracker.get_slot("update_field"), strip_correction(text) or text, partial=partial)
        reply = read_reply(tracker, is_value=reading.is_value)
        if reply == "leave":
            return {"update_value": DROPPED}
        if reply == "resume":
            return {"update_value": RESUMED}
        if reply == "digression":
            return {}
        return {"update_value": text}

    async def validate_update_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"update_value": None}  # cleared before the form started: not an answer
        text = str(value)
        field = tracker.get_slot("update_field")
        if text == DROPPED:
            return {**settled("update_value", DROPPED), "update_partial": None}
        if text in (RESUMED, RESTART):
            fresh = {"update_partial": None, FAILURES_SLOT: None} if text == RESTART else {}
            return {"update_value": None, RESUME_SLOT: None, **fresh}
        opening = text.startswith(OPENING)
        text = text.removeprefix(OPENING)
        partial = None if opening else _partial_from_slot(tracker.get_slot("update_partial"))
        reading = read_value(field, strip_correction(text) or text, partial=partial, opening=opening)
        if reading.postal:
            await asyncio.to_thread(explain_postal_address, dispatcher, tracker, dict(domain))
            return {**settled("update_value", NOT_HERE), "update_partial": None}
        if reading.value is not None and reading.field is not None:
            return {**settled("update_value", _value_slot(reading.field, reading.value)), "update_partial": None}
        if reading.partial is not None:
            return {
                "update_value": None,
                "update_partial": json.dumps({"month": reading.partial.month, "day": reading.partial.day}),
                FAILURES_SLOT: None,
                RESUME_SLOT: None,
            }
        quoted = None
        if not opening:
            quoted = await asyncio.to_thread(
                quote_help_in_form, dispatcher, tracker, dict(domain), text=text, when="always"
            )
        if quoted is not None:
            # "what are your opening hours?" or "I forgot my password" in the middle of the form: no
            # value, but a question the help centre is sure about. Answered, not counted as a failed
            # try; the form's question then asks to carry on (ActionAskUpdateValue).
            return {"update_value": None, RESUME_SLOT: None}
        values, gave_up = failed_try(tracker, "update_value")
        if not gave_up:
            if reading.problem:
                message = reading.problem
            elif partial is not None:
                message = "Sorry, I need the year as a number, like 1990."
            else:
                message = NOT_READ.get(str(field), NOT_READ["contact"])
            dispatcher.utter_message(text=message)
        return values


class ActionAskUpdateValue(Action):
    """The form's question: the field's own, "which year?" for a partial birthday, or "shall we
    carry on?" when the form comes back after a digression."""

    def name(self) -> str:
        return "action_ask_update_value"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        field = str(tracker.get_slot("update_field") or "contact")
        partial = _partial_from_slot(tracker.get_slot("update_partial"))
        if resuming(tracker, FORM) or quoted_this_turn(tracker):
            responses = dict(domain.get("responses") or {})
            if partial is not None:
                rendered = render(responses, "utter_resume_birthday_year", day_month=partial.day_and_month())
            else:
                rendered = render(responses, "utter_resume_profile_update", field=FIELD_NAMES[field])
            dispatcher.utter_message(text=rendered.text, buttons=rendered.buttons)
            return [SlotSet(RESUME_SLOT, True)]
        if partial is not None:
            dispatcher.utter_message(response="utter_ask_birthday_year", day_month=partial.day_and_month())
        elif not failed_just_now(tracker):  # after "please send the new email address…", not again
            if latest_intent(tracker)[0] in UPDATE_INTENTS:
                # "how do I change my email?": the article too (in a worker thread, as StoreAction runs)
                await asyncio.to_thread(quote_help_in_form, dispatcher, tracker, dict(domain))
            dispatcher.utter_message(response="utter_ask_update_value")
        return [SlotSet(RESUME_SLOT, None)]


class ActionSubmitProfileUpdate(QuotesHelpCentre, StoreAction):
    """The form is done: ask to confirm the new value, or say why nothing was changed."""

    anonymous_response = "utter_anon_profile"
    requires_customer = False  # a visitor is told how to sign in, or where a postal address is changed

    def name(self) -> str:
        return "action_submit_profile_update"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if ctx.customer_id is None:
            if mentions_postal_address(ctx.latest_text):  # "I put the wrong address on my order": no sign-in needed
                dispatcher.utter_message(response="utter_postal_address_not_here")
                quote_help(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, text=POSTAL_HELP_QUERY)
            else:
                dispatcher.utter_message(response=self.anonymous_response)
            return self.anonymous_events(tracker)
        raw = tracker.get_slot("update_value")
        field = str(tracker.get_slot("update_field") or "contact")
        if raw == DROPPED:
            dispatcher.utter_message(response="utter_profile_left_alone", field=FIELD_NAMES[field])
            if latest_intent(tracker)[0] == "goodbye":
                dispatcher.utter_message(response="utter_goodbye")
            return self.anonymous_events(tracker)
        if raw == NOT_HERE:
            return self.anonymous_events(tracker)
        if raw == GAVE_UP:
            rendered = render(ctx.responses, "utter_form_gave_up", field=FIELD_NAMES[field])
            return [
                *self.anonymous_events(tracker),
                *ask(
                    dispatcher,
                    text=rendered.text,
                    buttons=rendered.buttons,
                    question=Question("retry_form", context={"form": FORM, "field": field}),
                ),
            ]
        if not raw:
            return self.anonymous_events(tracker)
        update = json.loads(str(raw))
        return [
            *self.anonymous_events(tracker),
            *ask_profile_change(session, ctx, dispatcher, update["field"], update["value"]),
        ]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [*RESET, *RESET_FORM_STATE]

    def failure_events(self, tracker: Tracker) -> Events:
        return self.anonymous_events(tracker)
