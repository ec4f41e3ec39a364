"""The web process without a browser: routes present only in demo mode, token minting's
input checks, widget files and security headers. A real migrated SQLite file each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from supportbot.identity import verify_customer_token
from supportbot.settings import Settings
from supportbot.web.app import SOCKET_IO_BUNDLE, create_app
from tests.factories import add_customer, prepared_store

SECRET = "widget-tests-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Read-only for these tests, so one per module (migrating takes seconds here)."""
    path = tmp_path_factory.mktemp("web") / "profile.db"
    sessions = prepared_store(path)
    with sessions.begin() as session:
        add_customer(session, "C000001", first_name="Maya")
        add_customer(session, "C000002", first_name="Kenji")
        add_customer(session, "C000250", first_name="Nadia")  # a real customer, not a demo persona
    sessions.kw["bind"].dispose()
    return f"sqlite:///{path}"


LOOPBACK_CLIENT = ("127.0.0.1", 50000)


def client_for(client_address: tuple[str, int] = LOOPBACK_CLIENT, **settings: object) -> Iterator[TestClient]:
    app = create_app(Settings(**settings))  # type: ignore[arg-type]
    with TestClient(app, client=client_address) as client:
        yield client


@pytest.fixture
def demo(database_url: str) -> Iterator[TestClient]:
    yield from client_for(
        database_url=database_url,
        customer_token_secret=SecretStr(SECRET),
        rasa_url="http://127.0.0.1:5005",
        rasa_public_url="https://chat.lumen.example",
        demo_mode=True,
    )


@pytest.fixture
def production_like(database_url: str) -> Iterator[TestClient]:
    yield from client_for(database_url=database_url, customer_token_secret=SecretStr(SECRET), demo_mode=False)


def test_demo_page_lists_demo_customers_and_embeds_the_widget(demo: TestClient) -> None:
    page = demo.get("/")
    assert page.status_code == 200
    assert "Maya Example (C000001)" in page.text and "Kenji Example (C000002)" in page.text
    assert "Anonymous visitor" in page.text
    assert "/widget/widget.js" in page.text
    config = page.text.split('id="lumen-demo-config">')[1].split("</script>")[0]
    assert json.loads(config) == {"rasaUrl": "https://chat.lumen.example", "tokenUrl": "/demo/token"}
    assert demo.get("/help").status_code == 200


def test_token_endpoint_mints_a_verifiable_token(demo: TestClient) -> None:
    response = demo.post("/demo/token", json={"customer_id": "C000001"})
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "C000001" and body["expires_in"] > 0
    assert verify_customer_token(body["token"], secret=SECRET) == "C000001"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"customer_id": "C000012"}, 404, "no customer C000012"),  # a persona id missing from this database
        ({"customer_id": "C999999"}, 403, "not a demo persona"),
        ({"customer_id": "<img src=x>"}, 422, "customer_id"),
        ({"customer_id": ""}, 422, "customer_id"),
        ({"customer_id": 7}, 422, "customer_id"),
        ({}, 422, "customer_id"),
        ({"customer_id": "C000001", "admin": True}, 422, "admin"),
    ],
)
def test_token_endpoint_rejects_bad_input_clearly(demo: TestClient, body: object, status: int, needle: str) -> None:
    response = demo.post("/demo/token", json=body)
    assert response.status_code == status
    assert needle in response.text


def test_token_endpoint_needs_json(demo: TestClient) -> None:
    response = demo.post("/demo/token", data={"customer_id": "C000001"})  # a cross-site form post
    assert response.status_code == 422


def test_token_endpoint_says_when_the_secret_is_missing(database_url: str) -> None:
    for client in client_for(database_url=database_url, customer_token_secret=None, demo_mode=True):
        response = client.post("/demo/token", json={"customer_id": "C000001"})
        assert response.status_code == 503
        assert "CUSTOMER_TOKEN_SECRET" in response.json()["detail"]


def test_demo_routes_do_not_exist_outside_demo_mode(production_like: TestClient) -> None:
    assert production_like.post("/demo/token", json={"customer_id": "C000001"}).status_code == 404
    assert production_like.get("/").status_code == 404
    assert production_like.get("/help").status_code == 404
    assert production_like.get("/demo/static/demo.js").status_code == 404
    # the widget itself is served in every mode
    assert production_like.get("/widget/widget.js").status_code == 200


def test_widget_files_and_socket_io_bundle_are_served(demo: TestClient) -> None:
    script = demo.get("/widget/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "LumenChat" in script.text
    css = demo.get("/widget/widget.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    bundle = demo.get("/widget/vendor/socket.io.min.js")
    assert bundle.status_code == 200, "run scripts/widget.sh"
    assert bundle.content == SOCKET_IO_BUNDLE.read_bytes()
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"  # other sites embed it
    assert demo.get("/widget/../supportbot/settings.py").status_code == 404
    assert demo.get("/widget/package.json").status_code == 404  # only widget/src is public


def test_pages_carry_a_strict_content_security_policy(demo: TestClient) -> None:
    headers = demo.get("/").headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' https://chat.lumen.example wss://chat.lumen.example" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_widget_never_uses_html_parsing_apis() -> None:
    """The widget inserts text as text; a reviewer's grep, kept as a test."""
    source = (SOCKET_IO_BUNDLE.parents[3] / "src" / "widget.js").read_text()
    for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert api not in source, api


def test_demo_token_is_never_minted_for_a_customer_who_is_not_a_demo_persona(demo: TestClient) -> None:
    """Security review finding 3: `POST /demo/token` with C000250 returned a valid token."""
    response = demo.post("/demo/token", json={"customer_id": "C000250"})
    assert response.status_code == 403
    assert "token" not in response.json()
    assert "not a demo persona" in response.json()["detail"]


def test_demo_token_is_minted_only_for_clients_on_this_machine(database_url: str) -> None:
    for client in client_for(
        ("192.0.2.10", 50000), database_url=database_url, customer_token_secret=SecretStr(SECRET), demo_mode=True
    ):
        response = client.post("/demo/token", json={"customer_id": "C000001"})
        assert response.status_code == 403
        assert "token" not in response.json()


def test_demo_mode_is_off_unless_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPPORTBOT_DEMO_MODE", raising=False)
    assert Settings(_env_file=None).demo_mode is False  # type: ignore[call-arg]


def test_the_web_process_refuses_demo_mode_on_a_public_interface(tmp_path: Path) -> None:
    """Through a real ``python -m supportbot.web``: it must exit before listening."""
    env = {**os.environ, "SUPPORTBOT_DEMO_MODE": "true", "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run(
        [sys.executable, "-m", "supportbot.web", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "demo mode" in done.stderr and "loopback" in done.stderr
