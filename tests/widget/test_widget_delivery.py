"""Issue 19 point 4 for the website widget: at-least-once from the widget, exactly-once on the
server (bot/channels/socketio.py, bot/channels/exactly_once.py, widget/src/widget.js).

Counted at the receiving end: the user events in Rasa's tracker store (their ``message_id`` is
the widget's), the bot answers a socket got, the ``user_uttered`` frames the browser sent.
First as an outside program meets the channel (tests/sio_client.py), then the real widget in
Chromium behind a link that loses what one side sends (``SwitchableProxy.hold``) and then drops.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from supportbot.devstack import SwitchableProxy
from tests.prepared import Stack
from tests.sio_client import SocketIOClient
from tests.widget.conftest import TIMEOUT_MS, WebServer, web_settings

pytestmark = pytest.mark.e2e


def guest(stack: Stack, session: str | None = None) -> tuple[SocketIOClient, str, str]:
    """An anonymous widget connection, its session confirmed and history received:
    (client, its signed session label, its conversation id)."""
    client = SocketIOClient(stack.rasa_url, auth={"session": session} if session else None)
    client.emit("session_request")
    label = client.wait_for("session_confirm")["session_id"]
    client.wait_for("history")
    return client, label, "anon:web:" + label.split(".")[0]


def said(text: str, message_id: str | None) -> dict[str, Any]:
    return {"message": text, "message_id": message_id} if message_id else {"message": text}


def user_events(events: list[dict[str, Any]], *, text: str | None = None, message_id: str | None = None) -> list:
    return [
        e
        for e in events
        if e["event"] == "user"
        and (text is None or e.get("text") == text)
        and (message_id is None or e.get("message_id") == message_id)
    ]


def recorded_answer(events: list[dict[str, Any]], message_id: str) -> str:
    """The bot's texts in the turn of the user event carrying ``message_id``, as the widget gets
    them (one message per text; the channel splits a text at blank lines)."""
    (start,) = [i for i, e in enumerate(events) if e["event"] == "user" and e.get("message_id") == message_id]
    texts = []
    for event in events[start + 1 :]:
        if event["event"] == "user" or (event["event"] == "action" and event.get("name") == "action_listen"):
            break
        if event["event"] == "bot" and event.get("text"):
            texts.append(event["text"].strip())
    return "\n\n".join(texts)


def answers_to(client: SocketIOClient, message_id: str, after: int = 0) -> list[dict[str, Any]]:
    return [d for n, d in client.events[after:] if n == "bot_uttered" and d.get("reply_to") == message_id]


def wait_until(check: Callable[[], bool], *, what: str, page: Page, timeout: float = 120) -> None:
    """Waits on the page (Playwright delivers its events, the websocket frames, only while it is called)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        page.wait_for_timeout(500)


# ---------------------------------------------------------------------------
# The channel, as an outside program meets it
# ---------------------------------------------------------------------------


def test_a_message_whose_acknowledgement_was_lost_is_handled_once_when_sent_again(stack: Stack) -> None:
    """(a) The connection drops after the message went out and before its acknowledgement; the
    client reconnects and sends it again with the same id, as the widget does when the history it
    loads does not hold the id yet (the first attempt is still being handled)."""
    first, session, conversation = guest(stack)
    message_id = str(uuid.uuid4())
    text = f"hello, is anyone there? {secrets.token_hex(3)}"
    first.emit("user_uttered", said(text, message_id), ack=True)
    first.pump(0.2)  # the server has the message and is (usually still) handling it
    # Whether or not the acknowledgement made it in those 0.2 s (a quiet machine can end a guest's
    # greeting sooner), the client drops it: it never reads it, as a widget cut off mid-turn would not.
    first.close()

    with SocketIOClient(stack.rasa_url, auth={"session": session}) as again:
        again.emit("session_request")
        assert again.wait_for("session_confirm")["session_id"] == session
        again.wait_for("history")
        seen = len(again.events)
        ack = again.wait_for_ack(again.emit("user_uttered", said(text, message_id), ack=True))
        again.pump(2)

    events = stack.tracker(conversation)["events"]
    assert len(user_events(events, text=text)) == 1, "sent twice, handled once"
    assert len(user_events(events, message_id=message_id)) == 1, "the widget's id is the one Rasa recorded"
    # Under the conversation's lock the resend waited for the first attempt, found it and did not run it again.
    assert ack == {"status": "duplicate", "message_id": message_id}
    answers = answers_to(again, message_id, seen)
    live = [a for a in answers if not a.get("replayed")]  # the first attempt's, if it answered after the reconnect
    shown = live or [a for a in answers if a.get("replayed")]  # the widget drops a replay of what it showed live
    assert recorded_answer(events, message_id), "the turn was answered"
    assert "\n\n".join(a["text"] for a in shown) == recorded_answer(events, message_id)


