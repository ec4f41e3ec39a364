"""An agent takes over a messaging-channel conversation, end to end: the real Rasa and action
servers of the session stack, the customer on the callback channel (a stand-in gateway on
127.0.0.1 receives what Rasa sends), the console in-process on the same two stores.

Proves the Rasa 3.6 mechanics the takeover rests on (supportbot/console/relay.py): the pause
appended with ``tracker/events`` stops the bot from answering while the customer's messages
are still recorded; agent messages appended with ``output_channel=callback`` reach the
customer's channel and stay in the tracker as bot utterances carrying the agent; the resume
brings the bot back; and closing plans the ``csat_followup`` campaign.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from starlette.routing import Mount

from scheduler.handoff_job import escalate
from supportbot.console.relay import ConversationRelay
from supportbot.console.takeover import HAND_BACK_LINE
from supportbot.store.models import ChannelIdentity, Consent, SupportInteraction, utcnow
from supportbot.store.perk_models import PerkGrant
from tests.handoff.conftest import Agent, plan_csat_followups
from tests.prepared import Stack

pytestmark = pytest.mark.e2e

CUSTOMER = "C000021"
CUSTOMER_SAYS = ["hello? my sync stopped working", "it says error 42 on my phone", "yes, I restarted it already"]
AGENT_SAYS = ["Hi, I'm looking at your account now.", "Thanks, that helps.", "I've reset your sync; try again now."]


def texts(stack: Stack, sender: str) -> list[str]:
    return [str(body.get("text", "")) for _, body in stack.gateway.received(sender)]


def the_handoff(stack: Stack, sender: str) -> SupportInteraction:
    with stack.sessions() as session:
        row = session.scalar(
            select(SupportInteraction).where(
                SupportInteraction.conversation_id == sender, SupportInteraction.kind == "handoff"
            )
        )
        assert row is not None, f"no handoff recorded for {sender}"
        session.expunge(row)
        return row


def feed_text(agent: Agent, handoff_id: int, after: int = 0) -> str:
    """What the conversation's live feed sends (the stream ends after a few seconds in tests)."""
    with agent.client.stream("GET", f"/console/inbox/{handoff_id}/feed", params={"after": after}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return "".join(response.iter_text())


def test_an_agent_takes_over_a_messaging_conversation(
    stack: Stack, staff: dict[str, int], sign_in: Any, short_streams: None
) -> None:
    sender = f"gw-handoff-{uuid.uuid4().hex[:8]}"
    with stack.sessions.begin() as session:  # linked before, as actions/linking.py would have done
        session.add(ChannelIdentity(customer_id=CUSTOMER, channel="callback", external_id=sender, linked_at=utcnow()))
        session.execute(delete(Consent).where(Consent.customer_id == CUSTOMER))  # every kind granted

    assert stack.callback(sender, "I want to talk to a person").status_code == 200
    asked = stack.gateway.wait_for(sender, 1)
    assert "support team" in str(asked[0]["text"])
    handoff = the_handoff(stack, sender)
    assert (handoff.status, handoff.customer_id, handoff.channel) == ("open", CUSTOMER, "callback")

    ana, ben = sign_in("ana@lumen.example"), sign_in("ben@lumen.example")
    inbox = ana.page("/console/inbox")
    assert f'data-handoff="{handoff.id}"' in inbox
    assert "callback" in inbox

    assert ana.post(f"/console/inbox/{handoff.id}/claim").status_code == 303
    joined = stack.gateway.wait_for(sender, 2)[1]
    assert joined["text"] == "Ana from support joined the conversation."
    refused = ben.post(f"/console/inbox/{handoff.id}/claim")
    assert refused.status_code == 409 and "already assigned to Ana" in refused.text
    assert stack.tracker(sender)["paused"] is True

    for customer_line, agent_line in zip(CUSTOMER_SAYS, AGENT_SAYS, strict=True):
        before = len(texts(stack, sender))
        assert stack.callback(sender, customer_line).status_code == 200  # returns once Rasa has handled it
        assert len(texts(stack, sender)) == before, "the bot answered while a person had the conversation"
        assert json.dumps(customer_line)[1:-1] in feed_text(ana, handoff.id)
        assert ana.post(f"/console/inbox/{handoff.id}/reply", text=agent_line).status_code == 303
        assert stack.gateway.wait_for(sender, before + 1)[-1]["text"] == agent_line
    # One click: goodwill points through the perks service, once, told to the customer in Ana's name.
    before = len(texts(stack, sender))
    assert ana.post(f"/console/inbox/{handoff.id}/goodwill").status_code == 303
    assert "200 bonus loyalty points" in str(stack.gateway.wait_for(sender, before + 1)[-1]["text"])
    again = ana.post(f"/console/inbox/{handoff.id}/goodwill")
    assert again.status_code == 409 and "granted already" in again.text
    with stack.sessions() as session:
        grants = session.scalars(select(PerkGrant).where(PerkGrant.grant_key == f"handoff{handoff.id}:goodwill")).all()
        assert [(g.customer_id, g.points) for g in grants] == [(CUSTOMER, 200)]
    # A link code only goes into a signed-in web chat, never into a messaging conversation.
    refused = ana.post(f"/console/inbox/{handoff.id}/link-code")
    assert refused.status_code == 409 and "website chat" in refused.text
    # Only the agent assigned writes to the customer.
    assert ben.post(f"/console/inbox/{handoff.id}/reply", text="me too").status_code == 409

    events = stack.tracker(sender)["events"]
    by_agent = [e for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("agent")]
    assert [e["text"] for e in by_agent if e["metadata"]["agent"]["event"] == "message"][:3] == AGENT_SAYS
    assert {e["metadata"]["agent"]["id"] for e in by_agent} == {staff["ana@lumen.example"]}
    assert [e["text"] for e in events if e["event"] == "user"][-3:] == CUSTOMER_SAYS
    assert the_handoff(stack, sender).first_reply_at is not None

    assert ana.post(f"/console/inbox/{handoff.id}/hand-back").status_code == 303
    said = stack.gateway.wait_for(sender, len(texts(stack, sender)))
    assert [said[-2]["text"], said[-1]["text"]] == ["Ana left the conversation.", HAND_BACK_LINE]
    assert stack.tracker(sender)["paused"] is False
    before = len(texts(stack, sender))
    assert stack.callback(sender, "what plan am I on?").status_code == 200
    answer = stack.gateway.wait_for(sender, before + 1)[before]
    assert "plan" in str(answer["text"]).lower()

    assert ana.post(f"/console/inbox/{handoff.id}/close", outcome="resolved", note="sync reset").status_code == 303
    closed = the_handoff(stack, sender)
    assert (closed.status, closed.outcome, closed.closed_by) == ("closed", "resolved", staff["ana@lumen.example"])
    assert f'data-handoff="{handoff.id}"' not in ana.page("/console/inbox")

    planned = plan_csat_followups(stack, CUSTOMER)
    assert [(row.occasion, row.status) for row in planned if row.occasion == f"handoff{handoff.id}"] == [
        (f"handoff{handoff.id}", "planned")
    ]


def test_a_claim_that_rasa_cannot_take_is_undone(
    stack: Stack, staff: dict[str, int], sign_in: Any, console_app: FastAPI
) -> None:
    """Rasa unreachable (wrong address): the claim is rolled back, the customer still waits."""
    sender = f"gw-handoff-{uuid.uuid4().hex[:8]}"
    assert stack.callback(sender, "can I talk to a human please").status_code == 200
    stack.gateway.wait_for(sender, 1)
    handoff = the_handoff(stack, sender)
    ana = sign_in("ana@lumen.example")
    mount = next(route for route in console_app.routes if isinstance(route, Mount))
    mount.app.state.console.takeover._relay.base_url = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    answer = ana.post(f"/console/inbox/{handoff.id}/claim")
    assert answer.status_code == 502 and "Nothing was sent" in answer.text
    assert the_handoff(stack, sender).status == "open"
    assert stack.tracker(sender)["paused"] is False
    assert len(stack.gateway.received(sender)) == 1


def test_a_customer_left_waiting_is_escalated_and_told_the_wait(
    stack: Stack, staff: dict[str, int], sign_in: Any
) -> None:
    sender = f"gw-handoff-{uuid.uuid4().hex[:8]}"
    assert stack.callback(sender, "I need a human").status_code == 200
    stack.gateway.wait_for(sender, 1)
    handoff = the_handoff(stack, sender)
    with stack.sessions.begin() as session:  # asked 20 minutes ago
        row = session.get(SupportInteraction, handoff.id)
        assert row is not None and row.waiting_since is not None
        row.waiting_since -= dt.timedelta(minutes=20)
    relay = ConversationRelay(base_url=stack.rasa_url, token=stack.api_token)
    assert escalate(sessions=stack.sessions, relay=relay, after=dt.timedelta(minutes=10)) >= 1
    again = escalate(sessions=stack.sessions, relay=relay, after=dt.timedelta(minutes=10))
    told = stack.gateway.wait_for(sender, 2)[1]
    assert str(told["text"]).startswith("Sorry for the wait") and "in the queue" in str(told["text"])
    assert again == 0 and len(stack.gateway.received(sender)) == 2  # told once
    inbox = sign_in("ana@lumen.example").page("/console/inbox")
    rows = re.findall(r'<tr class="handoff( escalated)?" data-handoff="(\d+)" data-status="open"', inbox)
    assert rows[0] == (" escalated", str(handoff.id)), rows
