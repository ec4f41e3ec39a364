"""The relay's answers when Rasa refuses or fails: a clear error, never a silent success.
(Rasa accepting is proven against the real server in test_takeover_messaging.py.)"""

from __future__ import annotations

import httpx
import pytest

from supportbot.console.relay import ConversationRelay, RelayError
from supportbot.errors import ConfigurationError


def relay_answering(status: int, seen: list[httpx.Request]) -> ConversationRelay:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    return ConversationRelay(base_url="http://rasa.test", token="t" * 32, transport=httpx.MockTransport(answer))


def test_the_request_names_the_channel_and_runs_side_effects() -> None:
    seen: list[httpx.Request] = []
    relay_answering(200, seen).append("whatsapp:+15550100/x", [{"event": "pause"}], output_channel="twilio")
    (request,) = seen
    assert request.url.raw_path.startswith(b"/conversations/whatsapp:+15550100%2Fx/tracker/events?")
    assert request.url.params["output_channel"] == "twilio"
    assert request.url.params["execute_side_effects"] == "true"


@pytest.mark.parametrize(("status", "says"), [(401, "API token"), (403, "API token"), (500, "answered 500")])
def test_a_refusal_or_failure_is_an_error(status: int, says: str) -> None:
    with pytest.raises(RelayError, match=says):
        relay_answering(status, []).append("cust:C1:web", [{"event": "pause"}], output_channel=None)


def test_without_a_token_nothing_is_sent() -> None:
    seen: list[httpx.Request] = []
    relay = ConversationRelay(base_url="http://rasa.test", token=None, transport=httpx.MockTransport(seen.append))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="RASA_API_TOKEN"):
        relay.append("cust:C1:web", [], output_channel=None)
    assert seen == []
