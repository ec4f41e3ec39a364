"""Past conversations for the demo, as Rasa 3.6's SQL tracker store keeps them.

Why written, not replayed: replaying two years of conversations through a running Rasa at
``make run`` would take many minutes on two cores, would need the model trained first, and every
event would carry the moment of the replay, not the day it is meant to have happened; Rasa's HTTP
API cannot back-date events. So the demo writes the ``events`` rows itself, in the shapes Rasa
writes them (copied from a tracker store Rasa made: a ``session_started_metadata`` slot,
``action_session_start``, ``session_started``, ``action_listen``, ``user`` with its ``parse_data``,
``user_featurization``, the policy's action, ``bot`` with the response name and its variables in
the metadata...), with the bot's words rendered from ``domain.yml`` the way the action server
renders them (``actions.wording``'s rule: ``{name}`` filled, the first variation unless one is
chosen). ``tests/unit/test_demo_history.py`` checks every intent, action and response against the
domain and every rendered text against its response, so the history cannot drift from the real
dialogue. Deterministic: no clock, no random ids (message ids count up).

The table is created with Rasa's own DDL when it is missing, so Rasa finds it and appends to it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, inspect, text

from supportbot.settings import PROJECT_ROOT

RASA_EVENTS_DDL = (
    "CREATE TABLE events (id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
    "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))",
    "CREATE INDEX ix_events_sender_id ON events (sender_id)",
)
"""What Rasa 3.6's ``SQLTrackerStore`` creates on SQLite (read from a tracker.db it made)."""
MODEL_META = {"model_id": "0d3e9a5c1f7b4e2a9c6d8b1e4f7a2c5d", "assistant_id": "lumen-support"}
"""Rasa stamps every event with the model that handled it; the demo's events name one fixed model."""
DOMAIN_PATH = PROJECT_ROOT / "domain.yml"
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@cache
def domain(path: Path = DOMAIN_PATH) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def fill(template: str, values: dict[str, Any]) -> str:
    """Rasa's placeholder rule (``actions.wording.fill``): a known ``{name}`` is replaced, others are kept."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def response(name: str, /, variation: int = 0, **values: Any) -> tuple[str, list[dict[str, str]]]:
    """(text, buttons) of a response from ``domain.yml``, filled with ``values``."""
    variations = domain()["responses"][name]
    chosen = variations[variation % len(variations)]
    buttons = [
        {"title": fill(str(b["title"]), values), "payload": str(b["payload"])} for b in chosen.get("buttons") or []
    ]
    return fill(str(chosen["text"]), values), buttons


def ensure_events_table(engine: Engine) -> None:
    if inspect(engine).has_table("events"):
        return
    with engine.begin() as connection:
        for statement in RASA_EVENTS_DDL:
            connection.execute(text(statement))


@dataclass
class Conversation:
    """One conversation's events, appended in order; each event moves the clock on a little."""

    sender_id: str
    channel: str | None
    verified: bool
    at: dt.datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0

    def _add(
        self, data: dict[str, Any], *, seconds: float, intent: str | None = None, action: str | None = None
    ) -> None:
        self.at += dt.timedelta(seconds=seconds)
        ts = self.at.timestamp()
        metadata = {**data.pop("metadata", {}), **MODEL_META}
        event = {"event": data.pop("event"), "timestamp": ts, "metadata": metadata, **data}
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": event["event"],
                "timestamp": ts,
                "intent_name": intent,
                "action_name": action,
                "data": json.dumps(event),
            }
        )

    def _action(self, name: str, *, policy: str | None, confidence: float | None, seconds: float, hide: bool) -> None:
        self._add(
            {
                "event": "action",
                "name": name,
                "policy": policy,
                "confidence": confidence,
                "action_text": None,
                "hide_rule_turn": hide,
            },
            seconds=seconds,
            action=name,
        )

    def start_session(self) -> Conversation:
        self.slot("session_started_metadata", {"verified": self.verified}, seconds=0.0)
        self._action("action_session_start", policy=None, confidence=1.0, seconds=0.001, hide=False)
        self._add({"event": "session_started"}, seconds=0.001)
        self._action("action_listen", policy=None, confidence=None, seconds=0.001, hide=False)
        return self

    def user(
        self,
        message: str,
        intent: str,
        confidence: float,
        *,
        entities: list[dict[str, Any]] | None = None,
        seconds: float = 20.0,
    ) -> Conversation:
        self.messages += 1
        message_id = f"{abs(hash_text(self.sender_id)) % 10**8:08d}{self.messages:04d}"
        meta = {"verified": self.verified}
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "text": message,
            "message_id": message_id,
            "metadata": meta,
            "intent_ranking": [{"name": intent, "confidence": confidence}],
        }
        self._add(
            {
                "event": "user",
                "metadata": dict(meta),
                "text": message,
                "parse_data": parse,
                "input_channel": self.channel,
                "message_id": message_id,
            },
            seconds=seconds,
            intent=intent,
        )
        self._add({"event": "user_featurization", "use_text_for_featurization": False}, seconds=0.25)
        return self

    def external(self, intent: str, outbox_id: int) -> Conversation:
        """What ``POST /conversations/<id>/trigger_intent`` leaves in the tracker."""
        parse = {
            "intent": {"name": intent},
            "entities": [{"entity": "outbox_id", "value": str(outbox_id)}],
            "text": f"EXTERNAL: {intent}",
            "message_id": None,
            "metadata": {"is_external": True},
        }
        self._add(
            {
                "event": "user",
                "metadata": {"is_external": True},
                "text": f"EXTERNAL: {intent}",
                "parse_data": parse,
                "input_channel": None,
                "message_id": None,
            },
            seconds=0.001,
            intent=intent,
        )
        self._add({"event": "user_featurization", "use_text_for_featurization": False}, seconds=0.02)
        return self

    def action(self, name: str, *, hide: bool = False) -> Conversation:
        self._action(name, policy="RulePolicy", confidence=1.0, seconds=0.03, hide=hide)
        return self

    def listen(self, *, hide: bool = False) -> Conversation:
        self._action("action_listen", policy="RulePolicy", confidence=1.0, seconds=0.002, hide=hide)
        return self

    def say(
        self,
        name: str,
        /,
        *,
        variation: int = 0,
        extra_buttons: list[dict[str, str]] | None = None,
        metadata: dict[str, Any] | None = None,
        **values: Any,
    ) -> Conversation:
        """A bot message from response ``name`` (the metadata names it, as Rasa's does)."""
        words, buttons = response(name, variation, **values)
        meta = {"utter_action": name, "template": name, **{k: v for k, v in values.items()}, **(metadata or {})}
        return self._bot(words, buttons + (extra_buttons or []), meta)

    def say_text(self, words: str, *, buttons: list[dict[str, str]] | None = None) -> Conversation:
        """A bot message an action composed itself (an order's status, a consent question rendered by
        ``actions.wording``): Rasa records no response name for it."""
        return self._bot(words, buttons or [], {})

    def _bot(self, words: str, buttons: list[dict[str, str]], metadata: dict[str, Any]) -> Conversation:
        data = {
            "elements": None,
            "quick_replies": None,
            "buttons": buttons or None,
            "attachment": None,
            "image": None,
            "custom": None,
        }
        self._add({"event": "bot", "metadata": metadata, "text": words, "data": data}, seconds=0.01)
        return self

    def shift(self, seconds: float) -> None:
        """Move every event later by ``seconds`` (to keep one conversation id's sessions apart)."""
        for row in self.rows:
            event = json.loads(row["data"])
            event["timestamp"] = row["timestamp"] = row["timestamp"] + seconds
            row["data"] = json.dumps(event)
        self.at += dt.timedelta(seconds=seconds)

    def slot(self, name: str, value: Any, *, seconds: float = 0.001) -> Conversation:
        self._add({"event": "slot", "name": name, "value": value}, seconds=seconds, action=name)
        return self

    def loop(self, name: str | None) -> Conversation:
        self._add({"event": "active_loop", "name": name}, seconds=0.001, action=name)
        return self


def hash_text(value: str) -> int:
    """A stable hash (Python's ``hash`` of a str changes with every process)."""
    result = 0
    for char in value:
        result = (result * 131 + ord(char)) % (2**61 - 1)
    return result


def write(engine: Engine, conversations: list[Conversation]) -> int:
    """Insert every conversation's events, conversation after conversation (ids in that order)."""
    ensure_events_table(engine)
    rows = [row for conversation in conversations for row in conversation.rows]
    if not rows:
        return 0
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
            ),
            rows,
        )
    return len(rows)
