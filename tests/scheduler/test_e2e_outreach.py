"""Outreach through a real Rasa server: a reminder the customer renews from, every message once
under SIGKILL, and every message once after an action-server outage.

All of them count at the receiving end: the rendered messages in Rasa's own trackers
(bot events carrying the row's ``outbox_id``), not only the outbox's opinion of what it sent.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from supportbot.devstack import PreloadedWorkers, Server, SwitchableProxy, base_env, start_server
from supportbot.formatting import long_date
from supportbot.outreach.config import DEFAULT_CONFIG_PATH, load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.planner import PlanReport, insert_ignoring_duplicates, plan_batch
from supportbot.outreach.rasa_client import RasaClient, has_outbox_event, has_rendered_message
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
    assert has_rendered_message(tracker["events"], outbox_id=reminder.id)
    assert (reminder.confirmed_by, reminder.renders) == ("response", 1) and reminder.rendered_at is not None
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
# Every message once, with the delivery process killed at random and Rasa stopped for a while.
# ---------------------------------------------------------------------------

MESSAGES = 60
KILLS = 10
STAGED_KILL = 8
"""The kill that is not random: the worker is frozen right after the action server rendered a row,
until Rasa has saved it, then killed, so the next worker must find it in the tracker (the recovery path)."""
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


def plan_birthdays(stack: Stack, ids: list[str], cfg_path: Path, **customer: Any) -> None:
    """A birthday greeting due now for each of ``ids`` (new customers without quiet hours,
    with ``customer``'s other facts: see ``tests.scheduler.builders.add``)."""
    today = utc_now().date()
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
                **customer,
            )
    cfg = load_config(cfg_path)
    with stack.sessions.begin() as session:
        report = PlanReport(day=today, dry_run=False)
        rows = plan_batch(session=session, ids=ids, day=today, now=utc_now(), config=cfg, report=report)
        insert_ignoring_duplicates(session, rows)
    assert report.planned["birthday"] == len(ids)


def rendered_per_row(stack: Stack, ids: list[str]) -> tuple[dict[int, OutboxMessage], Counter[int], Counter[int]]:
    """The rows of ``ids``, and per row id: rendered bot messages and external trigger events in Rasa's trackers."""
    with stack.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id.in_(ids)))}
    shown: Counter[int] = Counter()
    triggered: Counter[int] = Counter()
    for conversation in sorted({r.conversation_id for r in rows.values()}):
        for event in stack.tracker(conversation)["events"]:
            if event["event"] == "bot" and (outbox_id := (event.get("metadata") or {}).get("outbox_id")):
                assert "birthday" in (event.get("text") or "").lower(), event
                shown[int(outbox_id)] += 1
            if event["event"] == "user" and event["parse_data"]["intent"]["name"] == "EXTERNAL_milestone":
                for entity in event["parse_data"]["entities"]:
                    if entity["entity"] == "outbox_id":
                        triggered[int(entity["value"])] += 1
    return rows, shown, triggered


def wait_for(condition: Callable[[], object], *, timeout: float, step: float = 0.005) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            return value
        time.sleep(step)
    return value


def rendered_in_flight(sessions: sessionmaker[Session], prefix: str, pid: int) -> int | None:
    """A row that worker ``pid`` claimed, the action server rendered since, and the worker has not recorded yet."""
    with sessions() as session:
        return session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.customer_id.startswith(prefix),
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_by.contains(f":{pid}:"),  # worker ids are host:pid:random
                OutboxMessage.rendered_at >= OutboxMessage.claimed_at,
            )
            .limit(1)
        )


def test_every_due_message_arrives_once_despite_sigkill_and_rasa_outage(stack: Stack, tmp_path: Path) -> None:
    """Sixty birthday greetings through the real stack; the delivery process is SIGKILLed ten times
    at random moments and Rasa is unreachable (connections refused, requests in flight cut) from
    the third kill to the sixth; one kill is staged to land after a rendering Rasa saved but the
    worker never recorded. Counted in Rasa's own trackers: every greeting shown exactly once."""
    rng = random.Random(4)
    ids = [f"FAULT{n:03d}" for n in range(MESSAGES)]
    cfg_path = fault_config(tmp_path / "campaigns.yml")
    plan_birthdays(stack, ids, cfg_path)

    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    staged: int | None = None
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
        killed: multiprocessing.process.BaseProcess | None = None
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
                assert killed.pid is not None
                if kills == STAGED_KILL and staged is None:
                    staged = stage_kill_after_saved_render(stack, killed.pid)
                    if staged is None:  # the worker recorded the row first; try again with the next one
                        os.kill(killed.pid, signal.SIGKILL)
                        killed.join(timeout=10)
                        continue
                else:
                    time.sleep(rng.uniform(0.05, 0.6))
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

    rows, shown, triggered = rendered_per_row(stack, ids)
    assert shown == Counter({row_id: 1 for row_id in rows}), shown
    # The recovery path was taken: the staged row was found in the tracker, neither sent nor rendered again.
    assert staged is not None, "the staged kill never caught a rendered row in flight"
    assert (rows[staged].confirmed_by, rows[staged].renders, triggered[staged]) == ("tracker", 1, 1)
    recovered = sum(1 for r in rows.values() if r.confirmed_by == "tracker")
    rendered_again = sum(1 for r in rows.values() if r.renders > 1)
    print(
        f"{kills} kills, {run} runs, {sent_before_final} sent before the final run; {recovered} rows confirmed "
        f"from the tracker after a crash; {rendered_again} rendered again after Rasa lost an unsaved rendering; "
        f"{sum(triggered.values()) - MESSAGES} extra triggers"
    )


