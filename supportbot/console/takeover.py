"""What each agent step does in both stores, in an order that never loses a message.

- **claim**: the claim is committed first (one winner among agents clicking at once), then
  Rasa pauses the bot and tells the customer "Ana from support joined"; if Rasa cannot be
  reached the claim is undone, so the conversation is never "assigned" with the bot talking.
- **reply**: Rasa first (stored in the tracker as a bot utterance with the agent in its
  metadata, sent on the customer's channel), then the first reply's time is recorded.
- **hand back**: Rasa resumes the bot (and clears the waiting state) with a short line, then
  the handoff is marked returned; **close**: the same for a claimed conversation, then closed
  with outcome and note (the ``csat_followup`` campaign reads the close).

A failure of Rasa raises :class:`~supportbot.console.relay.RelayError` with nothing changed
in the profile store (claim: undone), so the agent can simply try again.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.conversation_ids import customer_of_conversation, parse_conversation_id
from supportbot.console.relay import ConversationRelay, RelayError
from supportbot.services import handoff as handoffs
from supportbot.services import perks
from supportbot.services.handoff import Handoff, HandoffConflict
from supportbot.services.linking import create_link_code
from supportbot.services.perk_types import PointsPerk
from supportbot.store.models import utcnow

WAITING_SLOT = "handoff_requested"
BOT_NAME = "Lumen"
MAX_REPLY = 2000
"""The widget's own limit for a message (bot/channels/limits.py)."""


def _agent(user_id: int, name: str, event: str) -> dict[str, Any]:
    return {"agent": {"id": user_id, "name": name, "event": event}}


