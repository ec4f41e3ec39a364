"""Console fixtures: a migrated profile store and a Rasa-shaped tracker store (real SQLite files, or
PostgreSQL databases: every console test runs on both),
the console mounted at /console as the web process mounts it, and signed-in clients per role."""

from __future__ import annotations

import html
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from supportbot.console import auth
from supportbot.console.app import create_console_app
from supportbot.console.auth import create_user
from supportbot.devstack import free_port
from supportbot.settings import Settings
from supportbot.store.db import make_engine, session_factory
from tests.console.builders import World, add_awkward_conversations, build_world, create_tracker
from tests.factories import drop_postgres_store, postgres_database, postgres_store, prepared_store

PASSWORD = "correct horse battery staple"
EMAILS = {"admin": "admin@lumen.example", "lead": "lead@lumen.example", "agent": "agent@lumen.example"}


@dataclass
class Console:
    settings: Settings
    sessions: sessionmaker[Session]
    tracker: Engine
    app: FastAPI
    console_app: FastAPI
    world: World


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at a tiny cost in these tests: at the production cost every sign-in took 1-3 s
    on these machines, minutes over the suite, for nothing the tests look at. The production
    parameters are checked in test_security.py; hashes made here still verify there and are
    rehashed at the production cost (the parameters travel in the hash)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    auth._dummy_hash.cache_clear()
    yield
    patch.undo()
    auth._dummy_hash.cache_clear()


def _add_staff(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:  # argon2 takes seconds per hash here: hash once per session
        for role, email in EMAILS.items():
            create_user(session=session, email=email, role=role, password=PASSWORD)


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """backend → one migrated profile store with the catalogue and the staff, per session: a SQLite
    file's path, or a PostgreSQL database's name; each test gets a copy (migrating takes seconds here)."""
    made: dict[str, str] = {}

    def template(backend: str) -> str:
        if backend not in made:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("template") / "support.db"
                sessions = prepared_store(path)
                _add_staff(sessions)
                sessions.kw["bind"].dispose()
                made[backend] = str(path)
            else:
                url, name = postgres_store()
                engine = make_engine(url, poolclass=NullPool)  # a template may keep no connection open
                _add_staff(session_factory(engine))
                engine.dispose()
                made[backend] = name
        return made[backend]

    yield template
    if "postgresql" in made:
        drop_postgres_store(made["postgresql"])


@pytest.fixture(scope="session")
def migrated_store(console_template: Callable[[str], str]) -> Path:
    """The SQLite template (catalogue and staff), for fixtures that build their own store on it
    (tests/console/demo_world.py, the handoff and help-centre tests' console)."""
    return Path(console_template("sqlite"))


def _databases(backend: str, template: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(profile store URL, empty tracker store URL) for one test, on ``backend``."""
    if backend == "sqlite":
        shutil.copyfile(template, tmp_path / "support.db")
        return f"sqlite:///{tmp_path / 'support.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    profile_url, profile = postgres_database(template=template)
    tracker_url, tracker = postgres_database()
    request.addfinalizer(lambda: [drop_postgres_store(name) for name in (profile, tracker)])
    return profile_url, tracker_url


@pytest.fixture
def console(
    tmp_path: Path, store_backend: str, console_template: Callable[[str], str], request: pytest.FixtureRequest
) -> Iterator[Console]:
    database_url, tracker_url = _databases(store_backend, console_template(store_backend), tmp_path, request)
    sessions = session_factory(make_engine(database_url))
    tracker = make_engine(tracker_url)
    create_tracker(tracker)
    with sessions.begin() as session:
        world = build_world(session, tracker)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        tracker_store_url=tracker_url,
        console_secret=SecretStr("s" * 40),
    )
    console_app = create_console_app(settings)
    app = FastAPI()
    app.mount("/console", console_app)
    yield Console(settings, sessions, tracker, app, console_app, world)
    console_app.state.console.stores.dispose()
    tracker.dispose()
    sessions.kw["bind"].dispose()


def login_token(html: str) -> str:
    found = re.search(r'name="login_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def transcript_path(console: Console, conversation_id: str) -> str:
    """The transcript's URL: conversations are named by their ref, the id of their first event."""
    with console.tracker.connect() as connection:
        ref = connection.scalar(text("SELECT min(id) FROM events WHERE sender_id = :s"), {"s": conversation_id})
    assert ref is not None, conversation_id
    return f"/console/transcripts/{ref}"


def export(client: TestClient, csrf: str, *, fmt: str = "json", reveal: bool = False, **filters: str) -> Response:
    """The conversation export (a CSRF-protected POST, filters in the query string)."""
    data = {"csrf_token": csrf, "format": fmt, **({"reveal": "1"} if reveal else {})}
    return client.post("/console/conversations/export", params=filters, data=data)


def sign_in(client: TestClient, role: str) -> TestClient:
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"email": EMAILS[role], "password": PASSWORD, "login_token": login_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def client_for(console: Console, role: str | None) -> TestClient:
    client = TestClient(console.app, base_url="http://localhost")
    return sign_in(client, role) if role else client


@pytest.fixture
def admin(console: Console) -> Iterator[TestClient]:
    with client_for(console, "admin") as client:
        yield client


@pytest.fixture
def lead(console: Console) -> Iterator[TestClient]:
    with client_for(console, "lead") as client:
        yield client


@pytest.fixture
def agent(console: Console) -> Iterator[TestClient]:
    with client_for(console, "agent") as client:
        yield client


@pytest.fixture
def anonymous(console: Console) -> Iterator[TestClient]:
    with client_for(console, None) as client:
        yield client


@pytest.fixture
def awkward(console: Console) -> Console:
    """The console's world plus the conversations of ``builders.add_awkward_conversations``."""
    with console.sessions.begin() as session:
        add_awkward_conversations(session, console.tracker)
    return console


@pytest.fixture
def masked(console: Console) -> Console:
    """``awkward`` without the id with URL characters (for tests of masking alone)."""
    with console.sessions.begin() as session:
        add_awkward_conversations(session, console.tracker, url_characters=False)
    return console


def listed(client: TestClient, **params: str) -> list[str]:
    """The conversation list's link texts (the ids as this viewer sees them)."""
    page = client.get("/console/conversations", params=params)
    assert page.status_code == 200, page.text
    return [
        html.unescape(found)
        for found in re.findall(r'<td><a href="[^"]*/transcripts/[^"]*">([^<]+)</a></td>', page.text)
    ]


@pytest.fixture
def base_url(console: Console) -> Iterator[str]:
    """The app with the console mounted at /console, served by uvicorn on a free local port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(console.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


# The console on the demo data as `make run` leaves it (customer intelligence pages and their browser test).
from tests.console.demo_world import demo_console, demo_template  # noqa: E402, F401
