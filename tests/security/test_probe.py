"""The running stack probed from outside, the way an attacker on this machine would (issue 14).

Direct calls to the action server without its secret, tokens that must not verify, demo
tokens for customers who are not demo personas, webhooks without their signatures,
oversized and malformed bodies: every one refused with the right status, and nothing
changed in the profile store or the tracker store.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from bot.channels.limits import MAX_REQUEST_BYTES
from supportbot.devstack import ROOT, base_env, free_port, http_ok, rasa_executable, start_server, wait_until
from tests.conftest import Stack
from tests.security.stores import store_fingerprint

MAYA = "C000001"
REST = "/webhooks/rest/webhook"


def rest(stack: Stack, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(
        f"{stack.rasa_url}{REST}", content=content, headers={"Content-Type": "application/json"}, timeout=120
    )


def fingerprints(stack: Stack) -> tuple[dict[str, str], dict[str, str]]:
    return store_fingerprint(stack.database_url), store_fingerprint(f"sqlite:///{stack.tracker_db}")


def claims(**override: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    base = {"sub": MAYA, "aud": "lumen-support-chat", "iat": now, "exp": now + 600}
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def web(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real web process in demo mode on the stack's profile store, as `make run` starts it."""
    work = tmp_path_factory.mktemp("web-probe")
    port = free_port()
    env = base_env(
        SUPPORTBOT_DATABASE_URL=stack.database_url,
        SUPPORTBOT_DEMO_MODE="true",
        CUSTOMER_TOKEN_SECRET=stack.secret,
        SUPPORTBOT_RASA_URL=stack.rasa_url,
    )
    server = start_server(
        "web-probe", [sys.executable, "-m", "supportbot.web", "--port", str(port)], env=env, log_dir=work
    )
    try:
        wait_until(server, http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=300)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_malformed_and_oversized_rest_bodies_are_refused_and_nothing_is_stored(stack: Stack) -> None:
    before = fingerprints(stack)
    sender = secrets.token_hex(8)
    cases: list[tuple[Any, bytes | None, int, str]] = [
        ([{"sender": sender, "message": "hi"}], None, 400, "JSON object"),
        ("just a string", None, 400, "JSON object"),
        (None, b"{not json", 400, "JSON"),
        ({"sender": sender, "message": 42}, None, 400, "`message` must be a string"),
        ({"sender": sender, "message": "   "}, None, 400, "empty"),
        ({"sender": sender}, None, 400, "`message` must be a string"),
        ({"sender": sender, "message": "x" * 2001}, None, 400, "too long"),
        ({"sender": ["a"], "message": "hi"}, None, 400, "`sender`"),
        ({"sender": "s" * 65, "message": "hi"}, None, 400, "`sender`"),
        ({"sender": sender, "message": "hi", "metadata": "x"}, None, 400, "`metadata` must be an object"),
        ({"sender": sender, "message": "hi", "metadata": {"pad": "x" * 5000}}, None, 400, "too large"),
        ({"sender": sender, "message": "hi", "message_id": 7}, None, 400, "`message_id`"),
        ({"sender": sender, "message": "hi", "message_id": ""}, None, 400, "`message_id`"),
        ({"sender": sender, "message": "hi", "message_id": "m" * 65}, None, 400, "`message_id`"),
        ({"sender": sender, "message": "hi", "message_id": "two words"}, None, 400, "`message_id`"),
    ]
    for body, raw, status, needle in cases:
        response = rest(stack, body, raw=raw)
        assert response.status_code == status, (body if raw is None else raw, response.text)
        assert needle in response.json()["error"], response.text
    huge = rest(stack, {"sender": sender, "message": "x" * 300_000})
    assert huge.status_code == 413
    assert fingerprints(stack) == before, "a refused request must leave every store as it was"


def test_client_metadata_is_allow_listed(stack: Stack) -> None:
    sender = secrets.token_hex(8)
    metadata = {"locale": "en-GB", "page": "https://lumen.example/pricing", "is_admin": True, "note": "<b>x</b>"}
    assert rest(stack, {"sender": sender, "message": "hello", "metadata": metadata}).status_code == 200
    events = stack.tracker(f"anon:rest:{sender}")["events"]
    stored = next(e for e in events if e["event"] == "user")["metadata"]
    client_part = {k: v for k, v in stored.items() if k not in ("model_id", "assistant_id")}  # Rasa adds these
    assert client_part == {"locale": "en-GB", "page": "https://lumen.example/pricing", "verified": False}


