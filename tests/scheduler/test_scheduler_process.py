"""The scheduler process: its persistent APScheduler job store, its jobs and its command line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from scheduler import handoff_job, intelligence_job, jobs, runtime
from scheduler.cli import main
from scheduler.process import DELIVER_JOB_ID, JOB_TABLE, PLAN_JOB_ID, add_startup_jobs, configure
from scheduler.themes_job import THEMES_JOB_ID, themes_job
from supportbot.settings import get_settings
from supportbot.store.db import make_engine
from supportbot.store.outreach_models import OutboxMessage, SchedulerLease
from tests.scheduler.builders import DAY, NOW, add, config


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Settings pointing at this test's database, with a frozen scheduler clock."""
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", db_url)
    monkeypatch.delenv("RASA_API_TOKEN", raising=False)
    monkeypatch.setattr(runtime, "utc_now", lambda: NOW)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()
    # The jobs keep one engine per URL (runtime.sessions): close this test's connections now,
    # not whenever the cache drops the engine (a PostgreSQL connection collected open warns).
    runtime.sessions(db_url).kw["bind"].dispose()
    runtime.sessions.cache_clear()


def start_and_stop(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    scheduler = BackgroundScheduler()
    configure(scheduler, engine=engine)
    add_startup_jobs(scheduler, config=config(), config_path=None, now=NOW)
    scheduler.start(paused=True)
    ids = sorted(job.id for job in scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    engine.dispose()
    return ids


ALL_JOBS = sorted(
    [
        DELIVER_JOB_ID,
        PLAN_JOB_ID,
        THEMES_JOB_ID,
        intelligence_job.REFRESH_JOB_ID,
        intelligence_job.RETRAIN_JOB_ID,
        handoff_job.ESCALATION_JOB_ID,
    ]
)


def test_job_store_keeps_the_same_jobs_across_restarts(db_url: str) -> None:
    assert start_and_stop(db_url) == ALL_JOBS
    assert start_and_stop(db_url) == ALL_JOBS
    engine = make_engine(db_url)
    with engine.connect() as connection:
        stored = connection.execute(text(f"SELECT id FROM {JOB_TABLE} ORDER BY id")).scalars().all()
    assert stored == ALL_JOBS  # replaced on restart, never duplicated
    persisted = {job.id: job for job in SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE).get_all_jobs()}
    plan = persisted[PLAN_JOB_ID]
    assert plan.func is jobs.plan_job and plan.args == (None,)
    assert (plan.coalesce, plan.max_instances, plan.misfire_grace_time) == (True, 1, 3600)
    assert persisted[DELIVER_JOB_ID].trigger.interval == dt.timedelta(seconds=30)
    refresh = persisted[intelligence_job.REFRESH_JOB_ID]
    assert refresh.func is intelligence_job.refresh_job and refresh.args == ()  # no credentials in the job store
    assert persisted[THEMES_JOB_ID].func is themes_job
    engine.dispose()


def test_plan_job_plans_only_while_holding_the_planner_lease(env: str, store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", birthday=dt.date(1990, 3, 10))
        session.add(
            SchedulerLease(name=jobs.PLANNER_LEASE, holder="someone-else", expires_at=NOW + dt.timedelta(minutes=5))
        )
    jobs.plan_job(None)
    with store() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    with store.begin() as session:
        session.get(SchedulerLease, jobs.PLANNER_LEASE).expires_at = NOW - dt.timedelta(seconds=1)  # type: ignore[union-attr]
    jobs.plan_job(None)
    with store() as session:
        assert {r.campaign for r in session.scalars(select(OutboxMessage))} == {"birthday", "usage_tip"}
        assert session.get(SchedulerLease, jobs.PLANNER_LEASE).holder == jobs.worker_id()  # type: ignore[union-attr]


def test_cli_dry_run_prints_who_gets_what_and_why_and_writes_nothing(
    env: str, store: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    with store.begin() as session:
        add(session, "C1", birthday=dt.date(1990, 3, 10), consents={"tips": False})
    assert main(["plan", "--date", DAY.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "C1" in out and "birthday" in out and "planned" in out and "birthday 10 March" in out
    assert "skipped" in out and "consent withdrawn for tips" in out
    assert "would plan 1, skipped 1" in out
    with store() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert main(["plan", "--date", DAY.isoformat()]) == 0
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "outbox: planned 1, skipped 1" in out


def test_cli_names_the_missing_setting_in_one_line(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliver", "--once"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "scheduler: RASA_API_TOKEN is not set; `make run` creates one in var/secrets.env"


def test_cli_rejects_a_broken_campaign_file(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "campaigns.yml"
    broken.write_text("send_time: '10:00'\ncaps: {per_day: -1, per_week: 3}\n")
    assert main(["--config", str(broken), "plan", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "caps.per_day" in err and "campaigns" in err