def test_a_resend_of_a_handled_message_adds_nothing_and_is_answered_again_only_to_its_socket(stack: Stack) -> None:
    """(b) An id the conversation holds: acknowledged as a duplicate, no second user event, the
    recorded answer replayed to the resending socket only (the customer's other tab had it)."""
    tab, session, conversation = guest(stack)
    other, _, _ = guest(stack, session)
    message_id = str(uuid.uuid4())
    text = f"hi there {secrets.token_hex(3)}"
    with tab, other:
        assert tab.wait_for_ack(tab.emit("user_uttered", said(text, message_id), ack=True)) == {
            "status": "handled",
            "message_id": message_id,
        }
        answer = answers_to(tab, message_id)
        assert answer and not any(a.get("replayed") for a in answer)
        other.pump(1)
        assert [d["text"] for d in answers_to(other, message_id)] == [d["text"] for d in answer]

        seen_tab, seen_other = len(tab.events), len(other.events)
        again = tab.wait_for_ack(tab.emit("user_uttered", said(text, message_id), ack=True))
        assert again == {"status": "duplicate", "message_id": message_id}
        replay = [d for n, d in tab.events[seen_tab:] if n == "bot_uttered"]
        assert [d["text"] for d in replay] == [d["text"] for d in answer]
        assert all(d.get("replayed") is True and d["reply_to"] == message_id for d in replay)
        other.pump(2)
        assert "bot_uttered" not in other.names()[seen_other:], "the replay went to the resending socket only"
        echoes = [d for n, d in other.events if n == "user_echo"]
        assert echoes and all(d == {"text": text, "message_id": message_id} for d in echoes)  # shown once by id

    events = stack.tracker(conversation)["events"]
    assert len(user_events(events, message_id=message_id)) == 1
    with SocketIOClient(stack.rasa_url, auth={"session": session}) as check:
        check.emit("session_request")
        mine = [m for m in check.wait_for("history")["messages"] if m.get("message_id") == message_id]
    assert [m["text"] for m in mine] == [text], "the history names the id, so the widget drops a queued resend"


def test_a_reused_id_with_another_text_is_refused_and_a_message_without_id_still_works(stack: Stack) -> None:
    """(c) The same id for another text is a client's bug: refused, clearly, nothing handled. A bad
    id is refused too. A message without an id (an older widget) is handled as before."""
    client, _, conversation = guest(stack)
    message_id = str(uuid.uuid4())
    other_text = f"something else entirely {secrets.token_hex(3)}"
    with client:
        first = client.wait_for_ack(client.emit("user_uttered", said("hello", message_id), ack=True))
        assert first["status"] == "handled"

        seen = len(client.events)
        refused = client.wait_for_ack(client.emit("user_uttered", said(other_text, message_id), ack=True))
        assert refused["status"] == "refused" and refused["code"] == "message_id_reused"
        assert message_id in refused["text"] and "already used" in refused["text"]
        error = client.wait_for("error_message", after=seen)
        assert error == {"code": "message_id_reused", "text": refused["text"], "message_id": message_id}

        bad = client.wait_for_ack(client.emit("user_uttered", said("hello again", "not an id!"), ack=True))
        assert bad["status"] == "refused" and bad["code"] == "bad_message_id" and "message_id" in bad["text"]
        client.pump(2)
        assert "bot_uttered" not in client.names()[seen:], "nothing refused was answered"

        plain = f"thanks {secrets.token_hex(3)}"
        seen = len(client.events)
        assert client.wait_for_ack(client.emit("user_uttered", said(plain, None), ack=True)) == {"status": "handled"}
        answer = client.wait_for("bot_uttered", after=seen)
        assert answer.get("text") and "reply_to" not in answer

    events = stack.tracker(conversation)["events"]
    assert [e["text"] for e in user_events(events)] == ["hello", plain]


# ---------------------------------------------------------------------------
# The widget in Chromium
# ---------------------------------------------------------------------------


