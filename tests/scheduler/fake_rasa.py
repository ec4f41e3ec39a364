"""Rasa's conversations API as an ``httpx.MockTransport``, for delivery tests without a Rasa process.

It keeps a tracker per conversation the way Rasa does (an external user event
per trigger, then the bot message action_deliver_outreach rendered, with the
``outbox_id`` in its metadata), so the delivery code's crash recovery can be
checked against what "Rasa" received. The real servers are exercised by the e2e tests.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any
from urllib.parse import unquote

import httpx


class Crash(BaseException):
    """Stands in for SIGKILL: nothing in the delivery code catches it."""


class FakeRasa:
    def __init__(self, *, token: str = "t0ken") -> None:
        self.token = token
        self.mode = "up"
        """``up``, ``down`` (connection refused), ``error`` (HTTP 500), ``missing`` (HTTP 404),
        ``lost-response`` (message rendered and saved, then the caller dies), ``crash-before`` (caller
        dies first), ``actions-down`` (HTTP 200, the external event saved, but no message rendered:
        what Rasa does when its action server is unreachable)."""
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.triggers: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.tracker_reads = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def shown(self, outbox_id: int) -> int:
        """How many rendered bot messages carry this outbox id, over all conversations."""
        return sum(
            1
            for events in self.events.values()
            for e in events
            if e["event"] == "bot" and e["metadata"].get("outbox_id") == str(outbox_id)
        )

    def delivered(self, outbox_id: int) -> int:
        """How many external user events carry this outbox id, over all conversations."""
        return sum(
            1
            for events in self.events.values()
            for e in events
            if e["event"] == "user"
            and any(x["entity"] == "outbox_id" and x["value"] == str(outbox_id) for x in e["parse_data"]["entities"])
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.params.get("token") != self.token:
            return httpx.Response(401, json={"message": "bad token"})
        path = unquote(request.url.path)
        conversation = path.split("/")[2]
        if request.method == "GET" and path.endswith("/tracker"):
            self.tracker_reads += 1
            if self.mode == "error":
                return httpx.Response(500, json={"message": "boom"})
            return httpx.Response(200, json={"sender_id": conversation, "events": self.events[conversation]})
        body = json.loads(request.content)
        if self.mode == "crash-before":
            raise Crash()
        if self.mode == "error":
            return httpx.Response(500, json={"message": "boom"})
        if self.mode == "missing":
            return httpx.Response(404, json={"message": "intent not in domain"})
        self.triggers.append((conversation, body, dict(request.url.params)))
        entities = [{"entity": k, "value": v} for k, v in body["entities"].items()]
        self.events[conversation].append(
            {
                "event": "user",
                "text": f"EXTERNAL: {body['name']}",
                "parse_data": {"intent": {"name": body["name"]}, "entities": entities},
            }
        )
        if self.mode != "actions-down":
            self.events[conversation].append(
                {"event": "bot", "text": "rendered", "metadata": {"outbox_id": body["entities"]["outbox_id"]}}
            )
        if self.mode == "lost-response":
            raise Crash()
        return httpx.Response(200, json={"tracker": {"events": self.events[conversation]}})
