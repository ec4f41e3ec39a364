"""Parameters the console cannot use get a 400 page saying why, never a 500 (issue 14 finding 14), and
the audit log holds no personal data (finding 9), over real HTTP against real SQLite stores."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from supportbot.store.console_models import AuditEntry
from tests.console.conftest import Console, csrf_token, export, transcript_path


def test_out_of_range_page_numbers_and_dates_are_refused_with_a_message(lead: TestClient) -> None:
    for params, message in (
        ({"page": "99999999999999999999"}, "page: expected a whole number from 1 to 100000"),
        ({"page": "0"}, "page: expected a whole number"),
        ({"page": "two"}, "page: expected a whole number"),
        ({"until": "9999-12-31"}, "until: must be between 1970-01-01 and 2999-12-31"),
        ({"since": "0001-01-01"}, "since: must be between"),
        ({"since": "yesterday-ish"}, "since: not a date (YYYY-MM-DD)"),
        ({"q": "x" * 201}, "q: at most 200 characters"),
        ({"customer": "C:1"}, "customer: not a customer id"),
        ({"handoff": "maybe"}, "handoff: expected yes or no"),
    ):
        response = lead.get("/console/conversations", params=params)
        assert response.status_code == 400, params
        assert message in response.text, params
        assert "Traceback" not in response.text
    for path in ("/console/", "/console/feedback", "/console/outreach"):
        response = lead.get(path, params={"until": "9999-12-31"})
        assert response.status_code == 400 and "until: must be between" in response.text, path
        assert lead.get(path, params={"since": "2026-02-30"}).status_code == 400, path
    assert lead.get("/console/", params={"since": "2026-01-01", "until": "2026-01-31"}).status_code == 200


def test_a_page_past_the_last_shows_the_last_and_a_bad_filter_exports_nothing(
    console: Console, lead: TestClient
) -> None:
    console.console_app.state.console.settings.console_page_size = 2
    page = lead.get("/console/conversations", params={"page": "50"})
    assert page.status_code == 200 and "Page 2 of 2" in page.text
    token = csrf_token(page.text)
    refused = export(lead, token, until="9999-12-31")
    assert refused.status_code == 400 and "until: must be between" in refused.text
    assert export(lead, token, customer="C100001").status_code == 200


def test_path_numbers_out_of_range_are_refused_not_passed_to_the_database(console: Console, lead: TestClient) -> None:
    token = csrf_token(lead.get("/console/feedback").text)
    huge = "99999999999999999999"
    for method, path in (
        ("GET", f"/console/transcripts/{huge}"),
        ("GET", "/console/transcripts/-1"),
        ("POST", f"/console/feedback/follow-ups/{huge}/done"),
        ("POST", f"/console/transcripts/{huge}/tags"),
    ):
        response = lead.request(method, path, data={"csrf_token": token, "tag": "x"})
        assert response.status_code == 422, path
        assert "not acceptable" in response.text and huge not in response.text


def test_audit_entries_hold_no_search_text_customer_ids_or_emails(console: Console, admin: TestClient) -> None:
    """Exports, reveals and follow-ups name customers only by keyed hash; forgetting a customer
    also rewrites entries written before that rule (raw ids as subjects)."""
    with console.sessions.begin() as session:  # as the code before the keyed hashes wrote them
        session.add(AuditEntry(actor_id=None, action="reveal_customer", subject="C100001"))
        session.add(AuditEntry(actor_id=None, action="reveal_transcript", subject="cust:C100001:web"))
        session.add(AuditEntry(actor_id=None, action="reveal_transcript", subject="tg-99812"))
    page = admin.get("/console/conversations").text
    token = csrf_token(page)
    assert export(admin, token, q="555 0147", customer="C100001").status_code == 200
    admin.post(transcript_path(console, "tg-99812") + "/reveal", data={"csrf_token": token})
    admin.post(transcript_path(console, "anon:3f9a") + "/reveal", data={"csrf_token": token})
    admin.post("/console/customers/C100001/reveal", data={"csrf_token": token})
    admin.post("/console/customers/C100001/export.json", data={"csrf_token": token})
    follow_up = admin.get("/console/feedback").text
    follow_up_id = follow_up.split("/console/feedback/follow-ups/")[1].split("/")[0]
    admin.post(f"/console/feedback/follow-ups/{follow_up_id}/done", data={"csrf_token": token})
    found = admin.get("/console/audit", params={"customer": "C100001"}).text
    for action in ("export_conversations", "reveal_transcript", "reveal_customer", "export_customer", "follow_up_done"):
        assert action in found, action  # an admin still finds what happened to the customer
    assert "reveal_transcript" in admin.get("/console/audit", params={"customer": "anon:3f9a"}).text
    admin.post("/console/customers/C100001/forget", data={"confirm": "C100001", "csrf_token": token})
    with console.sessions() as session:
        entries = session.scalars(select(AuditEntry)).all()
    assert len(entries) == 11  # the three old ones, a sign-in, and the eight actions above
    for entry in entries:
        stored = f"{entry.subject} {entry.details}"
        for personal in ("C100001", "cust:", "tg-99812", "anon:3f9a", "555 0147", "Maya", "@"):
            assert personal not in stored, (entry.action, stored)
    exports = [json.loads(e.details) for e in entries if e.action == "export_conversations"]
    assert exports == [{"count": 1, "filters": {}, "personal_filters": ["customer", "q"], "reveal": False}]
    assert "forget_customer" in admin.get("/console/audit", params={"customer": "C100001"}).text
