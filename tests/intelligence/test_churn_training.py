"""Training the churn model on the store: refuses thin history, trains and versions on enough, scores subscribers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.intelligence.churn import churn_risk, load_model, score_customers, train_churn
from supportbot.intelligence.churn_model import ChurnSettings
from supportbot.store.demo import load_demo_data
from supportbot.store.intelligence_models import ChurnScore, IntelRun
from tests.intelligence.conftest import AS_OF

FAST = (ChurnSettings(c=0.1, spline_knots=4),)


def test_the_demo_store_has_too_little_history_and_training_says_what_is_missing(
    store: sessionmaker[Session], tmp_path: Path
) -> None:
    assert load_demo_data(session_factory=store, reference_date=AS_OF.date()) == 300
    with store.begin() as session, pytest.raises(InvalidRequestError) as refused:
        train_churn(session=session, as_of=AS_OF, model_dir=tmp_path / "models", candidates=FAST)
    message = str(refused.value)
    assert "not enough history to train a churn model" in message
    assert "at least 200 examples and 50 subscriptions of each kind" in message and "synthetic-history" in message
    assert not (tmp_path / "models").exists()
    with store() as session:
        assert session.scalar(select(IntelRun).where(IntelRun.kind == "churn_train")) is None


def test_training_on_history_saves_a_version_with_metadata_and_a_backtest(
    synthetic: sessionmaker[Session], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with synthetic.begin() as session:
        report = train_churn(session=session, as_of=AS_OF, model_dir=models, origin="synthetic", candidates=FAST)
    assert report.version == "churn-20261201T000000Z"
    assert (models / "LATEST").read_text().strip() == report.version
    metadata = json.loads((models / report.version / "metadata.json").read_text())
    assert metadata["origin"] == "synthetic" and metadata["horizon_days"] == 90 and len(metadata["cutoffs"]) == 12
    assert metadata["examples"] >= 200 and metadata["churned"] >= 30
    assert "tenure_days" in metadata["features"]["numeric"]
    backtest = metadata["backtest"]
    assert backtest["cutoff"] == "2026-09-02" and backtest["auc"] > 0.6  # the newest cut-off, never trained on
    assert backtest["brier"] < backtest["brier_of_base_rate"]
    assert sum(b["count"] for b in backtest["reliability"]) == backtest["examples"]
    model, loaded = load_model(models)
    assert loaded["version"] == report.version and model.spec.names == tuple(metadata["features"]["numeric"]) + tuple(
        metadata["features"]["categorical"]
    )
    with synthetic() as session:
        run = session.scalar(select(IntelRun).where(IntelRun.kind == "churn_train"))
        assert run is not None and run.model_version == report.version


def test_scoring_stores_a_calibrated_risk_and_reasons_for_every_subscriber(
    synthetic: sessionmaker[Session], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with synthetic.begin() as session:
        train_churn(session=session, as_of=AS_OF, model_dir=models, candidates=FAST)
    with synthetic.begin() as session:
        scored = score_customers(session=session, as_of=AS_OF, model_dir=models)
    with synthetic() as session:
        rows = list(session.scalars(select(ChurnScore)))
        assert len(rows) == scored > 50
        assert all(0 < r.probability < 1 for r in rows)
        riskiest = max(rows, key=lambda r: r.probability)
        risk = churn_risk(session=session, customer_id=riskiest.customer_id)
        assert risk is not None and risk[0] == riskiest.probability and 1 <= len(risk[1]) <= 3
        assert all(isinstance(text, str) and text for text in risk[1])
    with synthetic.begin() as session:  # a second scoring replaces, never duplicates
        assert score_customers(session=session, as_of=AS_OF, model_dir=models) == scored
    with synthetic() as session:
        assert len(list(session.scalars(select(ChurnScore)))) == scored


def test_without_a_model_scoring_says_how_to_get_one(store: sessionmaker[Session], tmp_path: Path) -> None:
    with store.begin() as session, pytest.raises(NotFoundError, match="train one with"):
        score_customers(session=session, as_of=AS_OF, model_dir=tmp_path / "none")


def test_a_model_from_another_scikit_learn_version_is_refused(synthetic: sessionmaker[Session], tmp_path: Path) -> None:
    models = tmp_path / "models"
    with synthetic.begin() as session:
        report = train_churn(session=session, as_of=AS_OF, model_dir=models, candidates=FAST)
    meta_path = models / report.version / "metadata.json"
    metadata = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**metadata, "sklearn": "0.24.2"}))
    with pytest.raises(InvalidRequestError, match=r"saved with scikit-learn 0\.24\.2.*retrain"):
        load_model(models)


def test_training_as_of_an_earlier_day_ignores_everything_after_it(
    synthetic: sessionmaker[Session], tmp_path: Path
) -> None:
    earlier = AS_OF - dt.timedelta(days=120)
    with synthetic.begin() as session:
        report = train_churn(session=session, as_of=earlier, model_dir=tmp_path / "m", candidates=FAST)
    assert report.metadata["cutoffs"][-1] == "2026-05-05"
    assert report.metadata["backtest"] is None or report.metadata["backtest"]["cutoff"] == "2026-05-05"
