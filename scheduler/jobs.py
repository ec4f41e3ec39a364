"""The scheduler's jobs: module-level functions that take only a config path.

APScheduler pickles a job as a reference to its function plus its arguments and
keeps both in the job store. So the arguments are plain strings, never objects,
and never secrets or database URLs (those come from the settings when the job
runs). The worker identity is per process (``worker_id``), not an argument:
two processes sharing a job store must never share a claim identity.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from functools import lru_cache

from scheduler import runtime
from supportbot.outreach.delivery import Deliverer, new_worker_id
from supportbot.outreach.leases import acquire_lease, release_lease
from supportbot.outreach.planner import days_to_plan, plan_day

logger = logging.getLogger(__name__)

PLANNER_LEASE = "outreach-planner"


@lru_cache(maxsize=1)
def worker_id() -> str:
    return new_worker_id()


@lru_cache(maxsize=1)
def stop_event() -> threading.Event:
    """Set on SIGTERM: running jobs finish the row in hand and return."""
    return threading.Event()


def plan_job(config_path: str | None = None) -> None:
    """Plan every customer's today and tomorrow, if this process holds the planner lease."""
    config = runtime.outreach_config(config_path)
    sessions = runtime.sessions(runtime.database_url())
    now = runtime.utc_now()
    ttl = dt.timedelta(minutes=config.schedule.plan_every_minutes * 2)
    with sessions.begin() as session:
        leader = acquire_lease(session=session, name=PLANNER_LEASE, holder=worker_id(), now=now, ttl=ttl)
    if not leader:
        logger.info("another scheduler holds the planner lease; not planning")
        return
    for day in days_to_plan(now):
        if stop_event().is_set():
            return
        plan_day(sessions=sessions, day=day, now=now, config=config)


def deliver_job(config_path: str | None = None) -> None:
    """Deliver what is due, for at most one job interval (the next run takes over)."""
    config = runtime.outreach_config(config_path)
    sessions = runtime.sessions(runtime.database_url())
    with runtime.rasa_client(config) as client:
        deliverer = Deliverer(
            sessions=sessions, client=client, config=config, clock=runtime.utc_now, worker=worker_id()
        )
        report = deliverer.deliver_all_due(
            stop=stop_event().is_set, budget_seconds=config.schedule.deliver_every_seconds
        )
    if report.claimed:
        logger.info("delivery: %s", report)


def release_planner_lease() -> None:
    """On a clean shutdown, so a standby scheduler can plan without waiting for the lease to expire."""
    sessions = runtime.sessions(runtime.database_url())
    with sessions.begin() as session:
        release_lease(session=session, name=PLANNER_LEASE, holder=worker_id(), now=runtime.utc_now())
