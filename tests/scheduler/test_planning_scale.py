"""Planning at scale decides exactly what planning one customer at a time decided: in several
processes, on SQLite and on PostgreSQL, and when another planner inserts keys meanwhile."""

from __future__ import annotations

import datetime as dt
import gc
import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach import planner
from supportbot.outreach.planner import plan_day
from supportbot.outreach.rules import History
from supportbot.store.db import make_engine, session_factory
from supportbot.store.outreach_models import OutboxMessage
from tests.factories import drop_postgres_store, migrated_store, postgres_store
from tests.scheduler.builders import DAY, NOW, add, add_closed_handoff, add_orders, config, link

QUIET = ((dt.time(21, 0), dt.time(8, 0)), (dt.time(9, 0), dt.time(11, 0)), (dt.time(0), dt.time(0)))
FEATURES = ("notes", "sync", "reminders", "templates", "sharing", "calendar")
ZONES = ("UTC", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati")
DECISION = (
    *("customer_id", "campaign", "kind", "occasion", "idempotency_key", "local_day", "content_ref", "intent"),
    *("template", "payload", "channel", "conversation_id", "priority", "status", "not_before", "skip_reason"),
    "hold_reason",
)


def population(session: Session, *, customers: int = 160, seed: int = 3) -> None:
    """Customers with every kind of occasion and obstacle: birthdays (29 February too),
    anniversaries, renewals at each offset, new tiers, order milestones, closed handoffs, linked
    messaging accounts, withdrawn consents, quiet hours across time zones, and messages already
    sent or planned this week (caps)."""
    rng = random.Random(seed)
    for n in range(customers):
        cid = f"P{n:04d}"
        add(
            session,
            cid,
            time_zone=rng.choice(ZONES),
            quiet=rng.choice(
                ((dt.time(21, 0), dt.time(8, 0)), (dt.time(9, 0), dt.time(11, 0)), (dt.time(0), dt.time(0)))
            ),
            birthday=rng.choice((None, dt.date(1990, 3, 10), dt.date(1988, 2, 29), dt.date(1975, 7, 1))),
            customer_since=rng.choice((dt.date(2020, 3, 10), dt.date(2023, 1, 5), dt.date(2025, 11, 30))),
            segment=rng.choice(("consumer", "business")),
            plan=rng.choice(("starter", "plus", "pro", "business", None)),
            status=rng.choice(("active", "active", "trial", "past_due", "cancelled")),
            renews_on=DAY + dt.timedelta(days=rng.choice((1, 3, 14, 20, 45))),
            auto_renew=rng.random() < 0.8,
            used=tuple(
                rng.sample(("notes", "sync", "reminders", "templates", "sharing", "calendar"), rng.randrange(4))
            ),
            tier=rng.choice((None, "bronze", "silver", "gold", "platinum")),
            tier_since=DAY - dt.timedelta(days=rng.randrange(10)),
            consents={kind: False for kind in ("tips", "milestones", "renewal") if rng.random() < 0.15},
        )
        if rng.random() < 0.1:
            add_orders(session, cid, placed=[NOW - dt.timedelta(days=d) for d in range(rng.choice((9, 10, 24, 25)))])
        if rng.random() < 0.1:
            add_closed_handoff(session, cid, closed_at=NOW - dt.timedelta(hours=rng.choice((3, 30, 80))))
        if rng.random() < 0.1:
            link(session, cid, channel=rng.choice(("telegram", "slack")), external_id=f"tg-{n}")
        for days_ago in range(rng.choice((0, 0, 1, 3))):  # already sent this week: the caps count them
            sent = NOW - dt.timedelta(days=days_ago, hours=2)
            session.add(
                OutboxMessage(
                    customer_id=cid,
                    campaign="usage_tip",
                    kind="tips",
                    occasion=f"old{days_ago}",
                    idempotency_key=f"{cid}:usage_tip:old{days_ago}",
                    local_day=sent.date(),
                    content_ref="offline-for-travel",
                    intent="EXTERNAL_usage_tip",
                    template="utter_outreach_usage_tip",
                    payload="{}",
                    channel="socketio",
                    conversation_id=f"cust:{cid}:web",
                    status="sent",
                    not_before=sent,
                    sent_at=sent,
                    planned_at=sent,
                )
            )
    session.flush()


def decisions(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    columns = [getattr(OutboxMessage, name) for name in DECISION]
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(*columns).order_by(OutboxMessage.idempotency_key))]


def planned(url: str, **options: Any) -> list[tuple[Any, ...]]:
    """Plan today and tomorrow (as the scheduler does) on a fresh copy of the population at ``url``."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            population(session)
        for day in (DAY, DAY + dt.timedelta(days=1)):
            plan_day(sessions=sessions, day=day, now=NOW, config=config(), batch_size=37, **options)
        return decisions(sessions)
    finally:
        engine.dispose()


def test_several_processes_decide_exactly_what_one_decides(new_store: Callable[..., str]) -> None:
    alone = planned(new_store())
    assert len({row[1] for row in alone}) >= 6  # most campaigns have customers in it: the test means something
    assert any(row[13] == "skipped" for row in alone) and any(row[16] for row in alone)
    assert planned(new_store(), workers=3) == alone


def test_sqlite_and_postgresql_decide_the_same(tmp_path_factory: pytest.TempPathFactory) -> None:
    on_sqlite = planned(migrated_store(tmp_path_factory.mktemp("db") / "support.db"))
    url, name = postgres_store()
    try:
        on_postgresql = planned(url)
    finally:
        drop_postgres_store(name)
    assert on_postgresql == on_sqlite


def test_keys_another_planner_inserted_meanwhile_are_left_alone(
    store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner leaves out keys it saw in the outbox; one inserted after it looked (by a second
    planner started by mistake) must neither be duplicated nor fail the batch (on PostgreSQL the
    bulk COPY fails and the conflict-ignoring insert takes over)."""
    with store.begin() as session:
        for n in range(5):
            add(session, f"C{n}", birthday=dt.date(1990, 3, 10))
    first = plan_day(sessions=store, day=DAY, now=NOW, config=config())
    ours = decisions(store)
    with store.begin() as session:  # the other planner's rows: half of ours, planned a minute earlier
        keep = {row[4] for row in ours[::2]}
        for row in session.scalars(select(OutboxMessage)):
            if row.idempotency_key not in keep:
                session.delete(row)
    blind = lambda **_: {f"C{n}": History() for n in range(5)}  # noqa: E731 - saw nothing in the outbox
    monkeypatch.setattr(planner, "load_histories", blind)
    again = plan_day(sessions=store, day=DAY, now=NOW, config=config())
    assert decisions(store) == ours
    assert sum(again.planned.values()) == sum(first.planned.values())  # it decided all of them again...
    with store() as session:  # ...and each key is in the outbox once
        keys = list(session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == len(set(keys)) == len(ours)


def test_the_garbage_collector_is_off_only_while_planning(store: sessionmaker[Session]) -> None:
    """Planning switches automatic collection off (and collects between batches); afterwards the
    process has its collector back as it was, whether it was on or off."""
    with store.begin() as session:
        for n in range(7):
            add(session, f"C{n}", birthday=dt.date(1990, 3, 10))
    during: list[bool] = []
    for before in (True, False):
        (gc.enable if before else gc.disable)()
        try:
            plan_day(
                sessions=store,
                day=DAY,
                now=NOW,
                config=config(),
                batch_size=3,
                on_decision=lambda *_: during.append(gc.isenabled()),
            )
            assert gc.isenabled() is before
        finally:
            gc.enable()
    assert during and not any(during)
