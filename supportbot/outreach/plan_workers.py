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
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run planning with the cyclic garbage collector mostly out of the way.

    A batch allocates hundreds of thousands of small objects (facts, candidates, rows) that
    reference counting frees; at the default threshold the collector ran hundreds of times per
    batch and walked every live object (SQLAlchemy's, the models'), measured at 45 % of
    planning's CPU time. Inside: what exists already is frozen out of the collector's sight
    and the youngest generation is collected every 50,000 allocations instead of 700; memory
    stays bounded (cycles are still collected, later). Process-wide, so nested or concurrent
    plans share one setting and the last to finish restores it.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        _gc_users += 1
        if _gc_users == 1:
            _gc_saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_gc_saved[0], 50_000), *_gc_saved[1:])
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


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
