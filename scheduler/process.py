"""The long-running scheduler: APScheduler 3 with its jobs persisted in the profile database.

Two jobs, both added at start-up with a fixed id and ``replace_existing=True``,
so a restart replaces them instead of adding duplicates:

- ``outreach-plan``, every ``plan_every_minutes``: coalesce (missed runs collapse
  into one; planning is idempotent anyway), one instance at a time, and a run
  missed while the process was down still runs if less than one interval late.
- ``outreach-deliver``, every ``deliver_every_seconds``: coalesce and one instance,
  so a slow round is never stacked with another; a missed round is simply the
  next one (grace of one interval).

Both also run once right at start-up (``next_run_time=now``). Three more, with the same
fixed-id rule:

- ``feedback-themes`` (``scheduler/themes_job.py``), every
  ``SUPPORTBOT_FEEDBACK_THEME_REBUILD_EVERY_HOURS``: rebuilds the feedback themes under a
  lease when feedback arrived since the last rebuild, else does nothing;
- ``intelligence-refresh`` daily at 03:00 UTC and ``intelligence-retrain`` on Sundays at
  04:00 UTC (``scheduler/intelligence_job.py``, docs/INTELLIGENCE.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from collections.abc import Callable
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from scheduler import handoff_job, intelligence_job, jobs, themes_job
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
        # Planning and delivery never wait behind a theme rebuild or an intelligence refresh.
        executors={"default": ThreadPoolExecutor(max_workers=4)},
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
    scheduler.add_job(
        themes_job.themes_job,
        trigger=IntervalTrigger(seconds=themes_job.every_seconds(), timezone=dt.UTC),
        id=themes_job.THEMES_JOB_ID,
        name="rebuild feedback themes",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
        next_run_time=now,
    )
    scheduler.add_job(
        handoff_job.escalation_job,
        trigger=IntervalTrigger(seconds=handoff_job.EVERY_SECONDS, timezone=dt.UTC),
        id=handoff_job.ESCALATION_JOB_ID,
        name="escalate handoffs waiting too long",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=handoff_job.EVERY_SECONDS,
        next_run_time=now,
    )
    daily: list[tuple[Callable[[], object], str, str, CronTrigger]] = [
        (
            intelligence_job.refresh_job,
            intelligence_job.REFRESH_JOB_ID,
            "refresh segments, scores and next actions",
            CronTrigger(hour=3, minute=0, timezone=dt.UTC),
        ),
        (
            intelligence_job.retrain_job,
            intelligence_job.RETRAIN_JOB_ID,
            "retrain the churn model",
            CronTrigger(day_of_week="sun", hour=4, minute=0, timezone=dt.UTC),
        ),
    ]
    for cron_job, cron_id, cron_name, trigger in daily:
        scheduler.add_job(
            cron_job,
            trigger=trigger,
            id=cron_id,
            name=cron_name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=6 * 3600,  # a day's refresh missed by a restart still runs that morning
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
