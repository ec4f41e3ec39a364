"""Customer intelligence and growth KPIs in the console, on the demo data as ``make run`` leaves it:
each figure checked against the store, roles, the audited export, bad input (real SQLite, real HTTP)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from supportbot.intelligence.segments import SEGMENTS
from supportbot.store.console_models import AuditEntry
from supportbot.store.feedback_models import PromoterInvitation
from supportbot.store.growth_models import Referral
from supportbot.store.intelligence_models import ChurnScore, ClvScore, IntelRun, NextBestAction, SegmentStat
from supportbot.store.models import Customer, Order
from tests.console.conftest import Console, client_for, csrf_token, sign_in
from tests.console.demo_world import DemoConsole


def signed_in(demo: DemoConsole, role: str) -> TestClient:
    return sign_in(TestClient(demo.app, base_url="http://localhost"), role)


def value_of(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert found, element_id
    return html.unescape(found.group(1)).strip()


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %"


def test_the_kpi_dashboard_shows_growth_beside_csat_nps_and_containment(demo_console: DemoConsole) -> None:
    today = dt.datetime.now(dt.UTC).date()
    since = today - dt.timedelta(days=29)
    start = dt.datetime.combine(since, dt.time(), dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    with demo_console.sessions() as session:
        bought: dict[str, list[dt.datetime]] = {}
        for cid, placed in session.execute(
            select(Order.customer_id, Order.placed_at).where(Order.status.not_in(("cancelled", "returned")))
        ):
            bought.setdefault(cid, []).append(placed)
        buyers = {c for c, times in bought.items() if any(start <= t < end for t in times)}
        returning = {c for c in buyers if min(bought[c]) < start}
        joined = set(session.scalars(select(Customer.id).where(Customer.customer_since.between(since, today))))
        referred = joined & set(session.scalars(select(Referral.customer_id)))
        values = [
            o + s
            for o, s in session.execute(select(ClvScore.order_clv_12m_cents, ClvScore.subscription_value_12m_cents))
        ]
    page = signed_in(demo_console, "agent").get("/console/").text
    assert buyers and joined
    assert value_of(page, "kpi-repeat") == percent(len(returning), len(buyers))
    assert value_of(page, "kpi-referral") == percent(len(referred), len(joined))
    assert value_of(page, "kpi-clv") == f"${sum(values) / len(values) / 100:.2f}"
    assert value_of(page, "kpi-csat") != "–" and value_of(page, "kpi-nps") != "–"  # the demo's ratings
    assert value_of(page, "kpi-containment").endswith("%")
    table = page[page.index('id="kpi-segments"') :]
    for segment in SEGMENTS:
        assert f'data-segment="{segment.code}"' in table
    assert page.count('<svg class="chart"') >= 6  # conversations, CSAT, NPS, repeat purchase, referral, value


def test_segments_show_size_ratings_risk_revenue_value_and_trend(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        run = session.scalars(select(IntelRun).where(IntelRun.kind == "segments").order_by(IntelRun.id.desc())).first()
        assert run is not None
        stats = {s.segment: s for s in session.scalars(select(SegmentStat).where(SegmentStat.run_id == run.id))}
        runs = len(list(session.scalars(select(IntelRun.id).where(IntelRun.kind == "segments"))))
    assert runs >= 4  # three months of backfill and today
    page = signed_in(demo_console, "agent").get("/console/segments").text
    for code, stat in stats.items():
        row = re.search(rf'<tr data-segment="{code}">(.*?)</tr>', page, re.S)
        assert row, code
        cells = re.sub(r"<svg.*?</svg>", "", row.group(1), flags=re.S)
        assert f">{stat.customers} <" in cells
        if stat.mean_clv_12m_cents is not None:
            assert f"${stat.mean_clv_12m_cents / 100:,.2f}" in cells
        if stat.customers:
            assert 'class="spark"' in row.group(1) or stat.customers == 0
    champion = signed_in(demo_console, "agent").get("/console/segments/champion")
    assert champion.status_code == 200
    assert champion.text.count('<svg class="chart"') == 6
    assert value_of(champion.text, "segment-size") == str(stats["champion"].customers)


def test_churn_risk_with_the_reasons_of_each_customer_and_the_model_card(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        top = session.scalars(
            select(ChurnScore).order_by(ChurnScore.probability.desc(), ChurnScore.customer_id)
        ).first()
        scored = len(list(session.scalars(select(ChurnScore.customer_id))))
    assert top is not None
    page = signed_in(demo_console, "agent").get("/console/churn").text
    assert value_of(page, "churn-scored") == str(scored)
    first_row = re.search(r'id="churn-list">.*?<tbody>\s*<tr>(.*?)</tr>', page, re.S)
    assert first_row and top.customer_id in first_row.group(1)
    for reason in json.loads(top.reasons):
        assert html.escape(reason["text"]) in first_row.group(1)
    assert "synthetic" in page and re.search(r'id="churn-auc">0\.\d{3}<', page)


def test_next_best_actions_with_their_reasons_and_what_planning_did(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        run = session.scalars(select(IntelRun).where(IntelRun.kind == "next_best_action")).one()
        counts = Counter(session.scalars(select(NextBestAction.action).where(NextBestAction.run_id == run.id)))
        offer = session.scalars(select(NextBestAction).where(NextBestAction.action == "retention_offer")).first()
    client = signed_in(demo_console, "agent")
    page = client.get("/console/next-actions").text
    for action, count in counts.items():
        assert value_of(page, f"nba-{action}") == str(count)
    assert offer is not None
    only = client.get("/console/next-actions", params={"action": "retention_offer"}).text
    decisions = only[only.index('id="decisions"') :]
    assert html.escape(offer.reason) in decisions and "Usage tip (" not in decisions
    assert client.get("/console/next-actions", params={"action": "bribe"}).status_code == 400


def test_lifetime_value_totals_and_trend(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        totals = [
            o + s
            for o, s in session.execute(select(ClvScore.order_clv_12m_cents, ClvScore.subscription_value_12m_cents))
        ]
    page = signed_in(demo_console, "agent").get("/console/value").text
    assert value_of(page, "value-total") == f"${sum(totals) / 100:,.2f}"
    assert page.count('<svg class="chart"') == 2 and page.count('class="point"') >= 4


def test_the_agent_sees_who_they_are_talking_to_and_the_next_best_action(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        offer = session.scalars(select(NextBestAction).where(NextBestAction.action == "retention_offer")).first()
        assert offer is not None
        risk = session.get(ChurnScore, offer.customer_id)
    engine = demo_console.sessions.kw["bind"]
    from supportbot.store.db import make_engine

    tracker = make_engine(demo_console.settings.tracker_store_url)
    with tracker.connect() as connection:
        ref = connection.scalar(
            text("SELECT min(id) FROM events WHERE sender_id = :s"), {"s": f"cust:{offer.customer_id}:web"}
        )
    tracker.dispose()
    assert ref is not None and engine is not None
    page = signed_in(demo_console, "agent").get(f"/console/transcripts/{ref}").text
    card = page[page.index('id="customer-insight"') :]
    assert "Retention offer" in card and html.escape(offer.reason) in card
    assert risk is not None and value_of(card, "insight-risk") == f"{100 * risk.probability:.0f} %"


def test_co_creation_members_what_they_said_and_the_audited_export(demo_console: DemoConsole) -> None:
    with demo_console.sessions() as session:
        latest: dict[str, bool] = {}
        for answer in session.scalars(select(PromoterInvitation).order_by(PromoterInvitation.created_at)):
            latest[answer.customer_id] = answer.accepted
        members = sorted(c for c, joined in latest.items() if joined)
    assert len(members) >= 10
    agent = signed_in(demo_console, "agent")
    assert agent.get("/console/programme").status_code == 403
    lead = signed_in(demo_console, "lead")
    page = lead.get("/console/programme").text
    assert value_of(page, "programme-members") == str(len(members))
    assert lead.post("/console/programme/export.csv", data={}).status_code == 403  # no CSRF token
    exported = lead.post("/console/programme/export.csv", data={"csrf_token": csrf_token(page)})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["customer_id"] for r in rows) == members
    assert all(r["email"].endswith(("@example.com", "@example.org")) for r in rows)
    with demo_console.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export_programme")).one()
    assert json.loads(entry.details) == {"members": len(members)} and "@" not in entry.details + entry.subject
    agent_page = agent.get("/console/").text
    assert agent.post("/console/programme/export.csv", data={"csrf_token": csrf_token(agent_page)}).status_code == 403


def test_every_page_says_the_data_is_invented(demo_console: DemoConsole) -> None:
    client = signed_in(demo_console, "lead")
    for path in ("/console/", "/console/segments", "/console/churn", "/console/value", "/console/conversations"):
        assert 'id="demo-data"' in client.get(path).text, path
    assert 'id="demo-data"' in TestClient(demo_console.app, base_url="http://localhost").get("/console/login").text


def test_an_unknown_segment_is_a_404_page(demo_console: DemoConsole) -> None:
    assert signed_in(demo_console, "agent").get("/console/segments/whales").status_code == 404


def test_before_the_first_refresh_each_page_says_how_to_compute_it(console: Console) -> None:
    client = client_for(console, "lead")
    assert "No segments computed yet" in client.get("/console/segments").text
    assert "No churn scores yet" in client.get("/console/churn").text
    assert "No decisions yet" in client.get("/console/next-actions").text
    assert "No lifetime values yet" in client.get("/console/value").text
    assert "Nobody has joined yet" in client.get("/console/programme").text
    page = client.get("/console/").text
    assert value_of(page, "kpi-repeat") in ("–", "0 %", "100 %") and 'id="demo-data"' not in page
