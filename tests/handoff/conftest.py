"""Handoff fixtures: staff accounts in the session stack's profile store, the console wired to
that stack (its tracker store and Rasa's HTTP API with the API token), signed-in clients."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from supportbot.console import auth, pages_inbox
from supportbot.console.app import create_console_app
from supportbot.console.auth import create_user
from supportbot.outreach.config import load_config
from supportbot.outreach.planner import PlanReport, days_to_plan, insert_ignoring_duplicates, plan_batch
from supportbot.settings import Settings
from supportbot.store.console_models import ConsoleUser
from supportbot.store.outreach_models import OutboxMessage
from tests.console.conftest import agent, console, console_template, lead, migrated_store
from tests.prepared import Stack
from tests.widget.conftest import WebServer, visit, web_settings

# Fixtures of other test packages used here: the widget tests' browser visitor (against this
# module's `web`) and the console tests' stores and signed-in clients (test_inbox_pages.py).
__all__ = ["agent", "console", "console_template", "lead", "migrated_store", "visit"]

PASSWORD = "correct horse battery staple"
STAFF = {
    "ana@lumen.example": ("agent", "Ana"),
    "ben@lumen.example": ("agent", "Ben"),
    "lee@lumen.example": ("lead", None),
}


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """As tests/console/conftest.py: argon2 at a tiny cost (the production cost is tested there)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    auth._dummy_hash.cache_clear()
    yield
    patch.undo()
    auth._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def staff(stack: Stack) -> dict[str, int]:
    """Console accounts in the stack's profile store (email → user id), made once per session."""
    ids = {}
    with stack.sessions.begin() as session:
        for email, (role, name) in STAFF.items():
            user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == email))
            if user is None:
                user = create_user(session=session, email=email, role=role, password=PASSWORD)
                user.display_name = name
                session.flush()
            ids[email] = user.id
    return ids


def console_settings(stack: Stack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": stack.database_url,
        "tracker_store_url": f"sqlite:///{stack.tracker_db}",
        "customer_token_secret": SecretStr(stack.secret),
        "rasa_url": stack.rasa_url,
        "rasa_api_token": SecretStr(stack.api_token),
        "console_secret": SecretStr("c" * 40),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Agent:
    client: TestClient
    email: str

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response.text

    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.page("/console/inbox"))
        assert found
        return found.group(1)

    def post(self, path: str, **data: str) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf(), **data}, follow_redirects=False)


@pytest.fixture
def console_app(stack: Stack, staff: dict[str, int]) -> Iterator[FastAPI]:
    console = create_console_app(console_settings(stack))
    app = FastAPI()
    app.mount("/console", console)
    yield app
    console.state.console.stores.dispose()


@pytest.fixture
def sign_in(console_app: FastAPI) -> Iterator[Callable[[str], Agent]]:
    clients: list[TestClient] = []

    def make(email: str) -> Agent:
        client = TestClient(console_app, base_url="http://localhost")
        clients.append(client)
        page = client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token
        answer = client.post(
            "/console/login",
            data={"email": email, "password": PASSWORD, "login_token": token.group(1)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return Agent(client, email)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live feeds end after a few seconds in these tests (a TestClient reads a stream to its end)."""
    monkeypatch.setattr(pages_inbox, "STREAM_SECONDS", 3.0)


def wait_until(check: Callable[[], Any], *, timeout: float = 120, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def web(stack: Stack, staff: dict[str, int]) -> Iterator[WebServer]:
    """The web process as ``make run`` wires it: demo page, widget and console, with Rasa's API token."""
    settings = web_settings(
        stack,
        rasa_api_token=SecretStr(stack.api_token),
        tracker_store_url=f"sqlite:///{stack.tracker_db}",
        console_secret=SecretStr("c" * 40),
    )
    with WebServer(settings) as server:
        yield server


def plan_csat_followups(stack: Stack, customer_id: str) -> list[OutboxMessage]:
    """The outreach planner's own decision for this customer, written as it writes it (csat only,
    so no other campaign's row lands in the shared stack's outbox)."""
    now, config = dt.datetime.now(dt.UTC), load_config()
    with stack.sessions.begin() as session:
        for day in days_to_plan(now):
            rows = plan_batch(
                session=session,
                ids=[customer_id],
                day=day,
                now=now,
                config=config,
                report=PlanReport(day, dry_run=False),
            )
            insert_ignoring_duplicates(session, [row for row in rows if row["campaign"] == "csat_followup"])
    with stack.sessions() as session:
        found = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.customer_id == customer_id, OutboxMessage.campaign == "csat_followup"
            )
        ).all()
        for row in found:
            session.expunge(row)
        return list(found)
