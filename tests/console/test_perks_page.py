"""The customer page shows the loyalty balance and every perk granted, with what it was for."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from supportbot.services.perks import PointsPerk, RewardPerk, grant_perk
from tests.console.conftest import Console


def test_customer_page_shows_balance_perks_and_ledger(console: Console, lead: TestClient) -> None:
    today = dt.datetime.now(dt.UTC).date()
    with console.sessions.begin() as session:
        grant_perk(
            session=session,
            customer_id="C100001",
            perk=PointsPerk(points=200),
            grant_key="outbox:test-1",
            reason="birthday 2026",
            today=today,
        )
        grant_perk(
            session=session,
            customer_id="C100001",
            perk=RewardPerk(reward="Lumen Pen case"),
            grant_key="outbox:test-2",
            reason="loyalty milestone platinum",
            today=today,
        )
    page = lead.get("/console/customers/C100001").text
    assert "We&#39;ve added 200 bonus loyalty points to your account." in page
    assert "A free Lumen Pen case is waiting for you" in page and "claimable" in page
    assert "<td>+200</td><td>birthday 2026</td>" in page
    assert 'id="loyalty-balance">1,400 points' in page  # 1,200 before, 200 credited
