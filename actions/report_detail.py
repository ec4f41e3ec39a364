"""More detail right after a problem report: added to that report, not filed again or lost.

"My reminders aren't working" → P-00024 and "Would you like to talk to a person now?"; the next
message, "they don't ring on my phone", is more about the same problem. Whichever flow that message
lands in (the problem form for another report, the help centre for a how-to reading), it is added
to P-00024 (``supportbot.services.support.add_to_problem_report``: the report the last turn filed,
still open, in this conversation), so the support team reads it with the rest. A question
instead ("how do I fix it?", "what should I do?") is answered: by the help centre when it has
something not yet sent, otherwise with what happens next (``next_steps``).
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events
from actions.context import ActionContext
from actions.questions import PENDING_SLOT, Question, ask, last_bot_turn, set_in_last_turn
from actions.wording import render
from supportbot.services.support import add_to_problem_report


def report_just_filed(tracker: Tracker) -> int | None:
    """The problem report the assistant filed in its last turn (its "talk to a person?" question
    names it), which the customer's next message may add detail to."""
    question = Question.from_slot(set_in_last_turn(tracker, PENDING_SLOT))
    if question is None or question.kind != "offer_person" or "ticket" not in question.context:
        return None
    try:
        return int(question.context["ticket"])
    except (TypeError, ValueError):
        return None


def ask_about_report(ctx: ActionContext, dispatcher: CollectingDispatcher, *, ticket: int, response: str) -> Events:
    """ "Thanks, I've logged it as P-00024 … Would you like to talk to a person now?" (or "added")."""
    rendered = render(ctx.responses, response, ticket=f"P-{ticket:05d}")
    offer = Question("offer_person", context={"ticket": ticket})
    return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=offer)


def add_detail(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker, detail: str
) -> Events | None:
    """Add ``detail`` to the report filed in the last turn and say so; None when there is none."""
    ticket = report_just_filed(tracker)
    if ticket is None or not add_to_problem_report(
        session=session, ticket=ticket, conversation_id=ctx.conversation.conversation_id, detail=detail
    ):
        return None
    return ask_about_report(ctx, dispatcher, ticket=ticket, response="utter_problem_added")


HELP_ARTICLE_QUOTED = re.compile(r"More in \u201c[^\u201d]+\u201d")


def steps_were_quoted(tracker: Tracker) -> bool:
    """Whether the report's turn also quoted the help centre's steps for the problem."""
    return any(
        e.get("event") == "bot" and HELP_ARTICLE_QUOTED.search(str(e.get("text") or "")) for e in last_bot_turn(tracker)
    )


def next_steps(ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events | None:
    """ "How do I fix it?" / "what should I do?" right after a report: what happens next with it
    (the steps just quoted, then the support team with its reference), the person offered again.
    None when the last turn filed no report."""
    ticket = report_just_filed(tracker)
    if ticket is None:
        return None
    response = "utter_problem_next_steps" if steps_were_quoted(tracker) else "utter_problem_with_team"
    return ask_about_report(ctx, dispatcher, ticket=ticket, response=response)
