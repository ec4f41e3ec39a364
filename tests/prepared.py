"""The slow, shared things the Rasa-backed tests need, prepared in the background.

Training the model, running ``rasa test`` and starting the Rasa + action servers take
most of the suite's time on two cores, and each of them is one process mostly using
one core. They start as soon as pytest has collected the tests (if any collected test
needs them) and run while the tests that need none of them use the other core; the
fixtures in ``tests/conftest.py`` wait for what they need. The chain:

    rasa train ─┬─► rasa test (stories + held-out NLU)     → ``rasa_test``
                └─► profile DB + action server + rasa run   → ``stack``

Every step keeps its output, and a failure is raised in each test that needs the step
(with the output), never swallowed.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from supportbot.devstack import (
    ROOT,
    DemoStack,
    RecordingGateway,
    Server,
    base_env,
    newest_model,
    rasa_executable,
    start_demo_stack,
)
from supportbot.identity import mint_customer_token
from supportbot.store.db import make_engine, session_factory

DEMO_REFERENCE_DATE = dt.datetime.now(dt.UTC).date()
T = TypeVar("T")


def run_rasa(*args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    """Run a rasa CLI command from the project root, as a Rasa user would."""
    return subprocess.run(
        [str(rasa_executable()), *args],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Step(Generic[T]):
    """A result produced by a background thread; ``get`` waits for it or raises its failure."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self, produce: Callable[[], T]) -> None:
        try:
            self._value = produce()
        except BaseException as exc:  # handed to every test that needs this step
            self._error = exc
        finally:
            self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def get(self, timeout: float = 3600) -> T:
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"{self.name} failed: {self._error}") from self._error
        assert self._value is not None
        return self._value


@dataclass
class Training:
    model: Path
    output: str
    """Everything ``rasa train`` printed, its data validation included (the same checks as
    ``rasa data validate``, run by Rasa before training)."""


@dataclass
class RasaTest:
    returncode: int
    output: str
    out: Path


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    api_token: str
    secret: str
    actions_token: str
    database_url: str
    sessions: sessionmaker[Session]
    servers: list[Server]
    engine: Any
    gateway: RecordingGateway
    """Where Rasa's callback channel sends bot messages (``CALLBACK_URL``)."""
    callback_token: str
    tracker_db: Path
    demo: DemoStack
    """The processes themselves: ``demo.stop_actions()`` / ``demo.start_actions()`` for outage tests."""

    def callback(self, sender: str, text: str, *, token: str | None = None) -> httpx.Response:
        """A message from the stand-in gateway's user ``sender`` (the callback channel)."""
        token = self.callback_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}  # "" sends no header at all
        return httpx.post(
            f"{self.rasa_url}/webhooks/callback/webhook",
            json={"sender": sender, "message": text},
            headers=headers,
            timeout=180,
        )

    def token(self, customer_id: str, *, ttl_seconds: int = 600) -> str:
        return mint_customer_token(customer_id=customer_id, secret=self.secret, ttl_seconds=ttl_seconds)

    def say(
        self,
        sender: str,
        text: str,
        *,
        token: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """One user turn over the REST channel; returns the bot's messages."""
        response = self.rest(sender, text, token=token, metadata=metadata, message_id=message_id)
        response.raise_for_status()
        return list(response.json())

    def rest(
        self,
        sender: str,
        text: str,
        *,
        token: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> httpx.Response:
        """One request to the REST channel, whatever its answer."""
        meta = dict(metadata or {})
        if token is not None:
            meta["customer_token"] = token
        body: dict[str, Any] = {"sender": sender, "message": text, "metadata": meta}
        if message_id is not None:
            body["message_id"] = message_id
        return httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=180)

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": self.api_token, "include_events": "ALL"},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())


@dataclass
class Preparation:
    want_tests: bool
    want_stack: bool
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="supportbot-tests-")))
    training: Step[Training] = field(default_factory=lambda: Step("rasa train"))
    rasa_test: Step[RasaTest] = field(default_factory=lambda: Step("rasa test"))
    stack: Step[Stack] = field(default_factory=lambda: Step("the Rasa + action server stack"))

    def start(self) -> None:
        threading.Thread(target=self._chain, name="prepare-rasa", daemon=True).start()

    def _chain(self) -> None:
        self.training.run(self._train)
        try:
            self.training.get(timeout=0)
        except BaseException as exc:
            self.rasa_test.fail(exc)
            self.stack.fail(exc)
            return
        threads = []
        if self.want_tests:
            threads.append(threading.Thread(target=self.rasa_test.run, args=(self._rasa_test,), daemon=True))
        if self.want_stack:
            threads.append(threading.Thread(target=self.stack.run, args=(self._start_stack,), daemon=True))
        for thread in threads:
            thread.start()

    def _train(self) -> Training:
        result = run_rasa("train", "--out", "models")
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"exit {result.returncode}:\n{output[-6000:]}")
        return Training(model=newest_model(), output=output)

    def _rasa_test(self) -> RasaTest:
        out = self.workdir / "rasa-test"
        out.mkdir()
        model = self.training.get().model
        result = run_rasa(
            "test",
            "--model",
            str(model),
            "--stories",
            "tests/stories",
            "--nlu",
            "tests/nlu",
            "--fail-on-prediction-errors",
            "--out",
            str(out),
        )
        return RasaTest(result.returncode, result.stdout[-4000:] + result.stderr[-4000:], out)

    def _start_stack(self) -> Stack:
        tmp = self.workdir / "stack"
        tmp.mkdir()
        gateway, callback_token = RecordingGateway(), secrets.token_urlsafe(24)
        try:
            demo = start_demo_stack(
                model=self.training.get().model,
                workdir=tmp,
                extra_env={"CALLBACK_URL": gateway.url, "CALLBACK_TOKEN": callback_token},
                reference_date=DEMO_REFERENCE_DATE,
            )
        except BaseException:
            gateway.close()
            raise
        engine = make_engine(demo.database_url)
        return Stack(
            rasa_url=demo.rasa_url,
            actions_url=demo.actions_url,
            api_token=demo.api_token,
            secret=demo.secret,
            actions_token=demo.actions_token,
            database_url=demo.database_url,
            sessions=session_factory(engine),
            servers=demo.servers,
            engine=engine,
            gateway=gateway,
            callback_token=callback_token,
            tracker_db=demo.tracker_db,
            demo=demo,
        )

    def close(self) -> None:
        """Stop the servers (waiting for a start-up still under way) and remove the work folder."""
        if self.want_stack:
            try:
                parts = self.stack.get(timeout=1800)
            except BaseException:
                parts = None
            if parts is not None:
                for server in parts.servers:
                    server.stop()
                parts.engine.dispose()
                parts.gateway.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
