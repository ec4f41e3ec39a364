"""The answer to "Would you like someone from our team to get in touch?" after a low rating.

The form takes a yes or a no (``wants_follow_up``, mapped from the intents in domain.yml). A
customer who has just rated us 2 often answers with the complaint itself instead ("the bot kept
misunderstanding me", "no, but the sync is broken"). Those words are the feedback the next
question would ask for, so they are kept as it rather than dropped: a yes or
no they open with answers the question; otherwise the question is asked once more, after
"Thanks, I've noted that". The open question is then not asked again
(``actions.feedback_submit.ActionSubmitFollowUpOffer``).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.questions import last_bot_buttons, latest_text
from supportbot.buttons import NO_WORDS, YES_WORDS, match_button, words
from supportbot.feedback import answers

FORM = "follow_up_offer_form"
MIN_FEEDBACK_WORDS = 3
"""Fewer words than this after a yes or no ("no thanks", "yes please do") are only the answer."""


def split_answer(text: str) -> tuple[bool | None, str]:
    """(the yes or no the reply opens with, or None; the rest of the reply)."""
    said = text.strip()
    first = said.split(maxsplit=1)
    if not first:
        return None, ""
    head = words(first[0])
    if head and head[0] in ("yes", "no") and first[0].lower().strip(",.!") in (*YES_WORDS, *NO_WORDS):
        rest = first[1].lstrip(" ,.!-–—") if len(first) > 1 else ""
        for filler in ("but ", "though ", "thanks ", "thank you "):
            rest = rest.removeprefix(filler)
        return head[0] == "yes", rest.strip()
    return None, said


class ValidateFollowUpOfferForm(FormValidationAction):
    def name(self) -> str:
        return "validate_follow_up_offer_form"

    def extract_wants_follow_up(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "wants_follow_up":
            return {}
        text = latest_text(tracker)
        if match_button(text, last_bot_buttons(tracker)) is not None:
            return {}  # a tap or a typed button title: the intent mapping has it
        answer, feedback = feedback_in(text)
        if feedback is None:
            return {}
        if answer is None:
            dispatcher.utter_message(response="utter_feedback_noted")
        # Only the form's own slot can be set here (Rasa drops the others a form's validation
        # returns): the feedback itself is read back from the messages (``feedback_given``).
        return {"wants_follow_up": answer}


def feedback_in(text: str) -> tuple[bool | None, str | None]:
    """(the yes or no a reply opens with; the feedback it carries, if it is more than an answer)."""
    if not text or text.startswith("/"):
        return None, None
    answer, rest = split_answer(text)
    feedback = answers.content(rest) or rest
    return answer, feedback if len(words(feedback)) >= MIN_FEEDBACK_WORDS else None


def feedback_given(tracker: Tracker) -> str | None:
    """The feedback the customer wrote while the follow-up offer was open, if any."""
    said: list[str] = []
    for event in reversed(list(tracker.events)):
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            break
        if event.get("event") == "user":
            _, feedback = feedback_in(str(event.get("text") or ""))
            if feedback is not None:
                said.append(feedback)
    return "\n".join(reversed(said)) or None
