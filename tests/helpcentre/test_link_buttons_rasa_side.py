"""Link buttons on the Rasa side (bot/channels/link_buttons.py), checked inside the rasa
environment: the live socket.io message and the history keep a link button's http(s) URL, drop
a link with any other scheme, and leave ordinary buttons as replies that send their payload."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from supportbot.devstack import ROOT, base_env, rasa_executable

pytestmark = pytest.mark.rasa

PROBE = textwrap.dedent(
    """
    import asyncio, json

    from bot.channels.link_buttons import LinkButtonOutput
    from bot.channels.socketio import history_messages

    BUTTONS = [
        {"title": "Open the article", "type": "web_url", "url": "http://localhost:8000/help/articles/refunds"},
        {"title": "Sneaky", "type": "web_url", "url": "javascript:alert(1)"},
        {"title": "Data", "type": "web_url", "url": "data:text/html,<script>alert(1)</script>"},
        {"title": "No host", "type": "web_url", "url": "https:///nowhere"},
        {"title": "Check my recent orders", "payload": "/ask_orders"},
    ]

    class FakeSio:
        def __init__(self):
            self.sent = []

        async def emit(self, event, data, room=None):
            self.sent.append([event, data, room])

    sio = FakeSio()
    output = LinkButtonOutput(sio, "bot_uttered")
    asyncio.run(output.send_text_with_buttons("room1", "Refunds.\\n\\nMore in it.", BUTTONS))
    events = [
        {"event": "user", "text": "what is your refund policy", "parse_data": {"intent": {"name": "ask_help_article"}}},
        {"event": "bot", "text": "Refunds. More in it.", "data": {"buttons": BUTTONS}},
        {"event": "user", "text": "/ask_orders", "parse_data": {"intent": {"name": "ask_orders"}}},
        {"event": "bot", "text": "Your orders.", "data": {"buttons": BUTTONS}},
    ]
    print(json.dumps({"live": sio.sent, "history": history_messages(events)}))
    """
)

LINK = {"content_type": "web_url", "title": "Open the article", "url": "http://localhost:8000/help/articles/refunds"}
REPLY = {"content_type": "text", "title": "Check my recent orders", "payload": "/ask_orders"}


def test_link_buttons_reach_the_widget_live_and_in_the_history_and_bad_schemes_do_not() -> None:
    done = subprocess.run(
        [str(rasa_executable().parent / "python"), "-c", PROBE],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["live"] == [
        ["bot_uttered", {"text": "Refunds.", "quick_replies": []}, "room1"],
        ["bot_uttered", {"text": "More in it.", "quick_replies": [LINK, REPLY]}, "room1"],
    ]
    history = seen["history"]
    assert [m["text"] for m in history] == [
        "what is your refund policy",
        "Refunds. More in it.",
        "Check my recent orders",
        "Your orders.",
    ]
    assert "quick_replies" not in history[1], "buttons only on the newest message"
    assert history[-1]["quick_replies"] == [LINK, REPLY]
