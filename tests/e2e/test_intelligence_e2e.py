"""Customer intelligence through the real stack (Rasa, the action server, the store): a risky customer's
retention offer planned ahead of the renewal reminder and delivered with its discount; a promoter's
referral invitation with a code that exists; the referral told in chat, recorded after a yes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from supportbot.intelligence.next_action import decide_all
from supportbot.outreach.config import load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.planner import PlanReport, insert_ignoring_duplicates, plan_batch
from supportbot.outreach.rasa_client import RasaClient
from supportbot.store.feedback_models import Feedback
from supportbot.store.growth_models import Referral, ReferralCode
from supportbot.store.intelligence_models import ChurnScore, IntelRun, NextBestAction
from supportbot.store.models import LoyaltyAccount
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import PerkGrant
from tests.conftest import Stack, texts
from tests.scheduler.builders import add
from tests.scheduler.test_e2e_outreach import deliver_until, fault_config, utc_now

pytestmark = pytest.mark.e2e


def plan_for(stack: Stack, ids: list[str], cfg_path: Path) -> PlanReport:
    today, now = utc_now().date(), utc_now()
    with stack.sessions.begin() as session:
        decide_all(session=session, now=now)
        # Only these customers' decisions stay: the other end-to-end tests plan the shared demo store.
        session.execute(delete(NextBestAction).where(NextBestAction.customer_id.not_in(ids)))
    report = PlanReport(day=today, dry_run=False)
    with stack.sessions.begin() as session:
        rows = plan_batch(session=session, ids=ids, day=today, now=now, config=load_config(cfg_path), report=report)
        insert_ignoring_duplicates(session, rows)
    return report


def bot_text(stack: Stack, row: OutboxMessage) -> str:
    [message] = [
        e
        for e in stack.tracker(row.conversation_id)["events"]
        if e["event"] == "bot" and (e.get("metadata") or {}).get("outbox_id") == str(row.id)
    ]
    return str(message["text"])


def test_a_risky_customer_gets_the_retention_offer_first_with_its_discount_granted(
    stack: Stack, tmp_path: Path
) -> None:
    cfg_path = fault_config(tmp_path / "campaigns.yml")
    today = utc_now().date()
    with stack.sessions.begin() as session:
        add(
            session,
            "NBA01",
            first_name="Rita",
            customer_since=today - dt.timedelta(days=400),
            renews_on=today + dt.timedelta(days=14),
            quiet=(dt.time(0, 0), dt.time(0, 0)),
            used=("notes", "sync", "reminders", "templates", "sharing", "calendar"),
        )
        run = IntelRun(kind="churn_score", as_of=utc_now(), model_version="churn-e2e")
        session.add(run)
        session.flush()
        reasons = [
            {"feature": "days_since_use", "value": 50, "contribution": 1.0, "text": "no product use for 50 days"}
        ]
        session.add(
            ChurnScore(
                customer_id="NBA01",
                run_id=run.id,
                model_version="churn-e2e",
                probability=0.64,
                reasons=json.dumps(reasons),
            )
        )
    report = plan_for(stack, ["NBA01"], cfg_path)
    assert report.planned["retention_offer"] == 1 and report.planned["renewal_reminder"] == 1
    with stack.sessions() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.customer_id == "NBA01")
                .order_by(OutboxMessage.priority.desc())
            )
        )
    assert [r.campaign for r in rows] == ["retention_offer", "renewal_reminder"]
    cfg = load_config(cfg_path)
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        deliverer = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now)
        deliver_until(deliverer, stack.sessions, "NBA01", "sent")
    offer = rows[0]
    words = bot_text(stack, offer)
    assert words.startswith("Hi Rita, your Plus plan renews in 14 days")
    assert "Your next 3 months are 20% off: your renewal on" in words
    with stack.sessions() as session:
        grant = session.scalars(select(PerkGrant).where(PerkGrant.customer_id == "NBA01")).one()
        assert grant.grant_key == f"outbox:{offer.id}" and grant.percent == 20
        sent = [r.sent_at for r in session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == "NBA01"))]
    assert all(sent)


def test_a_promoter_is_invited_with_a_real_code_and_a_friend_records_the_referral_in_chat(
    stack: Stack, tmp_path: Path
) -> None:
    cfg_path = fault_config(tmp_path / "campaigns.yml")
    today = utc_now().date()
    everything = ("notes", "sync", "reminders", "templates", "sharing", "calendar")
    with stack.sessions.begin() as session:
        for cid, name in (("REF01", "Finn"), ("REF02", "Gus")):
            add(
                session,
                cid,
                first_name=name,
                customer_since=today - dt.timedelta(days=300),
                used=everything,
                quiet=(dt.time(0, 0), dt.time(0, 0)),
                tier="silver",
                tier_since=today - dt.timedelta(days=200),
            )
        session.add(
            Feedback(
                customer_id="REF01",
                conversation_id="cust:REF01:web",
                channel="socketio",
                kind="nps",
                rating=10,
                prompted_by="nps_survey",
                created_at=utc_now() - dt.timedelta(days=5),
            )
        )
    report = plan_for(stack, ["REF01", "REF02"], cfg_path)
    assert report.planned["referral_invitation"] == 1
    cfg = load_config(cfg_path)
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        deliverer = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now)
        deliver_until(deliverer, stack.sessions, "REF0", "sent")
    with stack.sessions() as session:
        invitation = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.campaign == "referral_invitation", OutboxMessage.customer_id == "REF01"
            )
        ).one()
        code = session.scalars(select(ReferralCode.code).where(ReferralCode.customer_id == "REF01")).one()
        before = session.get(LoyaltyAccount, "REF01")
        assert before is not None
        points = before.points
    assert f"give them your referral code {code}" in bot_text(stack, invitation)

    token = stack.token("REF02")
    question = texts(stack.say("ref02web", f"my friend referred me, the code is {code.lower()}", token=token))
    assert f"Record that a friend referred you with code {code}?" in question, question
    with stack.sessions() as session:
        assert session.scalars(select(Referral)).all() == []
    done = texts(stack.say("ref02web", "Yes, record it", token=token))
    assert "your friend's referral is recorded" in done, done
    with stack.sessions() as session:
        referral = session.scalars(select(Referral)).one()
        assert (referral.customer_id, referral.referrer_id, referral.source) == ("REF02", "REF01", "conversation")
        after = session.get(LoyaltyAccount, "REF01")
        assert after is not None and after.points == points + 500

    own = texts(stack.say("ref01web", "what's my referral code", token=stack.token("REF01")))
    assert code in own, own
