"""The console in real Chromium (Debian's, through Playwright) against the real app served by uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, text

from supportbot.store.console_models import AuditEntry, ConversationTag
from supportbot.store.models import Customer
from tests.browser import artifact_path
from tests.console.builders import LINK_CODE, ODD_CONVERSATION, XSS_TEXT
from tests.console.conftest import EMAILS, PASSWORD, Console

SLOW_MACHINE_MS = 180_000
"""Signing in verifies a real argon2id hash: 3 s on an idle core here, over 15 s while CI shares the machine."""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(SLOW_MACHINE_MS)
    context.set_default_navigation_timeout(SLOW_MACHINE_MS)
    expect.set_options(timeout=SLOW_MACHINE_MS)
    yield context.new_page()
    context.close()


def sign_in(page: Page, base_url: str, role: str) -> None:
    page.goto(f"{base_url}/console/conversations")
    expect(page).to_have_url(f"{base_url}/console/login")
    page.get_by_label("Email").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="KPIs")).to_be_visible()


def rows(page: Page) -> list[str]:
    return [cell.inner_text() for cell in page.locator("table.conversations tbody tr td:first-child a").all()]


def test_a_lead_signs_in_filters_searches_reads_tags_sees_charts_and_exports(
    console: Console, base_url: str, page: Page
) -> None:
    sign_in(page, base_url, "lead")
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    assert page.locator("svg.chart").first.locator("rect.bar").count() == 30  # one bar per day
    assert chart.bounding_box()["width"] > 300  # type: ignore[index]
    expect(page.locator("#kpi-conversations")).to_have_text("4")
    page.screenshot(path=str(artifact_path("console-kpis.png")), full_page=True)

    page.get_by_role("link", name="Conversations").click()
    assert len(rows(page)) == 4
    page.locator("select[name=handoff]").select_option("yes")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == ["cust:C100001:web"]
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search text", exact=True).fill("ORDER never came")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == ["anon:3f9a"]

    page.get_by_role("link", name="anon:3f9a").click()
    expect(page.get_by_role("heading", name="Conversation anon:3f9a")).to_be_visible()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("nlu_fallback (0.30)")
    expect(transcript).to_contain_text("action_default_fallback")
    page.get_by_label("New tag").fill("shipping")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tags")).to_have_text("shipping")
    page.get_by_label("Review status").select_option("needs_follow_up")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#review-status")).to_have_text("needs_follow_up")

    page.get_by_role("link", name="Conversations").click()
    page.locator("input[name=tag]").fill("shipping")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == ["anon:3f9a"]
    with page.expect_download() as download:
        page.get_by_role("button", name="JSON").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [c["conversation_id"] for c in exported["conversations"]] == ["anon:3f9a"]
    assert exported["conversations"][0]["tags"] == ["shipping"]
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").click()
    assert "anon:3f9a" in Path(download.value.path()).read_text(encoding="utf-8")
    with console.sessions() as session:
        assert list(session.scalars(select(ConversationTag.tag))) == ["shipping"]


def test_script_and_onerror_payloads_in_a_customer_message_show_as_text_and_nothing_runs(
    base_url: str, page: Page
) -> None:
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, base_url, "lead")
    page.goto(f"{base_url}/console/transcripts?id=anon:3f9a")
    message = page.locator("#transcript .turn.user .text")
    expect(message).to_have_text(XSS_TEXT)  # every character shown, as text
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#transcript script, #transcript img, #transcript svg, #transcript b").count() == 0
    assert page.locator("script").count() == 0  # the console itself has no scripts at all
    page.goto(f"{base_url}/console/conversations?q=%3Cscript%3E")
    expect(page.locator("#total")).to_have_text("1")
    assert page.evaluate("() => window.__pwned") is None
    assert errors == [] and dialogs == []


def test_an_admin_forgets_a_customer_in_the_browser(console: Console, base_url: str, page: Page) -> None:
    sign_in(page, base_url, "admin")
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_role("link", name="C100001").click()
    expect(page.locator("#customer-name")).to_have_text("M… P…")  # redacted by default
    with page.expect_download() as download:
        page.locator("#export-customer").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["customer"]["last_name"] == "Patel"
    page.get_by_label("Type the customer id to confirm").fill("C100001")
    page.get_by_role("button", name="Forget customer").click()
    expect(page.get_by_role("heading", name="Customer forgotten")).to_be_visible()
    with console.sessions() as session:
        assert session.get(Customer, "C100001") is None
    with console.tracker.connect() as connection:
        left = connection.scalar(
            text("SELECT count(*) FROM events WHERE sender_id LIKE 'cust:C100001:%' OR sender_id = 'tg-99812'")
        )
    assert left == 0
    page.goto(f"{base_url}/console/conversations")
    assert "cust:C100001:web" not in rows(page) and "tg-99812" not in rows(page)
    assert sorted(rows(page)) == ["anon:3f9a", "cust:C100002:web"]


def test_an_agent_sees_masked_ids_and_codes_and_cannot_search_for_what_is_masked(
    masked: Console, base_url: str, page: Page
) -> None:
    """Issue 14 finding 7, as the reviewer found it: an agent's list, transcript and search."""
    sign_in(page, base_url, "agent")
    page.get_by_role("link", name="Conversations").click()
    assert "whatsapp:[PHONE]" in rows(page) and "tg-[NUMBER]" in rows(page)
    assert "4915112345678" not in page.content()
    page.screenshot(path=str(artifact_path("console-agent-conversations.png")), full_page=True)
    page.get_by_label("Search text", exact=True).fill("555 0147")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#total")).to_have_text("0")
    page.get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="whatsapp:[PHONE]").click()
    expect(page.get_by_role("heading", name="Conversation whatsapp:[PHONE]")).to_be_visible()
    expect(page.locator("#transcript")).to_contain_text("LINK [LINK CODE]")
    assert LINK_CODE not in page.content() and "4915112345678" not in page.content()
    assert page.get_by_role("button", name="Show personal data (audited)").count() == 0


def test_a_lead_opens_and_tags_a_conversation_whose_id_has_slashes(awkward: Console, base_url: str, page: Page) -> None:
    """Issue 14 finding 11: such an id made the list answer 500 for all staff."""
    sign_in(page, base_url, "lead")
    page.get_by_role("link", name="Conversations").click()
    assert ODD_CONVERSATION in rows(page)
    page.get_by_role("link", name=ODD_CONVERSATION).click()
    expect(page.get_by_role("heading", name=f"Conversation {ODD_CONVERSATION}")).to_be_visible()
    page.get_by_label("New tag").fill("partner")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tags")).to_have_text("partner")
    with awkward.sessions() as session:
        assert list(session.scalars(select(ConversationTag.conversation_id))) == [ODD_CONVERSATION]


def test_personal_data_is_revealed_by_the_button_not_by_a_link(console: Console, base_url: str, page: Page) -> None:
    """Issue 14 finding 16: a GET with ?reveal=1 revealed and wrote the audit log."""
    sign_in(page, base_url, "lead")
    page.get_by_role("link", name="Conversations").click()
    page.get_by_role("link", name="cust:C100001:web").click()
    transcript_url = page.url
    page.goto(transcript_url + "?reveal=1")
    expect(page.locator("#transcript")).to_contain_text("Hi [NAME]!")
    with console.sessions() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "reveal_transcript")) is None
    page.screenshot(path=str(artifact_path("console-transcript-redacted.png")), full_page=True)
    page.get_by_role("button", name="Show personal data (audited)").click()
    expect(page.locator("#transcript")).to_contain_text("Hi Maya!")
    with console.sessions() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "reveal_transcript")) is not None
