"""Customer intelligence in real Chromium, on the demo data as ``make run`` leaves it: the growth KPIs and
their charts, segments with their trend, churn risk with reasons, next best actions, lifetime value, the
co-creation list and its export, the agent's view of a customer; screenshots in test-artifacts/."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, text

from supportbot.devstack import free_port
from supportbot.store.db import make_engine
from supportbot.store.intelligence_models import NextBestAction
from tests.browser import artifact_path
from tests.console.conftest import EMAILS, PASSWORD
from tests.console.demo_world import DemoConsole

SLOW_MACHINE_MS = 180_000


@pytest.fixture
def demo_url(demo_console: DemoConsole) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(demo_console.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(SLOW_MACHINE_MS)
    context.set_default_navigation_timeout(SLOW_MACHINE_MS)
    expect.set_options(timeout=SLOW_MACHINE_MS)
    yield context.new_page()
    context.close()


def sign_in(page: Page, base_url: str, role: str) -> None:
    page.goto(f"{base_url}/console/")
    page.get_by_label("Email").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="KPIs")).to_be_visible()


def test_a_lead_reads_growth_segments_churn_actions_value_and_exports_the_programme(demo_url: str, page: Page) -> None:
    sign_in(page, demo_url, "lead")
    expect(page.locator("#demo-data")).to_contain_text("Demo data")
    for card in ("#kpi-repeat", "#kpi-referral", "#kpi-clv", "#kpi-csat", "#kpi-nps", "#kpi-containment"):
        expect(page.locator(card)).not_to_have_text("–")
    repeat_chart = page.get_by_role("img", name="Repeat purchase rate per month (%)")
    expect(repeat_chart).to_be_visible()
    assert repeat_chart.locator("circle.point").count() >= 10  # a point for (nearly) every month of the year
    expect(page.locator("#kpi-segments tbody tr")).to_have_count(9)
    page.screenshot(path=str(artifact_path("console-growth-kpis.png")), full_page=True)

    page.get_by_role("link", name="Segments", exact=True).click()
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    expect(page.locator("#segments tbody tr")).to_have_count(9)
    assert page.locator("#segments svg.spark").count() >= 5
    page.screenshot(path=str(artifact_path("console-segments.png")), full_page=True)
    page.locator("#segments").get_by_role("link", name="Champions").click()
    expect(page.get_by_role("heading", name="Champions")).to_be_visible()
    expect(page.get_by_role("img", name="Customers")).to_be_visible()
    assert page.locator("svg.chart").count() == 6

    page.get_by_role("link", name="Churn risk").click()
    first = page.locator("#churn-list tbody tr").first
    expect(first.locator("ul.reasons li").first).to_be_visible()
    expect(page.locator("#churn-model")).to_contain_text("synthetic")
    page.screenshot(path=str(artifact_path("console-churn.png")), full_page=True)

    page.get_by_role("link", name="Next actions").click()
    page.get_by_role("link", name="Retention offer").click()
    rows = page.locator("#decisions tbody tr")
    expect(rows.first).to_contain_text("make a retention offer before the renewal")
    assert all("Retention offer" in row for row in rows.all_inner_texts())

    page.get_by_role("link", name="Value").click()
    expect(page.get_by_role("img", name="Mean 12-month lifetime value ($) per refresh")).to_be_visible()
    expect(page.locator("#value-top tbody tr")).to_have_count(25)

    page.get_by_role("link", name="Co-creation").click()
    expect(page.locator("#programme tbody tr").first).to_be_visible()
    with page.expect_download() as download:
        page.locator("#programme-export").click()
    saved = artifact_path("advisory-beta-programme.csv")
    download.value.save_as(saved)
    with saved.open(encoding="utf-8") as handle:
        members = list(csv.DictReader(handle))
    assert members and set(members[0]) >= {"customer_id", "email", "joined_at", "what_they_said"}
    assert page.locator("#programme tbody tr").count() == len(members)


def test_an_agent_sees_the_customers_risk_reasons_and_next_best_action_beside_the_conversation(
    demo_console: DemoConsole, demo_url: str, page: Page
) -> None:
    with demo_console.sessions() as session:
        offer = session.scalars(select(NextBestAction).where(NextBestAction.action == "retention_offer")).first()
    assert offer is not None
    tracker = make_engine(demo_console.settings.tracker_store_url)
    with tracker.connect() as connection:
        ref = connection.scalar(
            text("SELECT min(id) FROM events WHERE sender_id = :s"), {"s": f"cust:{offer.customer_id}:web"}
        )
    tracker.dispose()
    sign_in(page, demo_url, "agent")
    expect(page.get_by_role("link", name="Co-creation")).to_have_count(0)  # leads only
    page.goto(f"{demo_url}/console/transcripts/{ref}")
    card = page.locator("#customer-insight")
    expect(card).to_contain_text(offer.customer_id)
    expect(page.locator("#insight-action")).to_contain_text("Retention offer")
    expect(page.locator("#insight-reasons li").first).to_be_visible()
    page.screenshot(path=str(artifact_path("console-agent-insight.png")), full_page=True)
