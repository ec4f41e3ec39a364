"""Shared fixtures: a trained model and a running stack (real Rasa + action servers)."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.identity import mint_customer_token
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.migrate import upgrade_database
from tests.support.processes import (
    ROOT,
    Server,
    base_env,
    free_port,
    http_ok,
    rasa_executable,
    start_server,
    wait_until,
)

DEMO_REFERENCE_DATE = dt.datetime.now(dt.UTC).date()


def run_rasa(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run a rasa CLI command from the project root, as a Rasa user would."""
    return subprocess.run(
        [str(rasa_executable()), *args],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """Train into models/ (Rasa skips training when data and config are unchanged)."""
    result = run_rasa("train", "--out", "models")
    assert result.returncode == 0, f"rasa train failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    assert models, "rasa train produced no model"
    return models[-1]


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    api_token: str
    secret: str
    sessions: sessionmaker[Session]
    servers: list[Server]

    def token(self, customer_id: str, *, ttl_seconds: int = 600) -> str:
        return mint_customer_token(customer_id=customer_id, secret=self.secret, ttl_seconds=ttl_seconds)

    def say(
        self, sender: str, text: str, *, token: str | None = None, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One user turn over the REST channel; returns the bot's messages."""
        meta = dict(metadata or {})
        if token is not None:
            meta["customer_token"] = token
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": meta},
            timeout=60,
        )
        response.raise_for_status()
        return list(response.json())

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": self.api_token},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    db_url = f"sqlite:///{tmp / 'profile.db'}"
    upgrade_database(url=db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    load_demo_data(session_factory=sessions, reference_date=DEMO_REFERENCE_DATE)

    rasa_port, actions_port = free_port(), free_port()
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{tmp / "tracker.db"}"\n'
    )
    secret, api_token = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    env = base_env(CUSTOMER_TOKEN_SECRET=secret, SUPPORTBOT_DATABASE_URL=db_url)
    actions = start_server(
        "actions",
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
        env=env,
        log_dir=tmp,
    )
    rasa = start_server(
        "rasa",
        [
            str(rasa_executable()),
            "run",
            "--enable-api",
            "--auth-token",
            api_token,
            "--port",
            str(rasa_port),
            "--model",
            str(trained_model),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(ROOT / "credentials.yml"),
        ],
        env=env,
        log_dir=tmp,
    )
    servers = [actions, rasa]
    try:
        wait_until(actions, http_ok(f"http://127.0.0.1:{actions_port}/health"), timeout=300)
        wait_until(rasa, http_ok(f"http://127.0.0.1:{rasa_port}/status?token={api_token}"), timeout=600)
        yield Stack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            actions_url=f"http://127.0.0.1:{actions_port}",
            api_token=api_token,
            secret=secret,
            sessions=sessions,
            servers=servers,
        )
    finally:
        for server in servers:
            server.stop()
        engine.dispose()
