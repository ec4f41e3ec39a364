"""Conversations driven through the scaled stack, counted at the receiving end.

Each virtual customer holds one REST conversation and sends its turns one after the other.
When a turn fails (a replica was killed under it: nginx answers 502), the client does what a
careful client must: it waits until no replica can still be handling the turn (the
conversation's lock is free: no live ticket in the lock store, which this client only reads),
looks at the conversation and sends the message again only if it is not there. Then every
message is in the conversation exactly once, and the test can say so.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine, text

from supportbot.identity import mint_customer_token

TURNS = ("hello", "what plan am I on?", "where is my order?", "how many loyalty points do I have?")
"""Each answered from the profile store (or a greeting by name): no forms, so every turn answers."""


@dataclass
class Conversation:
    customer: str
    sender: str
    sent: list[str] = field(default_factory=list)
    answers: list[list[dict[str, Any]]] = field(default_factory=list)
    """Per sent message, the bot messages the client received (empty: the answer was lost)."""
    failures: int = 0
    resent: int = 0
    found_in_tracker: int = 0

    @property
    def conversation_id(self) -> str:
        return f"cust:{self.customer}:{self.sender}"


LOCK_PREFIX = "lumen:lock:"
"""``bot.lock_store.RedisTicketLockStore``'s default key prefix (that module runs in the Rasa env)."""


async def _lock_is_free(locks: aioredis.Redis, conversation_id: str) -> bool:
    """No live ticket for the conversation: nobody handles or waits to handle one of its turns
    (a ticket of a killed replica counts until its lease has run out)."""
    base = LOCK_PREFIX + conversation_id
    tokens = await locks.zrange(base + ":q", 0, -1)
    if not tokens:
        return True
    seconds, micros = await locks.time()
    now_ms = seconds * 1000 + micros // 1000
    expiries = await locks.hmget(base + ":e", tokens)
    return all(e is None or int(e) < now_ms for e in expiries)


async def _user_texts_when_idle(
    client: httpx.AsyncClient, locks: aioredis.Redis, base: str, conversation_id: str, token: str
) -> list[str]:
    """The conversation's user messages once its lock is free (so no replica is still on a turn)."""
    for _ in range(180):
        try:
            if await _lock_is_free(locks, conversation_id):
                response = await client.get(
                    f"{base}/conversations/{quote(conversation_id, safe='')}/tracker",
                    params={"token": token, "include_events": "ALL"},
                )
                if response.status_code == 200:
                    return [e.get("text") for e in response.json()["events"] if e.get("event") == "user"]
        except (httpx.HTTPError, redis.RedisError):
            pass
        await asyncio.sleep(1)
    raise AssertionError(f"could not read {conversation_id} with its lock free")


async def converse(
    base: str,
    conversations: list[Conversation],
    *,
    turns: int,
    secret: str,
    api_token: str,
    locks_url: str,
    progress: list[int] | None = None,
) -> list[Conversation]:
    """Every conversation sends ``turns`` messages (``TURNS`` in a cycle), all conversations at once.
    ``locks_url``: the lock store's Redis, watched (never written) after a failed turn."""
    limits = httpx.Limits(max_connections=len(conversations) + 8, max_keepalive_connections=len(conversations))
    locks = aioredis.Redis.from_url(locks_url)
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:

        async def one(conversation: Conversation) -> None:
            token = mint_customer_token(customer_id=conversation.customer, secret=secret, ttl_seconds=3600)
            for n in range(turns):
                message = TURNS[n % len(TURNS)]
                while True:
                    try:
                        response = await client.post(
                            f"{base}/webhooks/rest/webhook",
                            json={
                                "sender": conversation.sender,
                                "message": message,
                                "metadata": {"customer_token": token},
                            },
                        )
                        if response.status_code == 200:
                            conversation.sent.append(message)
                            conversation.answers.append(response.json())
                            break
                    except httpx.HTTPError:
                        pass
                    conversation.failures += 1
                    recorded = await _user_texts_when_idle(client, locks, base, conversation.conversation_id, api_token)
                    if len(recorded) == len(conversation.sent) + 1:  # handled; only the answer was lost
                        conversation.sent.append(message)
                        conversation.answers.append([])
                        conversation.found_in_tracker += 1
                        break
                    conversation.resent += 1
                if progress is not None:
                    progress[0] += 1

        await asyncio.gather(*(one(c) for c in conversations))
    await locks.aclose()
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


def turn_problems(
    engine: Engine, conversation: Conversation, *, twice_after_resend: list[str] | None = None
) -> list[str]:
    """Everything wrong with one conversation as the tracker store holds it (nothing, if all is well):
    a message missing, twice or out of order; a turn that did not end in ``action_listen`` before
    the next message (two turns handled at once); a turn with no answer; an answer the client got
    that is not the one in the tracker.

    ``twice_after_resend``: a message the client resent after its request failed may be in the
    tracker twice, one right after the other, at most once per resend (a replica killed while
    handling it); the earlier of the two is taken out and listed there instead of counted as a
    problem. This
    is the known limit of the kill -9 test (docs/DEPLOYMENT.md): at least once, not exactly once."""
    turns = tracker_turns(engine, conversation.conversation_id)
    if twice_after_resend is not None:
        allowed, kept = conversation.resent, []
        for message, events in turns:
            if allowed and kept and kept[-1][0] == message and message in conversation.sent:
                allowed -= 1
                twice_after_resend.append(f"{conversation.conversation_id}: {message!r}")
                kept[-1] = (message, events)  # the resent one is the turn the client was answered by
                continue
            kept.append((message, events))
        turns = kept
    problems = []
    if [t for t, _ in turns] != conversation.sent:
        problems.append(f"{conversation.conversation_id}: messages {[t for t, _ in turns]} != sent {conversation.sent}")
    for n, (message, events) in enumerate(turns):
        names = [e.get("event") for e in events]
        if not names or names[-1] != "action" or events[-1].get("name") != "action_listen":
            problems.append(f"{conversation.conversation_id} turn {n} ({message!r}) did not end listening: {names}")
        bot = [e.get("text") for e in events if e.get("event") == "bot"]
        if not bot:
            problems.append(f"{conversation.conversation_id} turn {n} ({message!r}) has no answer")
        received = conversation.answers[n] if n < len(conversation.answers) else []
        if received and [a.get("text") for a in received] != bot:
            problems.append(f"{conversation.conversation_id} turn {n}: client got {received}, tracker {bot}")
    return problems