def stage_kill_after_saved_render(stack: Stack, pid: int) -> int | None:
    """Freeze the worker (SIGSTOP) as soon as a row is rendered but not yet recorded, and wait until
    Rasa has saved that rendering (Rasa finishes the request: the frozen worker's socket stays open).
    The caller then kills it. Returns the row, or None if the worker recorded it before the freeze."""
    row_id = wait_for(lambda: rendered_in_flight(stack.sessions, "FAULT", pid), timeout=60)
    assert isinstance(row_id, int), "no row was ever rendered while the worker was alive"
    os.kill(pid, signal.SIGSTOP)
    with stack.sessions() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        if row.status != "sending":
            return None
        conversation = row.conversation_id
    saved = wait_for(
        lambda: has_rendered_message(stack.tracker(conversation)["events"], outbox_id=row_id), timeout=60, step=0.2
    )
    assert saved, f"Rasa never saved the rendering of outbox row {row_id}"
    return row_id


# ---------------------------------------------------------------------------
# The action server down while Rasa is up: Rasa answers 200, but nothing was rendered.
# ---------------------------------------------------------------------------

OUTAGE_MESSAGES = 6


def test_messages_triggered_while_the_action_server_is_down_all_arrive_once_it_is_back(
    stack: Stack, tmp_path: Path
) -> None:
    """Security finding 6a: Rasa answers trigger_intent with 200 and keeps the external event even
    when its action server is unreachable. Not one row may read ``sent`` then; each one is retried
    and rendered exactly once when the action server is back."""
    ids = [f"OUTAGE{n:02d}" for n in range(OUTAGE_MESSAGES)]
    cfg = load_config(fault_config(tmp_path / "campaigns.yml"))
    plan_birthdays(stack, ids, tmp_path / "campaigns.yml")
    stack.demo.stop_actions()
    try:
        with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
            deliverer = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now)
            tried = 0
            deadline = time.monotonic() + 120
            while tried < OUTAGE_MESSAGES and time.monotonic() < deadline:
                deliverer.deliver_once()
                assert counts(stack.sessions, "OUTAGE")["sent"] == 0, (
                    "a message read as sent though nothing rendered it"
                )
                with stack.sessions() as session:
                    tried = (
                        session.scalar(
                            select(func.count()).where(OutboxMessage.customer_id.in_(ids), OutboxMessage.attempts > 0)
                        )
                        or 0
                    )
                time.sleep(0.1)
            assert tried == OUTAGE_MESSAGES
            assert counts(stack.sessions, "OUTAGE") == Counter({"planned": OUTAGE_MESSAGES})
            rows, shown, triggered = rendered_per_row(stack, ids)
            assert not shown and all(triggered[row_id] >= 1 for row_id in rows)  # Rasa took them all
            assert all("NotRendered" in (r.last_error or "") for r in rows.values())

            stack.demo.start_actions()
            deadline = time.monotonic() + 120
            while counts(stack.sessions, "OUTAGE")["sent"] < OUTAGE_MESSAGES and time.monotonic() < deadline:
                deliverer.deliver_once()
                time.sleep(0.2)
    finally:
        if stack.demo.servers[0].process.poll() is not None:  # later tests need it back
            stack.demo.start_actions()
    assert counts(stack.sessions, "OUTAGE") == Counter({"sent": OUTAGE_MESSAGES})
    rows, shown, triggered = rendered_per_row(stack, ids)
    assert shown == Counter({row_id: 1 for row_id in rows}), shown
    assert all(r.renders == 1 and r.confirmed_by == "response" for r in rows.values())
    assert all(triggered[row_id] >= 2 for row_id in rows)  # the lost trigger, then the one that rendered


def test_a_message_found_delivered_after_a_crash_stays_sent_even_after_an_opt_out(stack: Stack, tmp_path: Path) -> None:
    """Security finding 6c: a worker died after Rasa had shown the message; the customer opted out of
    that kind a moment later. The next worker checks the tracker before the pre-send checks: the
    row is ``sent`` (and counts toward the caps), not ``skipped``, and nothing is sent again."""
    ids = ["CRASHOPT1"]
    cfg = load_config(fault_config(tmp_path / "campaigns.yml"))
    plan_birthdays(stack, ids, tmp_path / "campaigns.yml")
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        deliverer = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now)
        deliver_until(deliverer, stack.sessions, "CRASHOPT", "sent")
        with stack.sessions.begin() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == "CRASHOPT1")).one()
            assert row.confirmed_by == "response"
            # As a worker SIGKILLed between Rasa's answer and its own commit leaves the row:
            row.status, row.claimed_by, row.sent_at, row.confirmed_by = "sending", "dead-worker", None, None
            row.lease_until = utc_now() - dt.timedelta(seconds=1)
            session.add(Consent(customer_id="CRASHOPT1", kind="milestones", granted=False, source="chat"))
        deliver_until(deliverer, stack.sessions, "CRASHOPT", "sent", "skipped")
    rows, shown, triggered = rendered_per_row(stack, ids)
    [found] = rows.values()
    assert (found.status, found.confirmed_by, shown[found.id], triggered[found.id]) == ("sent", "tracker", 1, 1)


def deliver_until(
    deliverer: Deliverer, sessions: sessionmaker[Session], prefix: str, *final: str, timeout: float = 60
) -> None:
    """Delivery rounds until every row of the customers ``prefix`` names is in one of the ``final`` states
    (other tests' rows may be due too: the worker takes them in its batches)."""
    deadline = time.monotonic() + timeout
    while set(counts(sessions, prefix)) - set(final):
        assert time.monotonic() < deadline, counts(sessions, prefix)
        deliverer.deliver_once()
        time.sleep(0.1)
