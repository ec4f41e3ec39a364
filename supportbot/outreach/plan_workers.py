"""Planning's process-level machinery: the garbage collector kept out of the way, and a day
planned by several processes at once (one contiguous range of customers each).

Kept apart from ``planner`` (what is planned) because this is only how fast: every customer's
decisions are made by exactly the same code in whichever process plans them, and the outbox's
unique key still decides what is inserted, so two processes (or two planners) can never
duplicate a row.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach.config import OutreachConfig

if TYPE_CHECKING:
    from supportbot.outreach.planner import PlanReport

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved = gc.isenabled()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run planning with the cyclic garbage collector out of the way, collecting between batches.

    A batch allocates hundreds of thousands of small objects (facts, candidates, rows) that
    reference counting frees; the collector, run by allocation counts, walked them over and over
    (measured at 45 % of planning's CPU time at the default threshold, and still about 15 % with
    the youngest generation collected every 50,000 allocations). Planning makes next to no
    reference cycles (peak RSS the same with the collector off), so inside this block automatic
    collection is off: what exists already is frozen out of its sight, and ``between_batches``
    collects the young generations after each batch, when the batch's objects are gone and the
    walk is short. Process-wide, so nested or concurrent plans share one setting and the last to
    finish restores it.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        _gc_users += 1
        if _gc_users == 1:
            _gc_saved = gc.isenabled()
            gc.freeze()
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                if _gc_saved:
                    gc.enable()
                gc.unfreeze()


def between_batches() -> None:
    """Collect what planning a batch left in cycles (inside ``fewer_collections``, nothing else does)."""
    if _gc_users:
        gc.collect(1)


def plan_in_workers(
    *,
    sessions: sessionmaker[Session],
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
    batch_size: int,
    workers: int,
) -> PlanReport:
    """Plan ``day`` in ``workers`` processes, each over its own contiguous range of customer ids.

    The processes are started fresh ("spawn", not fork: the scheduler that calls this runs
    threads, and a forked copy of a lock held by one of them would never be released). Each
    opens its own engine on the same URL (handed over through the pipe, never on a command
    line: it may carry a password) and returns its report; the reports are added up here.
    """
    from supportbot.outreach.facts import customer_id_shards
    from supportbot.outreach.planner import PlanReport

    with sessions() as session:
        shards = customer_id_shards(session=session, shards=workers)
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    report = PlanReport(day=day, dry_run=False)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(shards), mp_context=context) as pool:
        futures = [pool.submit(_plan_shard, url, day, now, config, batch_size, after, until) for after, until in shards]
        for future in futures:
            part = future.result()
            report.customers += part.customers
            report.planned.update(part.planned)
            report.skipped.update(part.skipped)
            report.skip_reasons.update(part.skip_reasons)
            report.excluded.update(part.excluded)
            report.day_over += part.day_over
    return report


def _plan_shard(
    url: str, day: dt.date, now: dt.datetime, config: OutreachConfig, batch_size: int, after: str, until: str | None
) -> PlanReport:
    """One worker process: plan the customers in (after, until] on its own engine."""
    from supportbot.outreach.planner import PlanReport, plan_range
    from supportbot.store.db import make_engine, session_factory

    engine = make_engine(url)
    report = PlanReport(day=day, dry_run=False)
    try:
        with fewer_collections():
            plan_range(
                sessions=session_factory(engine),
                day=day,
                now=now,
                config=config,
                dry_run=False,
                batch_size=batch_size,
                report=report,
                after=after,
                until=until,
            )
    finally:
        engine.dispose()
    return report
