"""Answering from the help centre: a short passage and the article's link, or "not sure".

``action_answer_help`` reads the customer's latest text, retrieves from the help-centre
index (``supportbot.helpcentre``), answers, and records the question (redacted) so the
console can show what the help centre could not answer. It works the same for anonymous
visitors: help articles are public. It reads no slot and sets none.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.changes import ask_profile_change
from actions.context import ActionContext
from actions.follow_up import points_back, with_topic
from actions.form_flow import is_question
from actions.questions import ANSWER_SLOT, PENDING_SLOT, Question, ask, last_bot_turn
from actions.report_detail import add_detail, next_steps
from actions.resume import ask_again
from actions.wording import render
from supportbot.feedback.redaction import default_redactor, redact_patterns
from supportbot.helpcentre import service
from supportbot.helpcentre.answers import HANDOFF_PAYLOAD, HelpReply
from supportbot.helpcentre.config import get_helpcentre_settings
from supportbot.helpcentre.gaps import record_answer
from supportbot.helpcentre.index import HelpIndexError
from supportbot.language import NAMES as LANGUAGE_NAMES
from supportbot.language import ONLY_ENGLISH, foreign_language
from supportbot.parsing import find_time_zone
from supportbot.store.repo import get_profile

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "I can't reach the help centre right now, sorry. You can browse it at {url}, or I can pass you to a person."
)
NO_QUESTION = "What would you like to know? Ask me in your own words, for example \u201chow do I export my notes?\u201d"


NOT_ENGLISH = (
    "Sorry, I can only chat in English for now, and that looked like {language}. "
    "Shall I pass you to a person from our support team?"
)

LINK_CHANNELS = frozenset({"socketio"})
"""Channels whose client shows a link button (the widget, ``bot/channels/link_buttons.py``);
elsewhere the article's URL in the text is the link."""
OPEN_ARTICLE = "Open the article"
FALLBACK_RESPONSES = {"nlu_fallback": "utter_default", "out_of_scope": "utter_out_of_scope", "inform": "utter_default"}
"""Messages the classifier did not place (or placed outside the assistant's scope) come here
first (data/rules/general.yml): answered when the help centre is sure, otherwise the usual
reply for that intent, not the help centre's "not sure" (a typo or "tell me a joke" is no
content gap)."""


def fallback_reply(dispatcher: CollectingDispatcher, response: str) -> Events:
    """The usual reply to what the classifier could not place. "That's outside what I can help
    with … Want me to get you a person instead?" is a question: a typed "sure" answers it."""
    dispatcher.utter_message(response=response)
    if response != "utter_out_of_scope":
        return []
    offer = Question("offer_person", context={"reason": "asked something outside what the assistant does"})
    return [SlotSet(PENDING_SLOT, offer.to_slot()), SlotSet(ANSWER_SLOT, None)]


def retrieve(question: str, tracker: Tracker, *, verified: bool) -> tuple[HelpReply, NDArray[np.float32]]:
    """The help centre's reply; a short follow-up it is not sure of is asked again in the last
    topic's terms ("can I return it?" right after an order: "can I return my order?")."""
    reply, vector = service.answer_question(question, verified=verified)
    if reply.kind != "answer" and (follow_up := with_topic(question, tracker)) is not None:
        again, again_vector = service.answer_question(follow_up, verified=verified)
        if again.kind == "answer":
            return again, again_vector
    return reply, vector


def unplaced(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    question: str,
    response: str,
) -> Events:
    """What the NLU could not place and the help centre does not answer."""
    # "how much is that?" right after "Switch to Business …?": the change with its terms again
    terms = ask_again(session, ctx, dispatcher, tracker, lead="utter_terms_again")
    if terms is not None:
        return terms
    if (moved := new_time_zone(session, ctx, question)) is not None:
        # "I moved to London": the time zone it implies, as a question to say yes to
        return ask_profile_change(session, ctx, dispatcher, "time_zone", moved)
    if (language := foreign_language(question)) is not None:
        return not_english(dispatcher, language)
    return fallback_reply(dispatcher, response)


_MOVED = re.compile(
    r"\b(?:i|we)(?:'ve|'m|'re| have| am| are| just| now)*\s+(?:moved|relocated|live|living|based|staying|in)\b",
    re.IGNORECASE,
)


def new_time_zone(session: Session, ctx: ActionContext, text: str) -> str | None:
    """The time zone of the place a signed-in customer says they now live in ("I moved to London",
    "I live in Tokyo now"), when it is not the one on file; None otherwise."""
    if ctx.customer_id is None or _MOVED.search(text.replace("\u2019", "'")) is None:
        return None
    zone = find_time_zone(text)
    profile = get_profile(session=session, customer_id=ctx.customer_id) if zone else None
    return zone if profile is not None and profile.time_zone != zone else None


def not_english(dispatcher: CollectingDispatcher, language: str) -> Events:
    """ "Necesito ayuda con mi pedido": said plainly (in that language where we have the sentence)
    that the assistant speaks English, with a person offered as a question a "yes" answers."""
    native = ONLY_ENGLISH.get(language)
    text = NOT_ENGLISH.format(language=LANGUAGE_NAMES[language])
    offer = Question("offer_person", context={"reason": f"wrote in {LANGUAGE_NAMES[language]}"})
    buttons = [{"title": "Talk to a person", "payload": HANDOFF_PAYLOAD}]
    return ask(dispatcher, text=f"{native}\n{text}" if native else text, buttons=buttons, question=offer)


