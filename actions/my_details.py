"""What the assistant has on file: "what's my email now?", "what messages do you send me?".

A question about the customer's own details used to land in the flows that *change* them ("what's
my email now?" opened the contact-details form, "what messages do you send me?" asked which
messages to stop). This answers it from the verified profile, the values and which proactive
messages they get, with the two changes as buttons; it changes nothing.
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.helpcentre import ActionAnswerHelp
from actions.preferences import KIND_NAMES
from supportbot.formatting import join_words, profile_value
from supportbot.helpcentre.answers import speaks_of_self
from supportbot.outreach.rules import consent_granted
from supportbot.store.models import OUTREACH_KINDS
from supportbot.store.repo import Profile, get_profile

BUTTONS = [
    {"title": "Change my contact details", "payload": "/update_contact_details"},
    {"title": "Stop some messages", "payload": "/opt_out"},
]


def details_text(profile: Profile) -> str:
    lines = [
        f"Here's what I have on file for you, {profile.first_name}:",
        f"• Name: {profile.full_name}",
        f"• Email: {profile.email}",
        f"• Phone: {profile.phone or 'none on file'}",
        f"• Preferred channel: {profile_value('preferred_channel', profile.preferred_channel)}",
        f"• Time zone: {profile.time_zone}",
        f"• Birthday: {profile_value('birthday', profile.birthday.isoformat()) if profile.birthday else 'not set'}",
    ]
    granted = [KIND_NAMES[k] for k in OUTREACH_KINDS if consent_granted(profile.consents, k)]
    refused = [KIND_NAMES[k] for k in OUTREACH_KINDS if not consent_granted(profile.consents, k)]
    if granted:
        lines.append(f"Messages we may send you: {join_words(granted)}.")
    if refused:
        lines.append(f"Messages you've turned off: {join_words(refused)}.")
    if not granted:
        lines.append("We send you no proactive messages, only answers here.")
    return "\n".join(lines)


_ABOUT_US = re.compile(r"\b(?:your|you guys|lumen'?s?|the company'?s?)\b", re.IGNORECASE)


def asks_about_us(text: str) -> bool:
    """ "What's your phone number?" (Lumen's) rather than "what number do you have for me?"."""
    said = text.replace("\u2019", "'")
    return not said.startswith("/") and _ABOUT_US.search(said) is not None and not speaks_of_self(said)


class ActionShowDetails(StoreAction):
    anonymous_response = "utter_anon_details"
    requires_customer = False  # "what's your phone number?" from a visitor is answered too

    def name(self) -> str:
        return "action_show_details"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if asks_about_us(ctx.latest_text):
            # "what's your phone number?" is about Lumen, not about what Lumen has on file
            return ActionAnswerHelp().perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
        if ctx.customer_id is None:
            dispatcher.utter_message(response=self.anonymous_response)
            return []
        profile = get_profile(session=session, customer_id=ctx.customer_id)
        if profile is None:
            dispatcher.utter_message(response=self.anonymous_response)
            return []
        dispatcher.utter_message(text=details_text(profile), buttons=BUTTONS)
        return []
