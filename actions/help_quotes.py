"""The help centre's answer beside a flow's own: a how-to question that lands in a request flow.

"How do I cancel my subscription" is classified as a request to cancel, and "my pen won't
pair" as a problem report: the flow does the thing (the retention offer, the report) and the
customer, who asked *how*, also gets the article, when retrieval is sure (the same rule and
threshold as ``action_answer_help``). The quote comes first, so the flow's own message, often
a question with buttons, stays the last one and its buttons stay the ones a typed reply
answers (a link button has no payload and answers nothing, ``supportbot.buttons``).

What a quote never does: change anything (the flow's confirmation rules are untouched), say
"not sure" (the flow answers; a request is no content gap), offer the article's account step
(the flow *is* the account step), or repeat an article this conversation was given in the
last half hour. It is recorded like any help answer, so a handoff or a low rating after it
marks a content gap. Any failure is logged and the flow goes on without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, ClassVar, Literal

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import runtime
from actions.context import ActionContext
from actions.helpcentre import OPEN_ARTICLE, buttons_of, record
from supportbot.helpcentre import service
from supportbot.helpcentre.answers import HelpReply, how_to_part
from supportbot.helpcentre.models import HelpAnswer
from supportbot.store.models import utcnow

logger = logging.getLogger(__name__)

LEAD_IN = "From the help centre:"
REPEAT_WINDOW = dt.timedelta(minutes=30)
"""An article quoted (or answered) this recently in the conversation is not quoted again."""

When = Literal["how_to", "always"]


def quote_help(
    *,
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    text: str,
    when: When = "how_to",
) -> HelpReply | None:
    """Quote the help centre for ``text`` if it is sure (and, for ``how_to``, if ``text`` asks how
    or what the policy is); returns the reply quoted, or None."""
    text = text.strip()
    if not text or text.startswith("/"):
        return None
    if when == "how_to":
        # Only the clause that asks how: "how many points do I have and what can I get with them?"
        part = how_to_part(text)
        if part is None:
            return None
        text = part
    try:
        # No account step: the flow that follows is that step ("For your own account…" would dangle).
        reply, vector = service.answer_question(text, verified=ctx.customer_id is not None, account_step=False)
    except Exception:  # the quote is extra: a missing index or model must not cost the flow
        logger.exception("no help-centre quote for conversation %s", tracker.sender_id)
        return None
    if reply.kind != "answer" or reply.article_slug is None:
        return None
    if recently_given(session, tracker.sender_id, reply.article_slug):
        return None
    quoted = HelpReply(
        kind="answer",
        text=f"{LEAD_IN}\n{reply.text}",
        article_slug=reply.article_slug,
        offered=reply.offered,
        cosine=reply.cosine,
        article_url=reply.article_url,
    )
    buttons = [b for b in buttons_of(quoted, channel=ctx.conversation.channel) if b.get("title") == OPEN_ARTICLE]
    dispatcher.utter_message(text=quoted.text, buttons=buttons)
    try:
        record(session=session, ctx=ctx, tracker=tracker, question=text, reply=quoted, vector=vector)
    except Exception:  # as above: recording the quote must not cost the customer the flow
        logger.exception("help-centre quote not recorded (conversation %s)", tracker.sender_id)
    return quoted


def recently_given(session: Session, conversation_id: str, slug: str) -> bool:
    since = utcnow() - REPEAT_WINDOW
    row = session.scalar(
        select(HelpAnswer.id)
        .where(HelpAnswer.conversation_id == conversation_id)
        .where(HelpAnswer.article_slug == slug)
        .where(HelpAnswer.outcome == "answered")
        .where(HelpAnswer.created_at >= since)
        .limit(1)
    )
    return row is not None


def quote_help_in_form(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: dict[str, Any],
    *,
    text: str | None = None,
    when: When = "how_to",
) -> HelpReply | None:
    """For a form's question (a plain ``Action``, outside any ``StoreAction``): quote the help
    centre for ``text`` (by default the message that opened the form, if it asks how), in a
    transaction of its own; returns the reply quoted, or None."""
    try:
        with runtime.sessions().begin() as session:
            ctx = ActionContext.build(session=session, tracker=tracker, domain=domain)
            query = ctx.latest_text if text is None else text
            return quote_help(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, text=query, when=when)
    except SQLAlchemyError:
        logger.exception("no help-centre quote for conversation %s", tracker.sender_id)
        return None


def quoted_this_turn(tracker: Tracker) -> bool:
    """Whether the assistant has quoted the help centre since the customer's latest message."""
    for event in reversed(list(tracker.events)):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and str(event.get("text") or "").startswith(LEAD_IN):
            return True
    return False


class QuotesHelpCentre:
    """Mixin for a ``StoreAction`` whose flow a how-to question can land in: its ``preface``
    quotes the help centre before the flow answers (for a visitor, before the sign-in answer)."""

    help_quote_when: ClassVar[When] = "how_to"

    def help_query(self, ctx: ActionContext, tracker: Tracker) -> str:
        """What to look up: the customer's latest message, unless the flow says otherwise."""
        return ctx.latest_text

    def preface(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> None:
        quote_help(
            session=session,
            ctx=ctx,
            dispatcher=dispatcher,
            tracker=tracker,
            text=self.help_query(ctx, tracker),
            when=self.help_quote_when,
        )
