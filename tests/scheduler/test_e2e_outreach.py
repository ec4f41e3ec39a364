"""Outreach through a real Rasa server: a reminder the customer renews from, and exactly-once under SIGKILL.

Both count at the receiving end: the events in Rasa's own trackers, not only the
outbox's opinion of what it sent.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from supportbot.devstack import PreloadedWorkers, Server, SwitchableProxy, base_env, start_server
from supportbot.formatting import long_date
from supportbot.outreach.config import DEFAULT_CONFIG_PATH, load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.planner import PlanReport, insert_ignoring_duplicates, plan_batch
from supportbot.outreach.rasa_client import RasaClient, has_outbox_event
from supportbot.store.models import Consent, Customer, Subscription
from supportbot.store.outreach_models import OutboxMessage
from tests.conftest import Stack, texts
from tests.scheduler.builders import add

pytestmark = pytest.mark.e2e


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_renewal_reminder_through_rasa_and_the_customer_renews_by_replying(stack: Stack) -> None:
    cfg = load_config()
    with stack.sessions.begin() as session:
        customer_id, sub_id = session.execute(
            select(Subscription.customer_id, Subscription.id)
            .where(Subscription.status == "active", Subscription.billing_period == "monthly")
            .order_by(Subscription.customer_id.desc())
            .limit(1)
        ).one()
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.time_zone = "UTC"
        customer.quiet_hours_start = customer.quiet_hours_end = dt.time(0, 0)  # no quiet hours: deliver now
        session.execute(Consent.__table__.delete().where(Consent.customer_id == customer_id))  # type: ignore[attr-defined]
        today = utc_now().date()
        renews_on = today + dt.timedelta(days=3)
        session.execute(update(Subscription).where(Subscription.id == sub_id).values(renews_on=renews_on))
    now = utc_now()
    with stack.sessions.begin() as session:
        rows = plan_batch(
            session=session,
            ids=[customer_id],
            day=today,
            now=now,
            config=cfg,
            report=PlanReport(day=today, dry_run=False),
        )
        reminders = [r | {"not_before": now} for r in rows if r["campaign"] == "renewal_reminder"]
        assert len(reminders) == 1
        insert_ignoring_duplicates(session, reminders)
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        report = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now).deliver_all_due()
    assert (report.sent, report.failed) == (1, 0)
    with stack.sessions() as session:
        reminder = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.customer_id == customer_id, OutboxMessage.campaign == "renewal_reminder"
            )
        ).one()
    assert reminder.status == "sent"
    conversation = f"cust:{customer_id}:web"
    tracker = stack.tracker(conversation)
    assert has_outbox_event(tracker, intent="EXTERNAL_renewal_reminder", outbox_id=reminder.id)
    bot = [e for e in tracker["events"] if e["event"] == "bot"]
    assert long_date(renews_on) in bot[-1]["text"] and "in 3 days" in bot[-1]["text"]
    payloads = [b["payload"] for b in bot[-1]["data"]["buttons"]]
    assert "/renew_now" in payloads and '/opt_out{"outreach_kind": "renewal"}' in payloads
    assert tracker["slots"]["last_outreach_kind"] == "renewal"

    asked = texts(stack.say("web", "renew it now", token=stack.token(customer_id)))
    assert "Renew your" in asked  # an account change is asked first (issue 15)
    reply = texts(stack.say("web", "yes", token=stack.token(customer_id)))
    with stack.sessions() as session:
        renewed = session.get(Subscription, sub_id)
        assert renewed is not None
    assert renewed.renews_on is not None and renewed.renews_on > renews_on
    assert long_date(renewed.renews_on) in reply


# ---------------------------------------------------------------------------
# Exactly once, with the delivery process killed at random and Rasa stopped for a while.
# ---------------------------------------------------------------------------

MESSAGES = 60
KILLS = 10
# Enough messages that the kills land while most are still due, on a quiet machine too
# (there, one worker delivers about ten a second).


def fault_config(path: Path) -> Path:
    """The shipped campaigns, due at midnight, with short timeouts, lease and backoff so the test is quick."""
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["send_time"] = "00:00"
    data["delivery"] = {
        "batch_size": 3,
        "lease_seconds": 8,
        "max_attempts": 50,
        "retry_base_seconds": 0.5,
        "retry_max_seconds": 2,
        "poll_seconds": 0.2,
        "timeouts": {"connect": 0.5, "read": 2.5, "write": 0.5, "pool": 0.5},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def counts(sessions: sessionmaker[Session], prefix: str) -> Counter[str]:
    with sessions() as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.customer_id.startswith(prefix))
            .group_by(OutboxMessage.status)
        )
        return Counter({status: int(n) for status, n in rows})


def test_every_due_message_arrives_exactly_once_despite_sigkill_and_rasa_outage(stack: Stack, tmp_path: Path) -> None:
    """Sixty birthday greetings through the real stack; the delivery process is SIGKILLed ten times
    at random moments and Rasa is unreachable (connections refused, requests in flight cut) from
    the third kill to the sixth. Counted in Rasa's own trackers: every greeting exactly once."""
    rng = random.Random(4)
    today = utc_now().date()
    ids = [f"FAULT{n:03d}" for n in range(MESSAGES)]
    with stack.sessions.begin() as session:
        for customer_id in ids:
            # Born in a leap year, so even a test run on 29 February has a birthday today;
            # no subscription, so the other end-to-end tests' queries never pick them.
            add(
                session,
                customer_id,
                birthday=today.replace(year=1992),
                quiet=(dt.time(0, 0), dt.time(0, 0)),
                plan=None,
            )
    cfg_path = fault_config(tmp_path / "campaigns.yml")
    cfg = load_config(cfg_path)
    with stack.sessions.begin() as session:
        report = PlanReport(day=today, dry_run=False)
        rows = plan_batch(session=session, ids=ids, day=today, now=utc_now(), config=cfg, report=report)
        insert_ignoring_duplicates(session, rows)
    assert report.planned["birthday"] == MESSAGES

    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    with SwitchableProxy(rasa_port) as proxy:
        env = base_env(
            SUPPORTBOT_DATABASE_URL=stack.database_url,
            SUPPORTBOT_RASA_URL=f"http://127.0.0.1:{proxy.port}",
            RASA_API_TOKEN=stack.api_token,
        )
        args = ["--config", str(cfg_path), "deliver"]
        # The ten killed workers fork from a process that has imported the scheduler already
        # (a fresh interpreter's imports took a minute each on a loaded CI machine); the final
        # one is a fresh `python -m scheduler deliver`, exactly as deployed.
        workers = PreloadedWorkers(["scheduler.cli"])
        kills, run = 0, 0
        worker: Server | None = None
        killed: multiprocessing.Process | None = None
        try:
            while kills < KILLS:
                run += 1
                if kills == 3:  # Rasa goes away for a while: three more kills happen while it is away
                    proxy.switch_off()
                if kills == 6:
                    proxy.switch_on()
                log = tmp_path / f"deliver-{run}.log"
                killed = workers.start("scheduler.cli:main", args, env=env, log_path=log)
                deadline = time.monotonic() + 120
                while "delivering as" not in (said := log.read_text() if log.exists() else ""):
                    assert killed.is_alive(), f"delivery worker {run} exited early:\n{said}"
                    assert time.monotonic() < deadline, f"delivery worker {run} did not start:\n{said}"
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.05, 0.6))
                assert killed.pid is not None
                os.kill(killed.pid, signal.SIGKILL)
                killed.join(timeout=10)
                assert killed.exitcode == -signal.SIGKILL
                kills += 1
            sent_before_final = counts(stack.sessions, "FAULT")["sent"]
            assert sent_before_final < MESSAGES, "every message went out before the faults: nothing was tested"
            final = worker = start_server(
                "deliver-final", [sys.executable, "-m", "scheduler", *args], env=env, log_dir=tmp_path
            )
            deadline = time.monotonic() + 600
            while (
                sum(counts(stack.sessions, "FAULT")[s] for s in ("sent", "failed")) < MESSAGES
                and time.monotonic() < deadline
            ):
                time.sleep(0.5)
            final.stop()
            assert final.process.returncode == 0, final.log_tail()
        finally:
            if killed is not None and killed.is_alive():
                killed.kill()
                killed.join(timeout=10)
            if worker is not None:
                worker.stop()
    # Only the birthdays were due (no plan, so no usage tip): every one of them sent, none failed.
    assert counts(stack.sessions, "FAULT") == Counter({"sent": MESSAGES}), final.log_tail()

    per_row: Counter[str] = Counter()
    greetings = 0
    with stack.sessions() as session:
        sent = {
            r.id: r.conversation_id
            for r in session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == "sent", OutboxMessage.customer_id.in_(ids))
            )
        }
    for conversation in sorted(set(sent.values())):
        tracker = stack.tracker(conversation)
        for event in tracker["events"]:
            if event["event"] == "user" and event["parse_data"]["intent"]["name"] == "EXTERNAL_milestone":
                for entity in event["parse_data"]["entities"]:
                    if entity["entity"] == "outbox_id":
                        per_row[entity["value"]] += 1
            if event["event"] == "bot" and "birthday" in (event.get("text") or "").lower():
                greetings += 1
    assert per_row == Counter({str(i): 1 for i in sent}), per_row
    # And the action server rendered each one once (the greeting the customer reads).
    assert greetings == MESSAGES
    with stack.sessions() as session:
        recovered = session.scalar(
            select(func.count()).where(OutboxMessage.confirmed_by == "tracker", OutboxMessage.customer_id.in_(ids))
        )
    print(
        f"{kills} kills, {run} runs, {sent_before_final} sent before the final run; "
        f"{recovered} rows confirmed from the tracker after a crash"
    )