@pytest.mark.parametrize(
    "case",
    ["no_audience", "other_audience", "two_year_lifetime", "no_iat", "trailing_newline", "alg_none", "colon_id"],
)
def test_tokens_that_must_not_verify_get_general_help_only(stack: Stack, case: str) -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    secret = stack.secret
    tokens = {
        "no_audience": lambda: jwt.encode(claims(aud=None), secret, algorithm="HS256"),
        "other_audience": lambda: jwt.encode(claims(aud="another-app"), secret, algorithm="HS256"),
        "two_year_lifetime": lambda: jwt.encode(claims(exp=now + 2 * 365 * 86400), secret, algorithm="HS256"),
        "no_iat": lambda: jwt.encode(claims(iat=None), secret, algorithm="HS256"),
        "trailing_newline": lambda: jwt.encode(claims(sub=MAYA + "\n"), secret, algorithm="HS256"),
        "alg_none": lambda: jwt.encode(claims(), None, algorithm="none"),
        "colon_id": lambda: jwt.encode(claims(sub=f"{MAYA}:other"), secret, algorithm="HS256"),
    }
    sender = secrets.token_hex(8)
    answer = stack.say(sender, "when does my subscription renew?", token=tokens[case]())
    text = " ".join(m.get("text", "") for m in answer)
    assert "renews" not in text and "$" not in text, f"{case}: profile data leaked: {text}"
    verified = [e for e in stack.tracker(f"cust:{MAYA}:{sender}")["events"] if e["event"] == "user"]
    assert verified == [], f"{case}: the conversation must not be bound to the customer"
    # The control: a correct token for the same question is verified and answered from the profile.
    good = stack.say(sender, "when does my subscription renew?", token=stack.token(MAYA))
    assert "renews" in " ".join(m.get("text", "") for m in good), good
    assert [e for e in stack.tracker(f"cust:{MAYA}:{sender}")["events"] if e["event"] == "user"]


def test_the_action_server_refuses_direct_calls(stack: Stack) -> None:
    before = fingerprints(stack)
    call = {
        "next_action": "action_cancel_subscription",
        "sender_id": f"cust:{MAYA}:x",
        "tracker": {"sender_id": f"cust:{MAYA}:x", "events": [], "slots": {}, "latest_message": {}},
    }
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": f"Bearer {stack.api_token}"}):
        response = httpx.post(f"{stack.actions_url}/webhook", json=call, headers=headers, timeout=30)
        assert response.status_code == 401
    assert fingerprints(stack) == before


def test_demo_tokens_only_for_demo_personas(stack: Stack, web: str) -> None:
    before = fingerprints(stack)
    for customer in ("C000250", "C000013", "C000001:x", "../C000001"):
        response = httpx.post(f"{web}/demo/token", json={"customer_id": customer}, timeout=30)
        assert response.status_code in (403, 422), (customer, response.text)
        assert "token" not in response.json()
    assert httpx.post(f"{web}/demo/token", json={"customer_id": MAYA}, timeout=30).status_code == 200
    assert fingerprints(stack) == before


def test_webhooks_without_their_credentials_are_refused(stack: Stack) -> None:
    before = fingerprints(stack)
    sender = f"probe-{secrets.token_hex(4)}"
    assert stack.callback(sender, "cancel my subscription", token="").status_code == 401
    assert stack.callback(sender, "cancel my subscription", token="wrong").status_code == 401
    assert fingerprints(stack) == before


def test_rasa_http_api_needs_its_token(stack: Stack) -> None:
    conversation = f"cust:{MAYA}:web"
    for params in ({}, {"token": "guess"}):
        response = httpx.get(f"{stack.rasa_url}/conversations/{conversation}/tracker", params=params, timeout=30)
        assert response.status_code == 401
    trigger = httpx.post(
        f"{stack.rasa_url}/conversations/{conversation}/trigger_intent",
        json={"name": "EXTERNAL_perk", "entities": {"outbox_id": "1"}},
        timeout=30,
    )
    assert trigger.status_code == 401


def test_every_rasa_process_of_ours_runs_without_telemetry_and_with_a_body_cap() -> None:
    """bot/server.py's defaults, read back through Rasa's own telemetry switch, in the rasa env."""
    probe = (
        "import os\n"
        "os.environ.pop('RASA_TELEMETRY_ENABLED', None); os.environ.pop('SANIC_REQUEST_MAX_SIZE', None)\n"
        "from bot.server import apply_server_defaults\n"
        "apply_server_defaults(os.environ)\n"
        "import rasa.telemetry\n"
        "print(rasa.telemetry.is_telemetry_enabled(), os.environ['SANIC_REQUEST_MAX_SIZE'])\n"
    )
    env = {k: v for k, v in base_env().items() if k != "RASA_TELEMETRY_ENABLED"}
    done = subprocess.run(
        [str(rasa_executable().parent / "python"), "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["False", str(MAX_REQUEST_BYTES)]


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, from the kernel's own tables."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                local, _, state = line.split()[1:4]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                    found.add(address)
    return found


def test_the_rasa_and_action_servers_listen_on_loopback_only(stack: Stack) -> None:
    """``rasa run`` would listen on 0.0.0.0; bot/server.py makes it loopback, as the action server."""
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1, as the kernel writes them
    for url in (stack.rasa_url, stack.actions_url):
        addresses = listening_addresses(httpx.URL(url).port or 0)
        assert addresses, f"nothing listens for {url}"
        assert addresses <= loopback, (url, addresses)
