"""The inbox over real HTTP on real SQLite stores (the console tests' world): who may see and do
what, that the live feeds need a session and carry only redacted text of one conversation, the
CSRF rule on every step, the script-only CSP of the inbox pages, and the handoff KPIs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from supportbot.console import pages_inbox
from supportbot.console.tracker import events
from supportbot.services import handoff as handoffs
from supportbot.services.support import ConversationRef, request_handoff
from supportbot.store.intelligence_models import ChurnScore, CustomerSegment, IntelRun
from supportbot.store.models import SupportInteraction
from tests.console.builders import Conversation, days_ago
from tests.console.conftest import Console, client_for, csrf_token


@pytest.fixture(autouse=True)
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_inbox, "STREAM_SECONDS", 1.5)


def open_handoff(console: Console, conversation_id: str, customer_id: str | None) -> int:
    with console.sessions.begin() as session:
        return request_handoff(
            session=session,
            customer_id=customer_id,
            conversation=ConversationRef(conversation_id, "socketio"),
            reason="i want to talk to a human",
        )


def maya_waits(console: Console) -> int:
    """Maya's website conversation (tests/console/builders.py) asks for a person with her email in it."""
    conversation = f"cust:{console.world.maya}:web"
    (
        Conversation(console.tracker, conversation, days_ago(0.01), channel="socketio")
        .user("Maya Patel here, mail me at maya.patel@mail.example or +1 212 555 0147", "inform", 0.9)
        .save()
    )
    return open_handoff(console, conversation, console.world.maya)


def feed(client: TestClient, path: str) -> str:
    with client.stream("GET", path) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return "".join(response.iter_text())


def test_the_feeds_and_steps_need_a_session(console: Console) -> None:
    handoff_id = maya_waits(console)
    with client_for(console, None) as anonymous:
        for path in ("/console/inbox", "/console/inbox/feed", f"/console/inbox/{handoff_id}/feed"):
            answer = anonymous.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].endswith("/console/login"), path
        for step in ("claim", "reply", "hand-back", "close"):
            assert anonymous.post(f"/console/inbox/{handoff_id}/{step}", data={}).status_code == 401


def test_an_agent_sees_the_queue_and_the_conversation_redacted(console: Console, agent: TestClient) -> None:
    handoff_id = maya_waits(console)
    page = agent.get("/console/inbox")
    assert page.status_code == 200 and f'data-handoff="{handoff_id}"' in page.text
    queue = feed(agent, "/console/inbox/feed")
    messages = feed(agent, f"/console/inbox/{handoff_id}/feed")
    takeover = agent.get(f"/console/inbox/{handoff_id}").text
    for shown in (page.text, queue, messages, takeover):
        assert "maya.patel@mail.example" not in shown and "212 555 0147" not in shown
        assert "Patel" not in shown
    assert "event: queue" in queue and "[EMAIL]" in messages and "[PHONE]" in messages
    assert "M… P…" in page.text  # the name as agents see it everywhere in the console
    # The feed carries this conversation only: Leo's and the anonymous visitor's never appear.
    assert "cust:C100002" not in messages and "anon:" not in messages
    assert agent.get("/console/inbox/999999/feed").status_code == 404


def test_the_customer_context_shows_segment_and_churn_risk_with_reasons(console: Console, agent: TestClient) -> None:
    handoff_id = maya_waits(console)
    with console.sessions.begin() as session:
        run = IntelRun(kind="segments", as_of=dt.datetime.now(dt.UTC), rows=1, summary="{}")
        session.add(run)
        session.flush()
        session.add(
            CustomerSegment(customer_id=console.world.maya, segment="at_risk", run_id=run.id, why="no use in 45 days")
        )
        reasons = [
            {"feature": "days_since_use", "value": 45, "contribution": 0.3, "text": "has not used the app for 45 days"}
        ]
        session.add(
            ChurnScore(
                customer_id=console.world.maya,
                run_id=run.id,
                model_version="t",
                probability=0.72,
                reasons=json.dumps(reasons),
            )
        )
    page = agent.get(f"/console/inbox/{handoff_id}").text
    assert "at_risk" in page and "72%" in page and "has not used the app for 45 days" in page
    assert "Lumen Pen" not in page or "#A1001" in page  # orders by reference
    assert "#A1001 shipped" in page


