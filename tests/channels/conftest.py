"""One real stack with every messaging channel switched on, for the channel tests.

The stack is ``supportbot.devstack.start_demo_stack`` (the end-to-end tests' own: profile
DB with the demo data, action server, Rasa through ``bot.server``) with the channels'
environment variables set and their platform APIs pointed at ``FakePlatformAPIs``. Rasa
takes minutes to start on these machines, so it is started once per module that asks
for it (``tests/channels/test_platforms.py`` holds every test that needs it).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.devstack import DemoStack, start_demo_stack
from supportbot.identity import mint_customer_token
from supportbot.store.db import make_engine, session_factory
from supportbot.store.models import LinkAttempt
from tests.channels.platforms import FakePlatformAPIs, PlatformUser, Secrets
from tests.prepared import DEMO_REFERENCE_DATE


@dataclass
class PlatformStack:
    demo: DemoStack
    apis: FakePlatformAPIs
    keys: Secrets
    sessions: sessionmaker[Session]
    environment: dict[str, str]
    """The channels' variables, as the Rasa server got them (the scheduler needs them too)."""

    @property
    def rasa_url(self) -> str:
        return self.demo.rasa_url

    def user(self, platform: str, user_id: str = "") -> PlatformUser:
        return PlatformUser(platform, self.rasa_url, self.keys, self.apis, self.demo.api_token, user_id)

    def say_on_web(self, customer_id: str, text: str) -> str:
        """One verified website turn (REST channel) of ``customer_id``; the bot's texts."""
        token = mint_customer_token(customer_id=customer_id, secret=self.demo.secret, ttl_seconds=600)
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": "web", "message": text, "metadata": {"customer_token": token}},
            timeout=180,
        )
        response.raise_for_status()
        return "\n".join(str(m.get("text", "")) for m in response.json())

    def stored_events(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's events as Rasa's tracker store holds them (read directly, so
        that looking changes nothing)."""
        with sqlite3.connect(self.demo.tracker_db) as db:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone()
            rows = (
                db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (conversation_id,)).fetchall()
                if exists
                else []
            )
        return [json.loads(data) for (data,) in rows]

    def link_attempts(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(LinkAttempt)) or 0)


@pytest.fixture(scope="module")
def platform_stack(trained_model: Path) -> Iterator[PlatformStack]:
    apis, keys = FakePlatformAPIs(), Secrets()
    environment = keys.environment(apis)
    workdir = Path(tempfile.mkdtemp(prefix="supportbot-channels-"))
    try:
        demo = start_demo_stack(
            model=trained_model, workdir=workdir, extra_env=environment, reference_date=DEMO_REFERENCE_DATE
        )
    except BaseException:
        apis.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    engine = make_engine(demo.database_url)
    try:
        yield PlatformStack(demo, apis, keys, session_factory(engine), environment)
    finally:
        demo.stop()
        engine.dispose()
        apis.close()
        shutil.rmtree(workdir, ignore_errors=True)