def sent_messages(page: Page) -> list[dict[str, Any]]:
    """Every ``user_uttered`` the page sends over any of its websockets, decoded (kept up to date).
    The page is loaded again, so that its first socket is watched too."""
    sent: list[dict[str, Any]] = []

    def on_frame(payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith("42"):
            body = payload[2:].lstrip("0123456789")
            name, *args = json.loads(body)
            if name == "user_uttered":
                sent.append(args[0] if args else {})

    page.on("websocket", lambda ws: ws.on("framesent", on_frame))
    page.reload()
    return sent


def outbox(page: Page) -> Any:
    return page.evaluate("JSON.parse(window.sessionStorage.getItem('lumenChat:outbox') || '[]')")


def guest_conversation(page: Page) -> str:
    session = page.evaluate("window.localStorage.getItem('lumenChat:session')")
    assert isinstance(session, str)
    return "anon:web:" + session.split(".")[0]


def test_a_message_lost_on_the_way_waits_through_a_reload_and_is_answered_once(visit: Any, stack: Stack) -> None:
    """The link loses what the widget sends, then drops; the customer reloads the page while it is
    down. The message stays on screen as waiting, survives the reload (the tab's storage), and is
    sent again with the same id once the chat is back: in the conversation once, answered."""
    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    with (
        SwitchableProxy(rasa_port) as proxy,
        WebServer(web_settings(stack, rasa_public_url=f"http://127.0.0.1:{proxy.port}")) as web,
    ):
        visitor = visit(None, base_url=web.url)
        sent = sent_messages(visitor.page)
        visitor.open()
        visitor.wait_online()
        conversation = guest_conversation(visitor.page)
        proxy.hold("to_server")
        words = f"my sync stopped {uuid.uuid4().hex[:8]}"
        visitor.say(words)
        bubble = visitor.page.locator(".lumen-chat__message--user").filter(has_text=words)
        expect(bubble.locator(".lumen-chat__pending")).to_have_text("Sending…")
        wait_until(
            lambda: any(m.get("message") == words for m in sent), what="the widget sent the message", page=visitor.page
        )
        proxy.switch_off()
        expect(bubble.locator(".lumen-chat__pending")).to_have_text("Waiting for connection…")

        visitor.page.reload()
        expect(bubble).to_have_count(1)
        expect(bubble.locator(".lumen-chat__pending")).to_have_text("Waiting for connection…")
        assert [e["payload"] for e in outbox(visitor.page)] == [words]

        proxy.switch_on()
        visitor.wait_online()
        expect(bubble.locator(".lumen-chat__pending")).to_have_count(0)
        visitor.bot_bubbles().first.wait_for(timeout=TIMEOUT_MS)
        expect(bubble).to_have_count(1)
        wait_until(
            lambda: outbox(visitor.page) == [], what="the outbox emptied by the acknowledgement", page=visitor.page
        )

    attempts = [m for m in sent if m.get("message") == words]
    assert len(attempts) == 2, f"sent, lost, sent again after the reload: {attempts}"
    message_id = attempts[0].get("message_id")
    assert isinstance(message_id, str) and attempts[1]["message_id"] == message_id, "the same id both times"
    events = stack.tracker(conversation)["events"]
    assert len(user_events(events, text=words)) == 1
    assert len(user_events(events, message_id=message_id)) == 1


def test_a_message_answered_while_its_acknowledgement_was_lost_is_not_sent_again(visit: Any, stack: Stack) -> None:
    """The message arrives and is handled; the answer and the acknowledgement are lost and the link
    drops. The history after the reconnect holds the message's id: the widget drops it from its
    outbox instead of sending it again, and shows it once."""
    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    with (
        SwitchableProxy(rasa_port) as proxy,
        WebServer(web_settings(stack, rasa_public_url=f"http://127.0.0.1:{proxy.port}")) as web,
    ):
        visitor = visit(None, base_url=web.url)
        sent = sent_messages(visitor.page)
        visitor.open()
        visitor.wait_online()
        conversation = guest_conversation(visitor.page)
        proxy.hold("to_client")
        words = f"hello from a flaky train {uuid.uuid4().hex[:8]}"
        visitor.say(words)
        bubble = visitor.page.locator(".lumen-chat__message--user").filter(has_text=words)
        expect(bubble.locator(".lumen-chat__pending")).to_have_text("Sending…")

        def turn_over() -> bool:
            events = stack.tracker(conversation)["events"]
            return bool(user_events(events, text=words)) and events[-1].get("name") == "action_listen"

        wait_until(turn_over, what="the message handled", page=visitor.page)
        proxy.switch_off()
        proxy.switch_on()
        visitor.wait_online()
        expect(bubble.locator(".lumen-chat__pending")).to_have_count(0)
        visitor.bot_bubbles().first.wait_for(timeout=TIMEOUT_MS)  # the answer, from the history
        expect(bubble).to_have_count(1)
        assert outbox(visitor.page) == []
        visitor.page.wait_for_timeout(3000)  # time for a resend, were one coming

    attempts = [m for m in sent if m.get("message") == words]
    assert len(attempts) == 1, f"not sent again: the history held it ({attempts})"
    events = stack.tracker(conversation)["events"]
    assert len(user_events(events, text=words)) == 1
    assert user_events(events, text=words)[0].get("message_id") == attempts[0]["message_id"]
