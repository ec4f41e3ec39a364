"""``python -m supportbot.intelligence``: the commands a support lead or the scheduler runs, on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from supportbot.intelligence import jobs
from supportbot.intelligence.churn import train_churn
from supportbot.intelligence.cli import main
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.intelligence_models import ClvScore, IntelRun, NextBestAction, UsageSnapshot
from supportbot.store.models import Customer
from tests.factories import migrated_store
from tests.intelligence.conftest import AS_OF
from tests.intelligence.test_churn_training import FAST


def test_train_churn_on_the_demo_store_refuses_with_a_message_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated_store(tmp_path / "demo.db")
    engine = make_engine(url)
    load_demo_data(session_factory=session_factory(engine), reference_date=AS_OF.date())
    engine.dispose()
    code = main(["--database-url", url, "--model-dir", str(tmp_path / "m"), "--as-of", "2026-12-01", "train-churn"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: not enough history to train a churn model")
    assert "Traceback" not in err


def test_a_missing_database_is_an_error_not_a_new_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    assert main(["--database-url", url, "segments"]) == 1
    assert "no database at" in capsys.readouterr().err and not (tmp_path / "nothing.db").exists()


def test_synthetic_history_goes_to_a_new_file_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "syn.db"
    assert main(["--as-of", "2026-12-01", "synthetic-history", str(path), "--customers", "20"]) == 0
    assert "20 SYNTHETIC customers" in capsys.readouterr().out
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Customer.id)))
        emails = list(session.scalars(select(Customer.email)))
    engine.dispose()
    assert ids == [f"SYN{n:06d}" for n in range(1, 21)] and all(e.endswith("@synthetic.invalid") for e in emails)
    assert main(["synthetic-history", str(path)]) == 1
    assert "exists" in capsys.readouterr().err


def test_refresh_runs_every_daily_step_and_show_prints_one_customer(
    synthetic_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    engine = make_engine(synthetic_url)
    with session_factory(engine).begin() as session:
        train_churn(session=session, as_of=AS_OF, model_dir=models, candidates=FAST)
    args = ["--database-url", synthetic_url, "--model-dir", str(models), "--as-of", "2026-12-01"]
    assert main([*args, "refresh"]) == 0
    out = capsys.readouterr().out
    for step in (
        "usage_snapshot: done",
        "churn_scores: done",
        "segments: done",
        "clv: done",
        "next_best_actions: done",
    ):
        assert step in out
    with session_factory(engine)() as session:
        kinds = set(session.scalars(select(IntelRun.kind)))
        assert {"usage_snapshot", "churn_score", "segments", "clv", "next_best_action"} <= kinds
        clv = session.scalars(select(ClvScore).where(ClvScore.expected_orders_12m > 0)).first()
        assert clv is not None and clv.order_clv_12m_cents > 0 and 0 < clv.probability_alive <= 1
        customer = session.scalars(select(NextBestAction.customer_id).where(NextBestAction.action != "none")).first()
        summary = json.loads(session.scalars(select(IntelRun.summary).where(IntelRun.kind == "clv")).one())
        assert summary["buyers"] > 50
    engine.dispose()
    assert main([*args, "show", str(customer)]) == 0
    shown = capsys.readouterr().out
    assert "segment:" in shown and "churn risk:" in shown and "next best action:" in shown
    assert main([*args, "segments"]) == 0
    assert "Paying but not using" in capsys.readouterr().out


def test_the_daily_job_without_a_model_skips_scoring_and_runs_the_rest(synthetic_url: str, tmp_path: Path) -> None:
    outcome = jobs.refresh_intelligence(synthetic_url, str(tmp_path / "no-models"), AS_OF.isoformat())
    assert outcome["churn_scores"].startswith("skipped: no churn model")
    assert outcome["segments"].startswith("done") and outcome["next_best_actions"].startswith("done")
    again = jobs.refresh_intelligence(synthetic_url, str(tmp_path / "no-models"), AS_OF.isoformat())
    assert again["usage_snapshot"] == "done: 0"  # one snapshot a day
    engine = make_engine(synthetic_url)
    with session_factory(engine)() as session:
        days = set(session.scalars(select(UsageSnapshot.taken_on).where(UsageSnapshot.taken_on == AS_OF.date())))
    engine.dispose()
    assert days == {AS_OF.date()}
