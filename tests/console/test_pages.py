"""What the console shows and does, over real HTTP against real SQLite stores."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text

from supportbot.console import __main__ as cli
from supportbot.console.auth import authenticate, start_session
from supportbot.store.console_models import (
    ConsoleSession,
    ConsoleUser,
    ConversationNote,
    ConversationReview,
    ConversationTag,
)
from supportbot.store.feedback_models import FeedbackFollowUp
from supportbot.store.schema import Base
from tests.console.conftest import Console, csrf_token, export, listed, transcript_path


def test_conversation_filters(lead: TestClient) -> None:
    assert sorted(listed(lead)) == ["anon:3f9a", "cust:C100001:web", "cust:C100002:web", "tg-99812"]
    assert listed(lead, handoff="yes") == ["cust:C100001:web"]
    assert listed(lead, fallback="yes") == ["anon:3f9a"]
    assert listed(lead, proactive="yes") == ["cust:C100002:web"]
    assert sorted(listed(lead, proactive="no")) == ["anon:3f9a", "cust:C100001:web", "tg-99812"]
    assert listed(lead, channel="telegram") == ["tg-99812"]
    assert listed(lead, verified="no") == ["anon:3f9a"]
    assert sorted(listed(lead, customer="C100001")) == ["cust:C100001:web", "tg-99812"]
    assert listed(lead, intent="renew_now") == ["cust:C100002:web"]
    assert listed(lead, csat="2") == ["cust:C100001:web"]
    assert sorted(listed(lead, csat="any")) == ["cust:C100001:web", "cust:C100002:web"]
    assert sorted(listed(lead, csat="none")) == ["anon:3f9a", "tg-99812"]
    assert listed(lead, q="shipped") == ["tg-99812"]
    assert listed(lead, since="2000-01-01", until="2000-01-02") == []
    assert listed(lead, handoff="yes", verified="no") == []
    page = lead.get("/console/conversations", params={"since": "yesterday-ish"})
    assert "since: not a date" in page.text


def test_pagination_keeps_the_filters(console: Console, lead: TestClient) -> None:
    console.console_app.state.console.settings.console_page_size = 2
    first = lead.get("/console/conversations", params={"verified": "yes"}).text
    assert "Page 1 of 2" in first and '<span id="total">3</span>' in first
    next_link = re.search(r'rel="next" href="([^"]+)"', first)
    assert next_link and "verified=yes" in next_link.group(1).replace("&amp;", "&")
    second = lead.get(next_link.group(1).replace("&amp;", "&")).text
    assert "Page 2 of 2" in second
    assert len(listed(lead, verified="yes")) + len(listed(lead, verified="yes", page="2")) == 3


def test_transcript_shows_intents_actions_slots_handoffs_and_proactive_messages(
    console: Console, lead: TestClient
) -> None:
    maya = lead.get(transcript_path(console, "cust:C100001:web")).text
    assert "<code>ask_renewal</code> (0.87)" in maya
    assert "⇄ Handoff to a person" in maya and "<code>action_handoff</code>" in maya
    assert "slot <code>handoff_requested</code> = true" in maya
    leo = lead.get(transcript_path(console, "cust:C100002:web")).text
    assert "proactive trigger</span> <code>EXTERNAL_renewal_reminder</code>" in leo
    assert 'class="turn bot proactive"><span class="badge pro">proactive message</span>' in leo
    assert "[Stop renewal reminders]" in leo
    assert lead.get("/console/transcripts", params={"id": "nobody-here"}).status_code == 404
    assert lead.get("/console/transcripts/987654").status_code == 404
    found = lead.get("/console/transcripts", params={"id": "cust:C100002:web"}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].endswith(transcript_path(console, "cust:C100002:web"))


def test_tags_review_and_notes(console: Console, lead: TestClient) -> None:
    url = transcript_path(console, "tg-99812")
    token = csrf_token(lead.get(url).text)
    lead.post(url + "/tags", data={"tag": "Delivery", "csrf_token": token})
    lead.post(url + "/tags", data={"tag": "refund", "csrf_token": token})
    lead.post(url + "/tags/remove", data={"tag": "refund", "csrf_token": token})
    lead.post(url + "/review", data={"status": "reviewed", "csrf_token": token})
    lead.post(url + "/notes", data={"text": "Customer gave her number +1 212 555 0147", "csrf_token": token})
    assert lead.post(url + "/review", data={"status": "bogus", "csrf_token": token}).status_code == 403
    page = lead.get(url).text
    assert '<span class="badge">delivery</span>' in page and "refund" not in page
    assert "[PHONE]" in page and "555 0147" not in page  # notes are redacted like messages
    assert listed(lead, tag="delivery") == ["tg-99812"]
    assert listed(lead, review="reviewed") == ["tg-99812"]
    assert "tg-99812" not in listed(lead, review="unreviewed")
    with console.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConversationNote)) == 1
        assert session.get(ConversationReview, "tg-99812").status == "reviewed"  # type: ignore[union-attr]


def test_export_of_the_filtered_set_as_json_and_csv(lead: TestClient) -> None:
    token = csrf_token(lead.get("/console/conversations").text)
    data = export(lead, token, customer="C100001").json()["conversations"]
    assert sorted(c["conversation_id"] for c in data) == ["cust:C100001:web", "tg-99812"]
    web = next(c for c in data if c["conversation_id"] == "cust:C100001:web")
    assert web["handoff"] is True and web["csat"] == 2 and web["customer_id"] == "C100001"
    assert web["messages"][0] == {
        "at": web["messages"][0]["at"],
        "from": "customer",
        "text": "hi",
        "intent": "greet",
        "confidence": 0.99,
        "proactive": False,
    }
    assert "Maya" not in json.dumps(data)  # redacted unless asked for
    revealed = export(lead, token, reveal=True, customer="C100001").text
    assert "Maya" in revealed
    response = export(lead, token, fmt="csv", fallback="yes")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["conversation_id"] for r in rows] == ["anon:3f9a"]
    assert rows[0]["fallback"] == "True" and "customer: <script>" in rows[0]["transcript"]


def test_kpis(lead: TestClient) -> None:
    page = lead.get("/console/").text

    def card(name: str) -> str:
        found = re.search(rf'id="kpi-{name}">([^<]+)<', page)
        assert found, name
        return found.group(1)

    # Four conversations with customer messages; one handed off; 1 of 7 customer messages a fallback.
    assert card("conversations") == "4"
    assert card("containment") == "75 %" and card("handoff") == "25 %"
    assert card("fallback") == "14 %"
    assert card("csat") == "3.50"  # ratings 2 and 5
    assert card("nps") == "0"  # one promoter (10), one detractor (3)
    assert card("reply") == "100 %"  # both proactive messages were answered
    assert card("optout") == "50 %"  # the usage tip, not the renewal reminder
    assert page.count('class="bar"') == 30


def test_feedback_page_and_marking_a_follow_up_done(console: Console, lead: TestClient) -> None:
    page = lead.get("/console/feedback").text
    assert "logged out of the app" in page and "[NAME] here, the app logs me out" in page
    assert "Maya here" not in page
    assert page.count('class="point"') >= 2  # CSAT and NPS points drawn
    with console.sessions() as session:
        follow_up = session.scalar(select(FeedbackFollowUp))
        assert follow_up is not None
    lead.post(
        f"/console/feedback/follow-ups/{follow_up.id}/done",
        data={"note": "called her", "csrf_token": csrf_token(page)},
    )
    assert "Nobody is waiting." in lead.get("/console/feedback").text
    with console.sessions() as session:
        done = session.get(FeedbackFollowUp, follow_up.id)
        assert done is not None and done.status == "done" and done.done_by == "lead@lumen.example"


def test_outreach_page(lead: TestClient) -> None:
    page = lead.get("/console/outreach").text
    renewal = re.search(r"<tr><td>renewal_reminder</td>(.*?)</tr>", page, re.S)
    assert renewal and "<td>1</td><td>1</td><td>0</td>" in renewal.group(1)
    assert "100 % (1 of 1)" in renewal.group(1)  # renewed within 7 days of the reminder
    tips = re.search(r"<tr><td>usage_tips</td>(.*?)</tr>", page, re.S)
    assert tips and "sent 1, skipped 1" in tips.group(1) and "<td>1</td><td>1</td><td>1</td>" in tips.group(1)
    assert "<td>frequency cap</td><td>1</td>" in page
    assert "birthday" in page  # upcoming


def test_customer_export_holds_every_store(console: Console, lead: TestClient) -> None:
    token = csrf_token(lead.get("/console/customers/C100001").text)
    data = lead.post("/console/customers/C100001/export.json", data={"csrf_token": token}).json()
    assert data["customer"]["email"] == console.world.maya_email
    assert {"feedback", "outreach_outbox", "channel_identities", "orders", "subscriptions"} <= set(data)
    assert len(data["feedback"]) == 2 and len(data["order_items"]) == 1
    conversations = {event["conversation_id"] for event in data["conversations"]}
    assert conversations == {"cust:C100001:web", "tg-99812"}


def test_forgetting_a_customer_leaves_nothing_in_any_store(console: Console, admin: TestClient) -> None:
    maya_web, maya_telegram = transcript_path(console, "cust:C100001:web"), transcript_path(console, "tg-99812")
    leo_web = transcript_path(console, "cust:C100002:web")
    token = csrf_token(admin.get(maya_web).text)
    admin.post(maya_web + "/notes", data={"text": "Maya was upset", "csrf_token": token})
    admin.post(maya_telegram + "/tags", data={"tag": "vip", "csrf_token": token})
    refused = admin.post("/console/customers/C100001/forget", data={"confirm": "C1", "csrf_token": token})
    assert refused.status_code == 403
    done = admin.post("/console/customers/C100001/forget", data={"confirm": "C100001", "csrf_token": token})
    assert done.status_code == 200
    maya = console.world
    personal = (maya.maya, "Maya", "Patel", maya.maya_email, "555 0147", maya.telegram_id)
    # Every table of the profile store, every column, every row: nothing about her is left.
    with console.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                dumped = " ".join(str(value) for value in row)
                for value in personal:
                    assert value not in dumped, (table.name, value)
        assert session.scalar(select(func.count()).select_from(ConversationTag)) == 0
        assert session.scalar(select(func.count()).select_from(ConversationNote)) == 0
    # The tracker store: no event of her conversations, and no event mentions her.
    with console.tracker.connect() as connection:
        assert inspect(connection).get_table_names() == ["events"]
        for (data,) in connection.execute(text("SELECT data FROM events")):
            for value in personal:
                assert value not in data, value
        senders = {s for (s,) in connection.execute(text("SELECT DISTINCT sender_id FROM events"))}
    assert senders == {"anon:3f9a", "cust:C100002:web"}  # other people's conversations are untouched
    assert admin.get("/console/customers/C100001").status_code == 404
    assert admin.get(leo_web).status_code == 200


def test_create_admin_from_the_command_line(
    console: Console, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", console.settings.database_url)
    cli.get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("a much longer password\n"))
        assert cli.main(["create-admin", "--email", "First.Admin@Lumen.example", "--password-stdin"]) == 0
        assert "created admin first.admin@lumen.example" in capsys.readouterr().out
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert cli.main(["create-user", "--email", "x@lumen.example", "--role", "agent", "--password-stdin"]) == 2
        assert "at least 12 characters" in capsys.readouterr().err
    finally:
        cli.get_settings.cache_clear()
    with console.sessions.begin() as session:
        user = authenticate(session=session, email="first.admin@lumen.example", password="a much longer password").user
        assert user is not None and user.role == "admin"
        assert session.scalar(select(func.count()).select_from(ConsoleUser).where(ConsoleUser.email.like("x@%"))) == 0


def test_set_password_from_the_command_line_ends_the_accounts_sessions(
    console: Console, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", console.settings.database_url)
    cli.get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("the first long password\n"))
        assert cli.main(["create-user", "--email", "ana@lumen.example", "--role", "agent", "--password-stdin"]) == 0
        with console.sessions.begin() as session:
            user = authenticate(session=session, email="ana@lumen.example", password="the first long password").user
            assert user is not None
            start_session(session=session, user=user, hours=1)
            assert session.scalar(select(func.count()).select_from(ConsoleSession)) >= 1
            ana_id = user.id
        monkeypatch.setattr("sys.stdin", io.StringIO("a second long password\n"))
        assert cli.main(["set-password", "--email", "Ana@Lumen.example", "--password-stdin"]) == 0
        assert "sessions have ended" in capsys.readouterr().out
        monkeypatch.setattr("sys.stdin", io.StringIO("a third long password\n"))
        assert cli.main(["set-password", "--email", "nobody@lumen.example", "--password-stdin"]) == 2
        assert "no console user" in capsys.readouterr().err
    finally:
        cli.get_settings.cache_clear()
    with console.sessions.begin() as session:
        left = session.scalar(select(func.count()).select_from(ConsoleSession).where(ConsoleSession.user_id == ana_id))
        assert left == 0
        assert authenticate(session=session, email="ana@lumen.example", password="the first long password").user is None
    with console.sessions.begin() as session:
        assert authenticate(session=session, email="ana@lumen.example", password="a second long password").user
