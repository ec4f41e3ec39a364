"""A conversation's events as the transcript page shows them: turns, in order.

Read from Rasa's ``events`` table (``tracker``); a proactive message is the bot turn after its
``EXTERNAL_*`` trigger, and actions, slots and sessions Rasa records for itself
(``action_listen``, ``session_started_metadata``) are left out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from supportbot.console.tracker import (
    FALLBACK_ACTIONS,
    FALLBACK_INTENT,
    HANDOFF_ACTIONS,
    HIDDEN_ACTIONS,
    HIDDEN_SLOTS,
    PROACTIVE_PREFIX,
    events,
    from_epoch,
    load_event,
)


@dataclass
class Turn:
    """One line of a transcript, as the console shows it."""

    kind: str
    """``user``, ``bot``, ``action``, ``slot``, ``loop`` or ``session``."""
    at: dt.datetime
    text: str = ""
    intent: str | None = None
    confidence: float | None = None
    entities: list[tuple[str, str]] = field(default_factory=list)
    name: str | None = None
    value: str | None = None
    channel: str | None = None
    proactive: bool = False
    handoff: bool = False
    fallback: bool = False
    buttons: list[str] = field(default_factory=list)


def _turn(type_name: str, data: dict[str, Any], at: dt.datetime) -> Turn | None:
    if type_name == "user":
        parse = data.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        confidence = (parse.get("intent") or {}).get("confidence")
        proactive = bool(intent and str(intent).startswith(PROACTIVE_PREFIX))
        return Turn(
            kind="user",
            at=at,
            text="" if proactive else str(data.get("text") or ""),
            intent=intent,
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            entities=[(str(x.get("entity")), str(x.get("value"))) for x in parse.get("entities") or []],
            channel=data.get("input_channel"),
            proactive=proactive,
            fallback=intent == FALLBACK_INTENT,
        )
    if type_name == "bot":
        buttons = ((data.get("data") or {}).get("buttons")) or []
        agent = (data.get("metadata") or {}).get("agent")  # a person's message (the inbox, issue 17)
        return Turn(
            kind="bot",
            at=at,
            text=str(data.get("text") or ""),
            buttons=[str(b.get("title")) for b in buttons],
            name=str(agent["name"]) if isinstance(agent, dict) and agent.get("name") else None,
        )
    if type_name == "action":
        name = str(data.get("name") or "")
        if name in HIDDEN_ACTIONS:
            return None
        confidence = data.get("confidence")
        return Turn(
            kind="action",
            at=at,
            name=name,
            value=data.get("policy"),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            handoff=name in HANDOFF_ACTIONS,
            fallback=name in FALLBACK_ACTIONS,
        )
    if type_name == "slot":
        name = str(data.get("name") or "")
        if name in HIDDEN_SLOTS:
            return None
        return Turn(kind="slot", at=at, name=name, value=json.dumps(data.get("value"), ensure_ascii=False))
    if type_name == "active_loop":
        return Turn(kind="loop", at=at, name=str(data.get("name") or "(loop ended)"))
    if type_name == "session_started":
        return Turn(kind="session", at=at)
    return None


def transcript(connection: Connection, sender_id: str) -> list[Turn]:
    """The conversation's events as turns, in order; a proactive message is the bot turn after its trigger."""
    rows = connection.execute(
        select(events.c.type_name, events.c.timestamp, events.c.data)
        .where(events.c.sender_id == sender_id)
        .order_by(events.c.id)
    )
    turns: list[Turn] = []
    proactive_pending = False
    for type_name, timestamp, data in rows:
        turn = _turn(type_name, load_event(data), from_epoch(timestamp))
        if turn is None:
            continue
        if turn.kind == "user":
            proactive_pending = turn.proactive
        elif turn.kind == "bot" and proactive_pending:
            turn.proactive = True
        turns.append(turn)
    return turns
