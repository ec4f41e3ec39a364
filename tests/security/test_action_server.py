"""The action server as an outsider meets it (security review, issue 14 finding 1).

A real ``python -m supportbot.action_server`` process on a profile store with the demo data.
Observed before the fix: a plain POST with ``sender_id: cust:C000002:x`` and
``next_action: action_show_plan`` returned Kenji's plan, price, renewal date, orders and
points; it listened on 0.0.0.0 with CORS ``*`` and echoed request bodies in its errors.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportbot.devstack import Server, base_env, free_port, start_actions, start_server, wait_for_actions
from tests.security.stores import demo_store, store_fingerprint

KENJI = "C000002"


def action_call(
    action: str, sender_id: str, *, text: str = "what plan am I on", intent: str = "ask_plan"
) -> dict[str, Any]:
    """What Rasa posts to run ``action`` in ``sender_id``'s conversation."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    return {
        "next_action": action,
        "sender_id": sender_id,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender_id,
            "slots": {},
            "latest_message": latest,
            "events": [
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": latest, "input_channel": "rest", "metadata": {}},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
            "latest_input_channel": "rest",
        },
    }


class ActionServer:
    def __init__(self, url: str, token: str, database_url: str, server: Server) -> None:
        self.url, self.token, self.database_url, self.server = url, token, database_url, server

    def post(
        self, body: bytes | dict[str, Any], *, token: str | None = "", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = dict(headers or {})
        token = self.token if token == "" else token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
        return httpx.post(f"{self.url}/webhook", content=content, headers=sent, timeout=60)


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    work = tmp_path_factory.mktemp("actions-security")
    database_url = demo_store(work)
    token, port = secrets.token_urlsafe(32), free_port()
    env = base_env(
        SUPPORTBOT_DATABASE_URL=database_url, ACTION_SERVER_TOKEN=token, SUPPORTBOT_ACTIONS_MAX_REQUEST_BYTES="65536"
    )
    server = start_actions(port=port, env=env, log_dir=work)
    try:
        wait_for_actions(server, port)
        yield ActionServer(f"http://127.0.0.1:{port}", token, database_url, server)
    finally:
        server.stop()


def shows_kenji(response: httpx.Response) -> bool:
    return "Kenji" in response.text or "Plus" in response.text or "€" in response.text


def test_a_call_without_the_shared_secret_gets_nothing(actions: ActionServer) -> None:
    before = store_fingerprint(actions.database_url)
    for token in (None, "wrong", actions.token[:-1] + "x", actions.token + "x", actions.token.upper()):
        response = actions.post(action_call("action_show_plan", f"cust:{KENJI}:x"), token=token)
        assert response.status_code == 401, (token, response.text)
        assert not shows_kenji(response)
    # The same call with the secret is what Rasa does: it works (so the 401s above mean something).
    allowed = actions.post(action_call("action_show_plan", f"cust:{KENJI}:x"))
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["responses"], "the authorised call should answer with Kenji's plan"
    for path in ("/actions", "/webhook"):
        assert httpx.get(f"{actions.url}{path}", timeout=30).status_code in (401, 405)
    assert store_fingerprint(actions.database_url) == before


@pytest.mark.parametrize(
    "action", ["action_cancel_subscription", "action_change_plan", "action_renew_now", "action_start_linking"]
)
def test_account_changing_actions_refuse_an_unauthenticated_caller(actions: ActionServer, action: str) -> None:
    before = store_fingerprint(actions.database_url)
    response = actions.post(action_call(action, f"cust:{KENJI}:x", text="yes", intent="affirm"), token=None)
    assert response.status_code == 401
    assert store_fingerprint(actions.database_url) == before


def test_no_cors_for_browsers(actions: ActionServer) -> None:
    preflight = httpx.options(
        f"{actions.url}/webhook",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    answered = actions.post(action_call("action_show_plan", "anon:rest:x"), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in {k.lower() for k in answered.headers}


def test_bodies_are_bounded_and_compressed_bodies_too(actions: ActionServer) -> None:
    before = store_fingerprint(actions.database_url)
    huge = json.dumps(action_call("action_show_plan", f"cust:{KENJI}:x", text="x" * 200_000)).encode()
    assert actions.post(huge).status_code == 413
    bomb = zlib.compress(b'{"next_action": "action_show_plan", "pad": "' + b"0" * 50_000_000 + b'"}')
    assert len(bomb) < 65536
    response = actions.post(bomb, headers={"Content-Encoding": "deflate"})
    assert response.status_code == 413
    assert actions.post(b"\x1f\x8b\x08rubbish", headers={"Content-Encoding": "gzip"}).status_code == 415
    # A well-formed deflate call (Rasa's COMPRESS_ACTION_SERVER_REQUEST) still works.
    packed = zlib.compress(json.dumps(action_call("action_show_plan", f"cust:{KENJI}:x")).encode())
    assert actions.post(packed, headers={"Content-Encoding": "deflate"}).status_code == 200
    assert store_fingerprint(actions.database_url) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[1, 2, 3]", 400),
        (b"not json at all", 400),
        (b'{"next_action": 7}', 400),
        (b'{"next_action": "no_such_action_<script>", "tracker": {"sender_id": "x"}}', 404),
    ],
)
def test_errors_never_echo_the_request(actions: ActionServer, body: bytes, status: int) -> None:
    marker = b"ECHO-" + secrets.token_hex(8).encode()
    payload = body if not body.startswith(b"{") else body[:-1] + b', "marker": "' + marker + b'"}'
    response = actions.post(payload)
    assert response.status_code == status, response.text
    assert marker.decode() not in response.text and "<script>" not in response.text
    assert "request_body" not in response.text


def test_a_failing_action_answers_without_the_request_body(actions: ActionServer) -> None:
    """An action call whose tracker makes rasa-sdk fail (not a dict) goes to the error handler."""
    marker = "ECHO-" + secrets.token_hex(8)
    call = action_call("action_show_plan", f"cust:{KENJI}:x")
    call["tracker"]["events"] = marker  # rasa-sdk fails building the Tracker
    response = actions.post(call)
    assert response.status_code == 500
    assert marker not in response.text and "request_body" not in response.text


def listening_addresses(port: int) -> set[str]:
    """Local addresses a TCP port listens on, from /proc/net/tcp (IPv4) and tcp6."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_listens_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    """Started without --host, as an operator would: bound to 127.0.0.1 only."""
    database_url = demo_store(tmp_path, demo=False)
    port = free_port()
    env = base_env(SUPPORTBOT_DATABASE_URL=database_url)
    server = start_server(
        "actions-default-host",
        [sys.executable, "-m", "supportbot.action_server", "--port", str(port)],
        env=env,
        log_dir=tmp_path,
    )
    try:
        wait_for_actions(server, port)
        assert listening_addresses(port) == {"0100007F"}, "the action server must listen on 127.0.0.1 only"
    finally:
        server.stop()


def test_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = base_env(SUPPORTBOT_DATABASE_URL=demo_store(tmp_path, demo=False))
    env.pop("ACTION_SERVER_TOKEN")
    done = subprocess.run(
        [sys.executable, "-m", "supportbot.action_server", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "ACTION_SERVER_TOKEN" in done.stderr
