"""The scheduler's client for Rasa's HTTP API: trigger an intent, read a tracker.

httpx with explicit per-phase timeouts and an injectable transport (tests pass
``httpx.MockTransport``). Errors are sorted by what they mean for exactly-once
delivery, which is all the caller needs to decide:

DeliveryError (supportbot.errors.SupportBotError)
├── RasaUnreachable   no connection was made: the message certainly did not arrive
├── RasaUncertain     the request may have reached Rasa (timeout, reset, 5xx):
│                     verify in the tracker before sending again
├── RasaRejected      Rasa refused the request (4xx): sending it again will not help
│   └── RasaAuthError 401/403: RASA_API_TOKEN is wrong; every row would fail alike
└── NotRendered       Rasa answered 200 but its tracker holds no message rendered for the row
                      (action server down or failing: Rasa stores the external event anyway)

Proof that a message went out is the conversation's own record: a bot event whose
metadata carries the row's ``outbox_id`` (action_deliver_outreach puts it there),
never an HTTP 200 alone.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from supportbot.errors import SupportBotError
from supportbot.outreach.config import Timeouts


class DeliveryError(SupportBotError):
    pass


class RasaUnreachable(DeliveryError):
    pass


class RasaUncertain(DeliveryError):
    pass


class RasaRejected(DeliveryError):
    pass


class RasaAuthError(RasaRejected):
    pass


class NotRendered(DeliveryError):
    pass


def has_outbox_event(tracker: dict[str, Any], *, intent: str, outbox_id: int) -> bool:
    """Whether a tracker holds an external user event that triggered outbox row ``outbox_id``.

    Only that Rasa *received* the trigger: the action may have failed after it.
    """
    wanted = str(outbox_id)
    for event in tracker.get("events") or []:
        if event.get("event") != "user":
            continue
        parse_data = event.get("parse_data") or {}
        if (parse_data.get("intent") or {}).get("name") != intent:
            continue
        for entity in parse_data.get("entities") or []:
            if entity.get("entity") == "outbox_id" and str(entity.get("value")) == wanted:
                return True
    return False


def has_rendered_message(events: list[dict[str, Any]] | None, *, outbox_id: int) -> bool:
    """Whether ``events`` hold the bot message action_deliver_outreach rendered for ``outbox_id``.

    The action passes ``outbox_id`` with the response, and Rasa keeps whatever is not
    text or buttons as the bot event's metadata; the event is in the tracker only once
    Rasa saved it, which is also what the widget's history shows.
    """
    wanted = str(outbox_id)
    return any(
        event.get("event") == "bot" and str((event.get("metadata") or {}).get("outbox_id")) == wanted
        for event in events or []
    )


class RasaClient:
    """One connection pool to one Rasa server; use as a context manager, one per worker."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeouts: Timeouts,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._token = token
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(
                connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
            ),
            transport=transport,
        )

    def __enter__(self) -> RasaClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = {"token": self._token, **kwargs.pop("params", {})}
        try:
            response = self._client.request(method, path, params=params, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RasaUnreachable(f"Rasa not reachable: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise RasaUncertain(f"no complete answer from Rasa: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise RasaAuthError(f"Rasa refused the API token (HTTP {response.status_code}); check RASA_API_TOKEN")
        if response.status_code >= 500 or response.status_code in (408, 409, 423, 429):
            raise RasaUncertain(f"Rasa answered HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise RasaRejected(f"Rasa answered HTTP {response.status_code}: {response.text[:300]}")
        return response

    def trigger_intent(self, *, conversation_id: str, intent: str, outbox_id: int, output_channel: str) -> None:
        """Inject ``intent`` with entity ``outbox_id``; return only if the rendered message is in Rasa's answer.

        Rasa saves the tracker before it answers, so the answer's events (those since the
        conversation's session start: ``include_events=APPLIED``) are what was saved.
        Raises :class:`NotRendered` when Rasa answered but no message was rendered.
        """
        response = self._request(
            "POST",
            f"/conversations/{quote(conversation_id, safe=':@+')}/trigger_intent",
            params={"output_channel": output_channel, "include_events": "APPLIED"},
            json={"name": intent, "entities": {"outbox_id": str(outbox_id)}},
        )
        try:
            body = response.json()
        except ValueError as exc:
            raise RasaUncertain("Rasa answered trigger_intent with a body that is not JSON") from exc
        tracker = body.get("tracker") if isinstance(body, dict) else None
        events = tracker.get("events") if isinstance(tracker, dict) else None
        if not has_rendered_message(events if isinstance(events, list) else None, outbox_id=outbox_id):
            raise NotRendered(
                f"Rasa took {intent} for outbox row {outbox_id} but rendered no message "
                "(is the action server up? see its log)"
            )

    def tracker(self, *, conversation_id: str) -> dict[str, Any]:
        response = self._request(
            "GET", f"/conversations/{quote(conversation_id, safe=':@+')}/tracker", params={"include_events": "ALL"}
        )
        data = response.json()
        if not isinstance(data, dict):
            raise RasaUncertain("Rasa returned a tracker that is not a JSON object")
        return data

    def was_delivered(self, *, conversation_id: str, outbox_id: int) -> bool:
        """Whether the conversation already holds this row's rendered message (the receiving end is the truth)."""
        events = self.tracker(conversation_id=conversation_id).get("events")
        return has_rendered_message(events if isinstance(events, list) else None, outbox_id=outbox_id)
