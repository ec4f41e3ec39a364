"""Conversations driven through the scaled stack, counted at the receiving end.

Each virtual customer holds one REST conversation and sends its turns one after the other, each
with a message id of its own. When a turn fails (a replica was killed under it: nginx answers
502), the client does what a client of ours must: it sends the message again with the same id,
until it is answered. Whether the first attempt was handled, half-way, still running on the other
replica or never began, the channel handles the message once and answers the resend from the
tracker if it was (bot/channels/exactly_once.py). Then every message is in the conversation
exactly once, every answer the client got is the one in the tracker, and the test can say so.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, text

from supportbot.identity import mint_customer_token

TURNS = ("hello", "what plan am I on?", "where is my order?", "how many loyalty points do I have?")
"""Each answered from the profile store (or a greeting by name): no forms, so every turn answers."""

RETRYABLE = {502, 503, 504}
"""What a failed turn may get (nginx when a replica died, our channel when handling failed); any
other status is a bug, not a reason to resend."""
MAX_ATTEMPTS = 120
"""A second apart: a killed replica's conversations are free again within one lease (10 s)."""


@dataclass
class Conversation:
    customer: str
    sender: str
    sent: list[str] = field(default_factory=list)
    answers: list[list[dict[str, Any]]] = field(default_factory=list)
    """Per sent message, the bot messages the client received."""
    failures: list[str] = field(default_factory=list)
    """Per failed attempt: which turn, and what came back."""

    @property
    def conversation_id(self) -> str:
        return f"cust:{self.customer}:{self.sender}"

    def message_id(self, turn: int) -> str:
        return f"{self.sender}-{turn}"

    def request(self, turn: int, token: str) -> dict[str, Any]:
        """The REST channel's body of turn ``turn`` (the same on every resend)."""
        return {
            "sender": self.sender,
            "message": TURNS[turn % len(TURNS)],
            "message_id": self.message_id(turn),
            "metadata": {"customer_token": token},
        }


async def converse(
    base: str,
    conversations: list[Conversation],
    *,
    turns: int,
    secret: str,
    progress: list[int] | None = None,
) -> list[Conversation]:
    """Every conversation sends ``turns`` messages (``TURNS`` in a cycle), all conversations at once;
    a failed turn is sent again, with the same message id, a second later."""
    limits = httpx.Limits(max_connections=len(conversations) + 8, max_keepalive_connections=len(conversations))
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:

        async def one(conversation: Conversation) -> None:
            token = mint_customer_token(customer_id=conversation.customer, secret=secret, ttl_seconds=3600)
            for n in range(turns):
                message, body = TURNS[n % len(TURNS)], conversation.request(n, token)
                for attempt in range(MAX_ATTEMPTS):
                    if attempt:
                        await asyncio.sleep(1)
                    try:
                        response = await client.post(f"{base}/webhooks/rest/webhook", json=body)
                    except httpx.HTTPError as exc:
                        conversation.failures.append(f"turn {n}: {type(exc).__name__}")
                        continue
                    if response.status_code == 200:
                        conversation.sent.append(message)
                        conversation.answers.append(response.json())
                        break
                    assert response.status_code in RETRYABLE, (conversation.conversation_id, n, response.text)
                    conversation.failures.append(f"turn {n}: {response.status_code}")
                else:
                    raise AssertionError(f"{conversation.conversation_id} turn {n} was never answered")
                if progress is not None:
                    progress[0] += 1

        await asyncio.gather(*(one(c) for c in conversations))
    return conversations


def tracker_turns(engine: Engine, conversation_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(user text, the events of its turn up to the next user message) from the tracker store's table."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"), {"s": conversation_id}
        ).all()
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for type_name, data in rows:
        event = json.loads(data)
        if type_name == "user":
            turns.append((str(event.get("text")), []))
        elif turns:
            turns[-1][1].append(event)
    return turns


def user_message_ids(engine: Engine, conversation_id: str) -> list[str | None]:
    """The ``message_id`` of each user event of the conversation, in order."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": conversation_id},
        ).all()
    return [json.loads(data).get("message_id") for (data,) in rows]


def turn_problems(engine: Engine, conversation: Conversation) -> list[str]:
    """Everything wrong with one conversation as the tracker store holds it (nothing, if all is well):
    a message missing, twice or out of order; a turn that did not end in ``action_listen`` before
    the next message (two turns handled at once); a turn with no answer; an answer the client got
    that is not the one in the tracker."""
    turns = tracker_turns(engine, conversation.conversation_id)
    problems = []
    if [t for t, _ in turns] != conversation.sent:
        problems.append(f"{conversation.conversation_id}: messages {[t for t, _ in turns]} != sent {conversation.sent}")
    ids = user_message_ids(engine, conversation.conversation_id)
    if ids != [conversation.message_id(n) for n in range(len(conversation.sent))]:
        problems.append(f"{conversation.conversation_id}: message ids in the tracker {ids}")
    for n, (message, events) in enumerate(turns):
        names = [e.get("event") for e in events]
        if not names or names[-1] != "action" or events[-1].get("name") != "action_listen":
            problems.append(f"{conversation.conversation_id} turn {n} ({message!r}) did not end listening: {names}")
        bot = [e.get("text") for e in events if e.get("event") == "bot"]
        if not bot:
            problems.append(f"{conversation.conversation_id} turn {n} ({message!r}) has no answer")
        received = conversation.answers[n] if n < len(conversation.answers) else []
        if [a.get("text") for a in received] != bot:
            problems.append(f"{conversation.conversation_id} turn {n}: client got {received}, tracker {bot}")
    return problems
