"""The console's one way into a conversation: Rasa's HTTP API, with ``RASA_API_TOKEN``.

``POST /conversations/<id>/tracker/events?output_channel=<channel>&execute_side_effects=true``
appends events under Rasa's lock for that conversation (``rasa/server.py: append_events``),
saves the tracker, and sends every ``BotUttered`` among them through the named channel's
output (``MessageProcessor.execute_side_effects`` → ``OutputChannel.send_response``): the
socket.io room of the widget, Telegram's, Slack's, Messenger's or Twilio's API, the callback
gateway. ``pause`` / ``resume`` (``ConversationPaused`` / ``ConversationResumed``) make Rasa
record the customer's messages without predicting anything (``MessageProcessor.
_should_handle_message``). So an agent's message is stored in the tracker as a bot utterance
(with the agent in its metadata) and delivered exactly like a bot message, by whichever
Rasa process the request reaches; nothing is held in the web process.

httpx with explicit timeouts and an injectable transport (tests use ``httpx.MockTransport``
for the error paths, and the real Rasa for the rest).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from supportbot.errors import ConfigurationError, SupportBotError


class RelayError(SupportBotError):
    """Rasa did not take the events: nothing reached the customer, the agent should try again."""


class ConversationRelay:
    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._transport = transport
        self._timeout = httpx.Timeout(timeout, connect=5.0)

    def append(self, conversation_id: str, events: list[dict[str, Any]], *, output_channel: str | None) -> None:
        """Append ``events`` and send their bot messages to the customer on ``output_channel``
        (the conversation's latest input channel when ``None``). One short connection per call:
        nothing stays open in the web process (agents write seconds apart)."""
        if not self._token:
            raise ConfigurationError("RASA_API_TOKEN is not set: the console cannot write to conversations")
        try:
            with httpx.Client(base_url=self.base_url, transport=self._transport, timeout=self._timeout) as client:
                response = client.post(
                    f"/conversations/{quote(conversation_id, safe=':@+')}/tracker/events",
                    params={
                        "token": self._token,
                        "output_channel": output_channel or "latest",
                        "execute_side_effects": "true",
                        "include_events": "NONE",
                    },
                    json=events,
                )
        except httpx.TransportError as exc:
            raise RelayError(f"the assistant (Rasa) could not be reached: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise RelayError("the assistant (Rasa) refused the console's API token (RASA_API_TOKEN)")
        if response.status_code != 200:
            raise RelayError(f"the assistant (Rasa) answered {response.status_code}; nothing was sent")