def bot_event(text: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": time.time(), "data": {}, "metadata": metadata or {}}


def joined_events(user_id: int, name: str) -> list[dict[str, Any]]:
    return [
        {"event": "pause", "timestamp": time.time()},
        bot_event(f"{name} from support joined the conversation.", _agent(user_id, name, "joined")),
    ]


def reply_events(user_id: int, name: str, text: str) -> list[dict[str, Any]]:
    return [bot_event(text, _agent(user_id, name, "message"))]


def resume_events(user_id: int | None, name: str, line: str, *, left: bool) -> list[dict[str, Any]]:
    """The bot takes over again: the agent leaves, the waiting state ends, the bot says ``line``."""
    events: list[dict[str, Any]] = []
    if left and user_id is not None:
        events.append(bot_event(f"{name} left the conversation.", _agent(user_id, name, "left")))
    events += [
        {"event": "resume", "timestamp": time.time()},
        {"event": "slot", "name": WAITING_SLOT, "value": None, "timestamp": time.time()},
        bot_event(line, {"handoff": "bot_resumed"}),
    ]
    return events


HAND_BACK_LINE = f"Hi, {BOT_NAME} here again. What else can I help you with? If you need a person again, just say so."
CLOSED_LINE = f"Thanks for your patience. {BOT_NAME} here again: I'm around if you need anything else."
CLOSED_UNCLAIMED_LINE = (
    "Our support team has closed your request. "
    "If you still need a person, just ask again and I'll put you in the queue."
)


class Takeover:
    """The agent steps; one instance per console app (it holds no conversation state)."""

    def __init__(self, *, sessions: sessionmaker[Session], relay: ConversationRelay) -> None:
        self._sessions = sessions
        self._relay = relay

    def _name(self, session: Session, user_id: int) -> str:
        return handoffs.agent_name(session=session, user_id=user_id)

    def claim(self, handoff_id: int, user_id: int) -> Handoff:
        with self._sessions.begin() as session:
            claimed = handoffs.claim(session=session, handoff_id=handoff_id, agent_id=user_id)
            name = self._name(session, user_id)
        try:
            self._relay.append(claimed.conversation_id, joined_events(user_id, name), output_channel=claimed.channel)
        except BaseException:
            with self._sessions.begin() as session:
                handoffs.unclaim(session=session, handoff_id=handoff_id, agent_id=user_id)
            raise
        return claimed

    def reply(self, handoff_id: int, user_id: int, text: str) -> None:
        text = text.strip()
        if not text:
            raise HandoffConflict("write a message first")
        if len(text) > MAX_REPLY:
            raise HandoffConflict(f"the message is too long (at most {MAX_REPLY} characters)")
        with self._sessions() as session:
            current = handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=user_id)
            name = self._name(session, user_id)
        self._relay.append(current.conversation_id, reply_events(user_id, name, text), output_channel=current.channel)
        with self._sessions.begin() as session:
            handoffs.record_reply(session=session, handoff_id=handoff_id, agent_id=user_id)

    def hand_back(self, handoff_id: int, user_id: int) -> Handoff:
        with self._sessions() as session:
            current = handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=user_id)
            name = self._name(session, user_id)
        events = resume_events(user_id, name, HAND_BACK_LINE, left=True)
        self._relay.append(current.conversation_id, events, output_channel=current.channel)
        with self._sessions.begin() as session:
            return handoffs.hand_back(session=session, handoff_id=handoff_id, agent_id=user_id)

    def grant_goodwill(self, handoff_id: int, user_id: int, *, points: int) -> str:
        """Goodwill points for the customer, once per handoff, told to them in the agent's name.

        Granted by ``supportbot.services.perks`` (ledger, exactly once per key) in one
        transaction with the check that this agent has the conversation; the message is sent
        afterwards and says what the grant says. A second click grants nothing and says so.
        """
        with self._sessions.begin() as session:
            current = handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=user_id)
            customer_id = self._customer(session, current)
            granted = perks.grant_perk(
                session=session,
                customer_id=customer_id,
                perk=PointsPerk(points=points),
                grant_key=f"handoff{handoff_id}:goodwill",
                reason=f"goodwill from support (handoff {handoff_id})",
                today=utcnow().date(),
            )
            name = self._name(session, user_id)
        if not granted.new:
            raise HandoffConflict("the goodwill points for this conversation were granted already")
        try:
            self._relay.append(
                current.conversation_id, reply_events(user_id, name, granted.sentence), output_channel=current.channel
            )
        except RelayError as exc:
            raise RelayError(f"the points were granted, but the message did not reach the customer ({exc})") from exc
        return granted.sentence

    def send_link_code(self, handoff_id: int, user_id: int) -> None:
        """A fresh code to link a messaging app, sent into the customer's verified web chat only.

        The agent never sees it: the console masks link codes in every text (``redact``).
        """
        with self._sessions.begin() as session:
            current = handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=user_id)
            if parse_conversation_id(current.conversation_id).kind != "verified":
                raise HandoffConflict("a link code can only be sent into the customer's signed-in website chat")
            code = create_link_code(session=session, customer_id=self._customer(session, current), now=utcnow())
            name = self._name(session, user_id)
        text = f"Here is your code to link your messaging app: {code}. Send it to us there within 15 minutes."
        self._relay.append(current.conversation_id, reply_events(user_id, name, text), output_channel=current.channel)

    @staticmethod
    def _customer(session: Session, handoff: Handoff) -> str:
        customer_id = handoff.customer_id or customer_of_conversation(handoff.conversation_id)
        if customer_id is None:
            raise HandoffConflict("this customer is not verified: nothing can be done on an account")
        return customer_id

    def close(self, handoff_id: int, user_id: int, *, outcome: str, note: str, may_close_others: bool) -> Handoff:
        if outcome not in handoffs.OUTCOMES:
            raise HandoffConflict("choose resolved or not resolved")
        with self._sessions() as session:
            current = handoffs.get_handoff(session=session, handoff_id=handoff_id)
            if current.status == handoffs.CLAIMED and current.assigned_to != user_id and not may_close_others:
                raise HandoffConflict(
                    f"this conversation is assigned to {self._name(session, current.assigned_to or 0)}; "
                    "only they or a lead can close it"
                )
            owner = current.assigned_to
            name = self._name(session, owner) if owner is not None else ""
        if current.status == handoffs.CLAIMED:
            events = resume_events(owner, name, CLOSED_LINE, left=True)
        elif current.status == handoffs.WAITING:
            events = resume_events(None, "", CLOSED_UNCLAIMED_LINE, left=False)
        else:
            events = []  # handed back already: the bot has the conversation
        if events:
            self._relay.append(current.conversation_id, events, output_channel=current.channel)
        with self._sessions.begin() as session:
            return handoffs.close(session=session, handoff_id=handoff_id, agent_id=user_id, outcome=outcome, note=note)


__all__ = ["RelayError", "Takeover"]
