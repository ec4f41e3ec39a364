"""Shared fixtures: a trained model, Rasa's own test run and a running stack (real Rasa +
action servers), all prepared in the background (tests/prepared.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser import launch_browser
from tests.factories import BACKENDS, drop_postgres_store, migrated_store, postgres_database, postgres_store
from tests.prepared import Preparation, RasaTest, Stack, Training

__all__ = ["Stack", "texts"]

_PREPARATION: Preparation | None = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need no Rasa model run first, while the model trains in the background
    (tests/prepared.py); then those that need only the model, then those that need the stack,
    then those of the scaled stack (tests/scale)."""

    def needs(item: pytest.Item) -> int:
        names = set(getattr(item, "fixturenames", ()))
        if "scaled" in names:  # the scaled stack's replicas start after the single stack's tests
            return 3
        return 2 if "stack" in names else 1 if names & {"trained_model", "training", "rasa_test_run"} else 0

    items.sort(key=needs)  # stable: file order within each group


def pytest_collection_finish(session: pytest.Session) -> None:
    global _PREPARATION
    if session.config.option.collectonly:
        return
    names = set().union(*(set(getattr(item, "fixturenames", ())) for item in session.items)) if session.items else set()
    want_stack = "stack" in names
    want_tests = "rasa_test_run" in names
    if want_stack or want_tests or names & {"trained_model", "training"}:
        _PREPARATION = Preparation(want_tests=want_tests, want_stack=want_stack)
        _PREPARATION.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _PREPARATION is not None:
        _PREPARATION.close()


def _preparation() -> Preparation:
    if _PREPARATION is None:
        raise RuntimeError("the background preparation did not start (tests/conftest.py)")
    return _PREPARATION


@pytest.fixture(scope="session")
def training() -> Training:
    """``rasa train`` into models/ (Rasa skips training when data and config are unchanged)."""
    return _preparation().training.get()


@pytest.fixture(scope="session")
def trained_model(training: Training) -> Path:
    return training.model


@pytest.fixture(scope="session")
def rasa_test_run() -> RasaTest:
    """One ``rasa test`` run: the conversation stories and the held-out NLU set."""
    return _preparation().rasa_test.get()


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


@pytest.fixture(scope="session")
def stack() -> Stack:
    """A profile database with the demo data, the action server and ``rasa run`` on it
    (started in the background; stopped when the session ends)."""
    return _preparation().stack.get()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (tests/browser.py).

    One per module, never per session: while Playwright's sync API runs it keeps an asyncio
    loop marked running in the main thread, so every asyncio test after it would fail with
    "Cannot run the event loop while another loop is running"."""
    yield from launch_browser()


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: every test that takes a store through ``new_store`` runs on both."""
    return str(request.param)


@pytest.fixture
def new_store(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """``new_store(catalogue=True)``: the URL of a fresh store migrated to head, on this test's
    backend: a copy of one migrated SQLite file, or a PostgreSQL database made from a migrated
    template (``tests/factories.py``), dropped after the test."""

    def make(*, catalogue: bool = True) -> str:
        if store_backend == "sqlite":
            return migrated_store(tmp_path_factory.mktemp("db") / "support.db", catalogue=catalogue)
        url, name = postgres_store(catalogue=catalogue)
        request.addfinalizer(lambda: drop_postgres_store(name))
        return url

    return make


@pytest.fixture
def empty_database_url(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no tables at all, on this test's backend (for tests of the migrations themselves)."""
    if store_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url, name = postgres_database()
    request.addfinalizer(lambda: drop_postgres_store(name))
    return url
