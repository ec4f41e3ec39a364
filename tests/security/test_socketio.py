"""The widget's socket.io channel as an outside program meets it (issue 14 findings 4 and 15).

Before the fix: the token was checked once at connect, so an open socket stayed verified
after ``exp``; and anonymous REST and socket.io conversations shared ``anon:<id>``, so a
socket.io client that resumed a REST client's 32-hex sender id read its transcript.
"""

from __future__ import annotations

import secrets
import time

from tests.conftest import Stack
from tests.sio_client import SocketIOClient

MAYA, KENJI = "C000001", "C000002"


def user_texts(stack: Stack, conversation_id: str) -> list[str]:
    return [e.get("text") for e in stack.tracker(conversation_id)["events"] if e["event"] == "user"]


def test_an_expired_token_stops_acting_as_the_customer_until_refreshed(stack: Stack) -> None:
    with SocketIOClient(stack.rasa_url, auth={"customer_token": stack.token(MAYA, ttl_seconds=4)}) as client:
        client.emit("session_request")
        confirm = client.wait_for("session_confirm")
        assert confirm["verified"] is True and isinstance(confirm["expires_at"], int)
        client.wait_for("history")
        time.sleep(max(0.0, confirm["expires_at"] - time.time()) + 1.5)

        question = f"what plan am I on {secrets.token_hex(3)}"
        seen = len(client.events)
        client.emit("user_uttered", {"message": question})
        refused = client.wait_for("reauth_required", after=seen)
        assert refused == {"reason": "expired", "message": question}
        client.pump(3)
        assert "bot_uttered" not in client.names()[seen:], "an expired connection must not be answered"
        assert question not in user_texts(stack, f"cust:{MAYA}:web")

        # The widget's answer: a fresh token for the same customer, then the message again.
        seen = len(client.events)
        client.emit("refresh", {"customer_token": stack.token(MAYA)})
        assert client.wait_for("refresh_result", after=seen)["ok"] is True
        client.emit("user_uttered", {"message": question})
        answer = client.wait_for("bot_uttered", after=seen)
        assert answer.get("text")
        assert question in user_texts(stack, f"cust:{MAYA}:web")


def test_a_refresh_for_another_customer_ends_the_verified_connection(stack: Stack) -> None:
    client = SocketIOClient(stack.rasa_url, auth={"customer_token": stack.token(MAYA)})
    try:
        client.emit("session_request")
        client.wait_for("history")
        seen = len(client.events)
        client.emit("refresh", {"customer_token": stack.token(KENJI)})
        assert client.wait_for("refresh_result", after=seen)["ok"] is False
        client.pump(5)
        assert client.disconnected, "the server must close a connection whose customer changed"
    finally:
        client.close()


def test_a_signed_out_customer_gets_no_more_of_their_messages(stack: Stack) -> None:
    """Signing out (no token on refresh) ends the connection; it no longer receives Maya's room."""
    client = SocketIOClient(stack.rasa_url, auth={"customer_token": stack.token(MAYA)})
    try:
        client.emit("session_request")
        client.wait_for("history")
        client.emit("refresh", {"customer_token": None})
        client.pump(5)
        assert client.disconnected
    finally:
        client.close()


def test_anonymous_sessions_resume_only_what_this_server_signed(stack: Stack) -> None:
    with SocketIOClient(stack.rasa_url) as first:
        first.emit("session_request")
        issued = first.wait_for("session_confirm")["session_id"]
        first.wait_for("history")
        first.emit("user_uttered", {"message": "hello there"})
        first.wait_for("bot_uttered")
    assert "." in issued, "anonymous session ids carry the server's signature"

    with SocketIOClient(stack.rasa_url, auth={"session": issued}) as again:
        again.emit("session_request")
        assert again.wait_for("session_confirm")["session_id"] == issued
        history = again.wait_for("history")["messages"]
        assert any(m["text"] == "hello there" for m in history), "the visitor's own session resumes"

    forged = issued.split(".")[0] + "." + "0" * 32
    with SocketIOClient(stack.rasa_url, auth={"session": forged}) as other:
        other.emit("session_request")
        assert other.wait_for("session_confirm")["session_id"] != forged
        assert other.wait_for("history")["messages"] == []


def test_a_rest_clients_transcript_is_not_readable_over_socketio(stack: Stack) -> None:
    sender = secrets.token_hex(16)  # the shape the old socket.io channel accepted as a session
    marker = f"my secret problem {secrets.token_hex(4)}"
    stack.say(sender, marker)
    assert marker in user_texts(stack, f"anon:rest:{sender}")
    with SocketIOClient(stack.rasa_url, auth={"session": sender}) as client:
        client.emit("session_request")
        confirm = client.wait_for("session_confirm")
        assert not confirm["session_id"].startswith(sender)
        history = client.wait_for("history")["messages"]
        assert all(marker not in m["text"] for m in history)


def test_oversized_and_malformed_socket_messages_are_refused(stack: Stack) -> None:
    with SocketIOClient(stack.rasa_url) as client:
        client.emit("session_request")
        conversation = "anon:web:" + client.wait_for("session_confirm")["session_id"].split(".")[0]
        client.wait_for("history")
        for data, code in (({"message": "x" * 2001}, "message_too_long"), ({"message": ["x"]}, "message_not_text")):
            seen = len(client.events)
            client.emit("user_uttered", data)
            assert client.wait_for("error_message", after=seen)["code"] == code
        assert user_texts(stack, conversation) == []
