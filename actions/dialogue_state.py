"""State that expires: what the dialogue remembers between turns, and when it forgets.

Two default hooks of Rasa do the forgetting, so no flow has to remember to:

- ``action_validate_slot_mappings`` runs after *every* customer message, before the dialogue
  policy predicts anything (Rasa's ``action_extract_slots`` calls it). If a question is
  pending (``actions.questions``) and this message answers it, the answer goes into the
  ``answer`` slot; otherwise the customer has moved on, and the question is cleared and its
  recorded account change expires in the store. So a "yes" three messages later answers
  nothing: it meets the rule for a yes with nothing pending.
- ``action_session_start`` begins every conversation session (first message, or after an
  hour of silence) with nothing pending: open questions in the store expire, and the only
  things carried over are the kind of the last proactive message (so "stop these" works)
  and whether the customer is waiting for a person, read again from the store; a conversation a
  person has claimed stays paused (a new session would otherwise resume the bot).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import runtime
from actions.base import Events
from actions.profile_form import corrects_value
from actions.questions import ANSWER_SLOT, answer_to, asked_in_last_turn, forget, pending
from actions.resume import INTERRUPTED_SLOT, interruption, keeps_interruption
from supportbot.services.confirmations import expire_pending
from supportbot.services.handoff import CLAIMED, conversation_handoff
from supportbot.services.support import open_handoff

logger = logging.getLogger(__name__)

CARRIED_OVER = ("last_outreach_kind",)
"""Slots a new session keeps; everything else starts empty."""
WAITING_SLOT = "handoff_requested"


def _expire(conversation_id: str, reason: str) -> None:
    try:
        with runtime.sessions().begin() as session:
            expire_pending(session=session, conversation_id=conversation_id, reason=reason)
    except SQLAlchemyError:
        # The question is cleared from the dialogue either way, and a stale row can never be
        # confirmed (only the newest pending question of the conversation can, within its TTL).
        logger.exception("could not expire the open questions of %s", tracker_id_safe(conversation_id))


def tracker_id_safe(conversation_id: str) -> str:
    return conversation_id[:80]


class ValidateSlotMappings(Action):
    """After every message: an answer to the question just asked, or the question is dropped."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        question = pending(tracker)
        events: Events = []
        just_asked = question is not None and asked_in_last_turn(tracker)
        # An account change interrupted by a question is remembered for a yes that follows (actions.resume).
        interrupted = interruption(question, tracker) if just_asked else None
        if interrupted is None and tracker.get_slot(INTERRUPTED_SLOT) and not keeps_interruption(tracker):
            events.append(SlotSet(INTERRUPTED_SLOT, None))
        if question is not None and not tracker.active_loop.get("name") and just_asked:
            answer = answer_to(question, tracker, corrects=corrects_value)
            if answer is not None:
                forgotten = [SlotSet(INTERRUPTED_SLOT, None)] if tracker.get_slot(INTERRUPTED_SLOT) else []
                return [SlotSet(ANSWER_SLOT, answer), *forgotten]
        if question is not None:
            if question.request_id is not None:
                await asyncio.to_thread(_expire, tracker.sender_id, "the customer moved on to something else")
            events += forget()
        elif tracker.get_slot(ANSWER_SLOT) is not None:
            events.append(SlotSet(ANSWER_SLOT, None))
        if interrupted is not None:
            events.append(SlotSet(INTERRUPTED_SLOT, interrupted))
        return events


class ActionSessionStart(Action):
    """A new session starts with nothing pending; waiting for a person is read from the store."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        return await asyncio.to_thread(self._start, tracker)

    def _start(self, tracker: Tracker) -> Events:
        try:
            with runtime.sessions().begin() as session:
                expire_pending(
                    session=session, conversation_id=tracker.sender_id, reason="a new conversation session began"
                )
                waiting = open_handoff(session=session, conversation_id=tracker.sender_id) is not None
                handoff = conversation_handoff(session=session, conversation_id=tracker.sender_id)
                with_person = handoff is not None and handoff.status == CLAIMED
        except SQLAlchemyError:
            # Never leave a conversation without its session start, even with the store down: the
            # open questions are void anyway (their slot is not carried over).
            logger.exception("session start of %s without the profile store", tracker_id_safe(tracker.sender_id))
            waiting = bool(tracker.get_slot(WAITING_SLOT))
            with_person = bool(tracker.is_paused())
        carried: list[dict[str, Any]] = [
            SlotSet(name, tracker.get_slot(name)) for name in CARRIED_OVER if tracker.get_slot(name) is not None
        ]
        if waiting:
            carried.append(SlotSet(WAITING_SLOT, True))
        # A new session resets Rasa's pause; a person who has the conversation keeps it (issue 17).
        paused = [ConversationPaused()] if with_person else []
        return [SessionStarted(), *paused, *carried, ActionExecuted("action_listen")]
