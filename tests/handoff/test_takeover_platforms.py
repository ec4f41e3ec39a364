"""The takeover on every messaging platform, end to end: Telegram, Slack, Messenger, SMS and
WhatsApp (Twilio) webhooks signed as the platforms sign them, into one real Rasa with every
channel switched on, and the platforms' APIs faked on 127.0.0.1 (tests/channels/platforms.py,
the channel tests' own stack). The console, in-process on that stack's stores, claims the
conversation, writes to the customer, and hands back: what the customer gets is what reached
the platform's API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from supportbot.console.app import create_console_app
from supportbot.console.auth import create_user
from supportbot.console.takeover import HAND_BACK_LINE
from supportbot.settings import Settings
from supportbot.store.console_models import ConsoleUser
from supportbot.store.models import SupportInteraction
from tests.channels.conftest import PlatformStack, platform_stack
from tests.channels.platforms import Call, PlatformUser
from tests.handoff.conftest import PASSWORD

__all__ = ["platform_stack"]  # the channel tests' module-scoped stack, started once for this module
pytestmark = pytest.mark.e2e

USERS = ("telegram", "slack", "facebook", "sms", "whatsapp")


@pytest.fixture(scope="module")
def agent(platform_stack: PlatformStack) -> Iterator[TestClient]:
    """Ana, signed into a console on the platform stack's stores and its Rasa."""
    with platform_stack.sessions.begin() as session:
        if session.scalar(select(ConsoleUser).where(ConsoleUser.email == "ana@lumen.example")) is None:
            create_user(
                session=session, email="ana@lumen.example", role="agent", password=PASSWORD
            ).display_name = "Ana"
    demo = platform_stack.demo
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=demo.database_url,
        tracker_store_url=f"sqlite:///{demo.tracker_db}",
        rasa_url=demo.rasa_url,
        rasa_api_token=SecretStr(demo.api_token),
        console_secret=SecretStr("c" * 40),
    )
    console = create_console_app(settings)
    app = FastAPI()
    app.mount("/console", console)
    with TestClient(app, base_url="http://localhost") as client:
        page = client.get("/console/login").text
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token
        signed_in = client.post(
            "/console/login",
            data={"email": "ana@lumen.example", "password": PASSWORD, "login_token": token.group(1)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        yield client
    console.state.console.stores.dispose()


def post(agent: TestClient, path: str, **data: str) -> int:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', agent.get("/console/inbox").text)
    assert csrf
    return agent.post(path, data={"csrf_token": csrf.group(1), **data}, follow_redirects=False).status_code


def received(user: PlatformUser) -> list[Call]:
    """Everything sent to this user: Slack answers a message in its DM channel, and messages
    that answer nothing (an agent's, proactive ones) to the user id, both the same person."""
    calls = user.messages()
    if user.platform == "slack":
        calls += user.apis.messages_to("slack", user.user_id)
    return calls


def wait_for(user: PlatformUser, count: int, timeout: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(texts := [c.text for c in received(user)]) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{user.platform}: got {texts}, wanted {count} messages")
        time.sleep(0.2)
    return texts


@pytest.mark.parametrize("platform", USERS)
def test_an_agent_takes_over_on_the_customers_platform(
    platform_stack: PlatformStack, agent: TestClient, platform: str
) -> None:
    user = platform_stack.user(platform)
    user.send("I want to talk to a person")
    assert "support team" in wait_for(user, 1)[0]
    with platform_stack.sessions() as session:
        handoff_id = session.scalar(
            select(SupportInteraction.id).where(
                SupportInteraction.conversation_id == user.conversation_id, SupportInteraction.kind == "handoff"
            )
        )
    assert handoff_id is not None

    assert post(agent, f"/console/inbox/{handoff_id}/claim") == 303
    assert wait_for(user, 2)[1] == "Ana from support joined the conversation."
    user.send("hello? my sync is broken")
    assert post(agent, f"/console/inbox/{handoff_id}/reply", text="Hi, Ana here. Let me check.") == 303
    assert wait_for(user, 3)[2] == "Hi, Ana here. Let me check."
    assert "hello? my sync is broken" in [e.get("text") for e in user.tracker()["events"] if e["event"] == "user"]

    assert post(agent, f"/console/inbox/{handoff_id}/hand-back") == 303
    said = wait_for(user, 5)
    # Exactly these, in this order: had the bot answered "hello?" while paused, it would be here.
    assert said[1:] == [
        "Ana from support joined the conversation.",
        "Hi, Ana here. Let me check.",
        "Ana left the conversation.",
        HAND_BACK_LINE,
    ]
    user.send("what plan am I on?")
    assert len(wait_for(user, 6)) >= 6  # the bot answers again