def last_bot_texts(tracker: Tracker) -> set[str]:
    """What the assistant said in its previous turn."""
    return {str(e.get("text") or "") for e in last_bot_turn(tracker) if e.get("event") == "bot"}


def buttons_of(reply: HelpReply, *, channel: str | None = None) -> list[dict[str, str]]:
    """The reply's buttons; on the widget the answer's article also as a link button."""
    buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    if channel in LINK_CHANNELS and reply.kind == "answer" and reply.article_url:
        buttons.insert(0, {"title": OPEN_ARTICLE, "type": "web_url", "url": reply.article_url})
    return buttons


def redact(text: str) -> str:
    """Names (spaCy) and patterns, as feedback is redacted; patterns alone if spaCy cannot load."""
    try:
        return default_redactor().redact(text)
    except (OSError, ImportError):
        logger.exception("redaction model unavailable; storing the question with pattern redaction only")
        return redact_patterns(text)


class ActionHelpMenu(StoreAction):
    """ "What can you do?": the assistant's menu, unless it has just filed a problem report, when
    "what should I do?" asks what happens next with it."""

    requires_customer = False

    def name(self) -> str:
        return "action_help_menu"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if (steps := next_steps(ctx, dispatcher, tracker)) is not None:
            return steps
        dispatcher.utter_message(response="utter_help")
        return []


class ActionAnswerHelp(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_answer_help"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        intent = str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")
        return self.answer(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, intent=intent)

    def answer(
        self,
        *,
        session: Session,
        ctx: ActionContext,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        intent: str,
    ) -> Events:
        """Answer the latest message as if the classifier had read it as ``intent``."""
        question = ctx.latest_text.strip()
        fallback = FALLBACK_RESPONSES.get(intent)
        if not question or question.startswith("/"):
            if fallback:
                return fallback_reply(dispatcher, fallback)
            dispatcher.utter_message(text=NO_QUESTION)
            return []
        if not is_question(question) and (added := add_detail(session, ctx, dispatcher, tracker, question)):
            # "they don't ring on my phone" right after "my reminders aren't working" → P-00024
            return added
        about_report = is_question(question) and points_back(question)
        if about_report and (steps := next_steps(ctx, dispatcher, tracker)) is not None:
            # "how do I fix it?" right after a report and its steps: what happens next with it
            return steps
        try:
            reply, vector = retrieve(question, tracker, verified=ctx.customer_id is not None)
        except HelpIndexError as exc:
            logger.error("help centre unavailable (conversation %s): %s", tracker.sender_id, exc)
            if fallback:
                return fallback_reply(dispatcher, fallback)
            base = get_helpcentre_settings().public_base_url.rstrip("/")
            dispatcher.utter_message(
                text=UNAVAILABLE.format(url=f"{base}/help"),
                buttons=[{"title": "Talk to a person", "payload": HANDOFF_PAYLOAD}],
            )
            return []
        nothing_new = reply.kind != "answer" or reply.text in last_bot_texts(tracker)
        if nothing_new and is_question(question) and (steps := next_steps(ctx, dispatcher, tracker)) is not None:
            return steps  # a question after a report that the help centre has nothing new for
        if fallback and reply.kind != "answer":
            return unplaced(session, ctx, dispatcher, tracker, question=question, response=fallback)
        if reply.kind == "answer" and reply.text in last_bot_texts(tracker):
            # "how long does that take?" after the export steps found the same passage again:
            # the article says no more, and sending it twice would look like an answer.
            rendered = render(ctx.responses, "utter_help_no_more", url=reply.article_url or "")
            unsure = replace(reply, kind="not_sure", text=rendered.text)  # a content gap, as "not sure" is
            self._record(session=session, ctx=ctx, tracker=tracker, question=question, reply=unsure, vector=vector)
            offer = Question("offer_person", context={"reason": "the help article did not answer a follow-up question"})
            return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=offer)
        buttons = buttons_of(reply, channel=ctx.conversation.channel)
        self._record(session=session, ctx=ctx, tracker=tracker, question=question, reply=reply, vector=vector)
        if reply.kind == "not_sure":
            # "Shall I pass you to a person?" is a question: a typed "ok" or "yes please" answers it.
            offer = Question("offer_person", context={"reason": "the help centre could not answer the question"})
            return ask(dispatcher, text=reply.text, buttons=buttons, question=offer)
        dispatcher.utter_message(text=reply.text, buttons=buttons)
        return []

    def _record(
        self,
        *,
        session: Session,
        ctx: ActionContext,
        tracker: Tracker,
        question: str,
        reply: HelpReply,
        vector: NDArray[np.float32],
    ) -> None:
        record(session=session, ctx=ctx, tracker=tracker, question=question, reply=reply, vector=vector)


def record(
    *,
    session: Session,
    ctx: ActionContext,
    tracker: Tracker,
    question: str,
    reply: HelpReply,
    vector: NDArray[np.float32],
) -> None:
    """Keep the question for content gaps; a failure here never costs the customer the answer."""
    retriever = service.get_retriever()
    redacted = redact(question)
    embedding = vector if redacted == question else retriever.encode(redacted)
    try:
        with session.begin_nested():
            record_answer(
                session=session,
                conversation_id=tracker.sender_id,
                customer_id=ctx.customer_id,
                channel=ctx.conversation.channel or "unknown",
                question_redacted=redacted,
                reply=reply,
                embedding=embedding,
                embedding_model=retriever.embedder.name,
            )
    except SQLAlchemyError:
        logger.exception("could not record a help-centre answer (conversation %s)", tracker.sender_id)
