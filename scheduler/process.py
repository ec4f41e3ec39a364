"""The long-running scheduler: APScheduler 3 with its jobs persisted in the profile database.

Two jobs, both added at start-up with a fixed id and ``replace_existing=True``,
so a restart replaces them instead of adding duplicates:

- ``outreach-plan``, every ``plan_every_minutes``: coalesce (missed runs collapse
  into one; planning is idempotent anyway), one instance at a time, and a run
  missed while the process was down still runs if less than one interval late.
- ``outreach-deliver``, every ``deliver_every_seconds``: coalesce and one instance,
  so a slow round is never stacked with another; a missed round is simply the
  next one (grace of one interval).

Both also run once right at start-up (``next_run_time=now``).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from scheduler import jobs
from supportbot.outreach.config import OutreachConfig
from supportbot.store.db import make_engine

logger = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
PLAN_JOB_ID = "outreach-plan"
DELIVER_JOB_ID = "outreach-deliver"


def configure(scheduler: BaseScheduler, *, engine: Engine) -> None:
    """Persistent job store on the profile database, a small thread pool, UTC."""
    scheduler.configure(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone=dt.UTC,
    )


def add_startup_jobs(
    scheduler: BaseScheduler, *, config: OutreachConfig, config_path: str | None, now: dt.datetime
) -> None:
    plan_seconds = config.schedule.plan_every_minutes * 60
    deliver_seconds = config.schedule.deliver_every_seconds
    for job, job_id, name, seconds in (
        (jobs.plan_job, PLAN_JOB_ID, "plan outreach", plan_seconds),
        (jobs.deliver_job, DELIVER_JOB_ID, "deliver outreach", deliver_seconds),
    ):
        # Fixed ids and replace_existing: a restart updates the stored job instead of adding a second one.
        scheduler.add_job(
            job,
            trigger=IntervalTrigger(seconds=seconds, timezone=dt.UTC),
            args=[config_path],
            id=job_id,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(seconds), 1),
            next_run_time=now,
        )


def run_scheduler(*, database_url: str, config: OutreachConfig, config_path: str | None, now: dt.datetime) -> None:
    """Run until SIGTERM or SIGINT; running jobs finish the row in hand, then the process exits."""
    engine = make_engine(database_url)
    scheduler = BlockingScheduler()
    configure(scheduler, engine=engine)
    add_startup_jobs(scheduler, config=config, config_path=config_path, now=now)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping after the jobs in hand", signum)
        jobs.stop_event().set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info("scheduler started as %s", jobs.worker_id())
    try:
        scheduler.start()
    finally:
        jobs.release_planner_lease()
        engine.dispose()
        logger.info("scheduler stopped")