def test_every_step_needs_the_forms_csrf_token(console: Console, agent: TestClient) -> None:
    handoff_id = maya_waits(console)
    for step in ("claim", "reply", "hand-back", "close"):
        refused = agent.post(f"/console/inbox/{handoff_id}/{step}", data={"csrf_token": "forged", "text": "x"})
        assert refused.status_code == 403, step
    with console.sessions() as session:
        assert handoffs.get_handoff(session=session, handoff_id=handoff_id).status == "open"


def test_an_agent_cannot_close_a_colleagues_conversation_but_a_lead_can(console: Console, lead: TestClient) -> None:
    handoff_id = maya_waits(console)
    with console.sessions.begin() as session:
        handoffs.claim(session=session, handoff_id=handoff_id, agent_id=1)  # the admin account
    with client_for(console, "agent") as agent_client:
        page = agent_client.get(f"/console/inbox/{handoff_id}").text
        assert "Close conversation" not in page and "Message to the customer" not in page
        answer = agent_client.post(
            f"/console/inbox/{handoff_id}/close", data={"csrf_token": csrf_token(page), "outcome": "resolved"}
        )
        assert answer.status_code == 409 and "only they or a lead can close it" in answer.text
    # The lead may; the console has no Rasa API token here, so nothing is sent and nothing changes.
    page = lead.get(f"/console/inbox/{handoff_id}").text
    assert "Close conversation" in page
    answer = lead.post(
        f"/console/inbox/{handoff_id}/close", data={"csrf_token": csrf_token(page), "outcome": "resolved"}
    )
    assert answer.status_code == 502 and "Nothing was sent" in answer.text
    with console.sessions() as session:
        assert handoffs.get_handoff(session=session, handoff_id=handoff_id).status == "claimed"


def test_only_the_inbox_pages_may_run_a_script(console: Console, agent: TestClient) -> None:
    maya_waits(console)
    inbox = agent.get("/console/inbox").headers["content-security-policy"]
    assert "script-src 'self'" in inbox and "connect-src 'self'" in inbox and "default-src 'none'" in inbox
    assert "script-src" not in agent.get("/console/conversations").headers["content-security-policy"]
    script = agent.get("/console/inbox/assets/inbox.js")
    assert script.status_code == 200 and "EventSource" in script.text


def test_the_kpis_count_handoffs_first_replies_and_resolutions(console: Console, lead: TestClient) -> None:
    first, second = maya_waits(console), open_handoff(console, "anon:web:visitor", None)
    now = dt.datetime.now(dt.UTC)
    with console.sessions.begin() as session:
        handoffs.claim(session=session, handoff_id=first, agent_id=1)
        row = session.scalar(select(SupportInteraction).where(SupportInteraction.id == first))
        assert row is not None
        row.first_reply_at = (row.waiting_since or row.created_at) + dt.timedelta(minutes=6)
        handoffs.close(session=session, handoff_id=first, agent_id=1, outcome="resolved", now=now)
        handoffs.close(session=session, handoff_id=second, agent_id=1, outcome="not_resolved", now=now)
    page = lead.get("/console/").text
    assert 'id="kpi-first-reply">6.0 min' in page
    assert 'id="kpi-resolved">50 %' in page
    assert "Handoffs per day" in page and "kpi-handoffs-per-day" in page
    assert "<td>Admin</td><td>2</td><td>1</td>" in page


def test_the_transcript_shows_which_person_wrote(console: Console, lead: TestClient) -> None:
    conversation = "anon:web:withagent"
    talk = Conversation(console.tracker, conversation, days_ago(0.01), channel="socketio").user("help", "greet")
    talk._add(
        "bot",
        {
            "text": "Ana from support joined the conversation.",
            "data": {},
            "metadata": {"agent": {"id": 1, "name": "Ana", "event": "joined"}},
        },
    )
    talk.save()
    with console.tracker.connect() as connection:
        ref = connection.scalar(select(func.min(events.c.id)).where(events.c.sender_id == conversation))
    assert "Ana (agent)" in lead.get(f"/console/transcripts/{ref}").text
