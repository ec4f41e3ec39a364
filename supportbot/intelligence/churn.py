"""Churn risk from the store's own history: train by command, version on disk, score every subscriber.

Training (``train_churn``): every subscriber at each of ``cutoffs`` monthly cut-offs is one
example, labelled 1 if the subscription ended within ``horizon_days`` after the cut-off and 0
if it was still running at the window's end (``features``). Settings are chosen by grouped
cross-validation (a customer's cut-offs stay in one fold) on the **backtest training part**:
examples whose windows closed before the newest cut-off. That newest cut-off is the backtest:
the model never saw it, and its AUC, Brier score and reliability table go into the metadata.
The model that is saved is then refitted on every example.

Below ``MIN_EXAMPLES`` labelled examples or ``MIN_ENDED`` distinct subscriptions of either outcome, training
refuses with a message saying what is missing; a model fitted on a handful of cancellations
would rank customers by noise. The demo store has few ended subscriptions: ``synthetic`` builds
a labelled, clearly synthetic history to train on for a demo.

Versions: ``<model_dir>/<version>/model.joblib`` + ``metadata.json`` (version, trained_at,
as_of, cut-offs, horizon, features, settings, metrics, training data origin, scikit-learn
version); ``<model_dir>/LATEST`` names the newest. Nothing under ``var/`` goes into git.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.intelligence.churn_model import ChurnModel, ChurnSettings, Reason
from supportbot.intelligence.evaluation import auc, brier, expected_calibration_error, reliability, select_settings
from supportbot.intelligence.features import SPEC, Example, features_at, monthly_cutoffs, training_examples
from supportbot.intelligence.history import load_history
from supportbot.settings import PROJECT_ROOT
from supportbot.store.intelligence_models import ChurnScore, IntelRun

MIN_EXAMPLES = 200
MIN_ENDED = 50
MODEL_DIR_ENV = "SUPPORTBOT_INTEL_MODEL_DIR"
CANDIDATES = (
    ChurnSettings(c=0.1, spline_knots=5),
    ChurnSettings(c=0.03, spline_knots=5),
    ChurnSettings(c=0.1, spline_knots=5, boosted_weight=1.0, boosted_iterations=300, boosted_min_leaf=20),
)
REASON_TEXT = {
    "tenure_days": "customer for {v:.0f} days",
    "monthly_price": "pays {v:.2f} a month",
    "days_to_renewal": "renews in {v:.0f} days",
    "orders_90d": "{v:.0f} orders in 90 days",
    "orders_365d": "{v:.0f} orders in a year",
    "spend_365d": "spent {v:.2f} on orders in a year",
    "days_since_order": "no order for {v:.0f} days",
    "returns_365d": "{v:.0f} returned orders in a year",
    "handoffs_90d": "needed a person {v:.0f} times in 90 days",
    "problem_reports_90d": "reported {v:.0f} problems in 90 days",
    "retention_offers_365d": "got {v:.0f} retention offers in a year",
    "plan_changes_365d": "changed plan {v:.0f} times in a year",
    "ratings_365d": "{v:.0f} ratings in a year",
    "features_adopted": "uses {v:.0f} features",
    "plan_feature_share": "uses {p:.0f} % of the plan's features",
    "uses_30d": "{v:.0f} uses in the last 30 days",
    "active_features_30d": "{v:.0f} features used in the last 30 days",
    "days_since_use": "no product use for {v:.0f} days",
    "plan": "on the {v} plan",
    "billing_period": "billed {v}",
    "segment": "segment {v}",
    "csat_last": "last CSAT {v}",
    "nps_last": "last NPS answer: {v}",
    "usage_known": "usage history known: {v}",
}


def default_model_dir() -> Path:
    return Path(os.environ.get(MODEL_DIR_ENV) or PROJECT_ROOT / "var" / "models" / "churn")


def reason_text(reason: Reason) -> str:
    template = REASON_TEXT.get(reason.feature, reason.feature + " {v}")
    value = reason.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return template.format(v=float(value), p=100 * float(value))
    return template.format(v=value, p=value)


@dataclass(frozen=True)
class TrainReport:
    version: str
    path: Path
    examples: int
    churned: int
    metadata: dict[str, Any]


def train_churn(
    *,
    session: Session,
    as_of: dt.datetime,
    model_dir: Path,
    horizon_days: int = 90,
    cutoffs: int = 12,
    origin: str = "store",
    n_jobs: int = 1,
    candidates: Sequence[ChurnSettings] = CANDIDATES,
) -> TrainReport:
    """Train, backtest and save a churn model; record the run. Raises ``InvalidRequestError`` on too little history."""
    store = load_history(session=session)
    points = monthly_cutoffs(as_of=as_of, horizon_days=horizon_days, count=cutoffs)
    examples = training_examples(store, as_of=as_of, horizon_days=horizon_days, cutoffs=points)
    _check_enough(examples, points, horizon_days)
    newest = points[-1]
    past = [e for e in examples if e.cutoff + horizon_days * DAY <= newest]
    test = [e for e in examples if e.cutoff == newest]
    backtest, settings, table = _backtest(past, test, candidates, n_jobs)
    model = ChurnModel(SPEC, settings).fit(
        [e.features for e in examples], [e.label or 0 for e in examples], groups=[e.customer_id for e in examples]
    )
    version = "churn-" + as_of.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    metadata = {
        "version": version,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(timespec="seconds"),
        "cutoffs": [c.date().isoformat() for c in points],
        "horizon_days": horizon_days,
        "origin": origin,
        "examples": len(examples),
        "churned": sum(e.label == 1 for e in examples),
        "customers": len({e.customer_id for e in examples}),
        "features": asdict(SPEC),
        "settings": asdict(settings),
        "candidates": table,
        "backtest": backtest,
        "sklearn": sklearn.__version__,
    }
    path = save_model(model, metadata, model_dir)
    session.add(
        IntelRun(
            kind="churn_train", as_of=as_of, model_version=version, rows=len(examples), summary=json.dumps(metadata)
        )
    )
    session.flush()
    return TrainReport(version, path, len(examples), int(metadata["churned"]), metadata)


DAY = dt.timedelta(days=1)


def _check_enough(examples: list[Example], points: list[dt.datetime], horizon_days: int) -> None:
    """Enough examples, and enough *distinct* ended subscriptions: one cancellation is an example at up to
    three monthly cut-offs, so counting examples alone would let a handful of cancellations pass."""
    ended = len({e.customer_id for e in examples if e.label == 1})
    retained = len({e.customer_id for e in examples if e.label == 0})
    if len(examples) >= MIN_EXAMPLES and ended >= MIN_ENDED and retained >= MIN_ENDED:
        return
    raise InvalidRequestError(
        f"not enough history to train a churn model: {len(examples)} labelled examples from {ended} subscriptions "
        f"that ended within {horizon_days} days of a cut-off and {retained} that kept running, at {len(points)} "
        f"monthly cut-offs from {points[0].date()} to {points[-1].date()}; at least {MIN_EXAMPLES} examples and "
        f"{MIN_ENDED} subscriptions of each kind are needed. Import more subscription history, or for a demo train "
        "on the synthetic history: python -m supportbot.intelligence synthetic-history var/intel-synthetic.db, "
        "then python -m supportbot.intelligence --database-url sqlite:///var/intel-synthetic.db train-churn "
        "--origin synthetic"
    )


def _backtest(
    past: list[Example], test: list[Example], grid: Sequence[ChurnSettings], n_jobs: int
) -> tuple[dict[str, Any] | None, ChurnSettings, list[dict[str, Any]]]:
    """Choose settings on ``past`` (grouped CV), score the newest cut-off once; None if either side is too thin."""
    labels = [e.label or 0 for e in past]
    if len(past) < MIN_EXAMPLES // 2 or min(sum(labels), len(labels) - sum(labels)) < 10:
        return None, grid[0], []
    settings, table = select_settings(
        [e.features for e in past],
        labels,
        SPEC,
        grid,
        folds=5,
        groups=[e.customer_id for e in past],
        n_jobs=n_jobs,
    )
    candidates = [{"settings": c.settings.label(), "cv_auc": c.mean_auc, "cv_std": c.std_auc} for c in table]
    y_test = [e.label or 0 for e in test]
    if len(set(y_test)) < 2:
        return None, settings, candidates
    model = ChurnModel(SPEC, settings).fit([e.features for e in past], labels, groups=[e.customer_id for e in past])
    p = model.predict_proba([e.features for e in test])
    table_rel = reliability(y_test, p)
    return (
        {
            "cutoff": test[0].cutoff.date().isoformat(),
            "trained_on": len(past),
            "examples": len(test),
            "churned": sum(y_test),
            "auc": auc(y_test, p),
            "brier": brier(y_test, p),
            "brier_of_base_rate": brier(y_test, np.full(len(y_test), float(np.mean(labels)))),
            "ece": expected_calibration_error(table_rel),
            "reliability": [asdict(b) for b in table_rel],
        },
        settings,
        candidates,
    )


def save_model(model: ChurnModel, metadata: dict[str, Any], model_dir: Path) -> Path:
    folder = model_dir / str(metadata["version"])
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    (model_dir / "LATEST").write_text(str(metadata["version"]) + "\n", encoding="utf-8")
    return folder


def load_model(model_dir: Path, version: str | None = None) -> tuple[ChurnModel, dict[str, Any]]:
    """The named (or newest) model and its metadata; refuses a model from another scikit-learn version."""
    latest = model_dir / "LATEST"
    if version is None:
        if not latest.is_file():
            raise NotFoundError(
                f"no churn model in {model_dir}: train one with python -m supportbot.intelligence train-churn"
            )
        version = latest.read_text(encoding="utf-8").strip()
    folder = model_dir / version
    if not (folder / "model.joblib").is_file():
        raise NotFoundError(f"churn model {version!r} not found in {model_dir}")
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    if metadata.get("sklearn") != sklearn.__version__:
        raise InvalidRequestError(
            f"churn model {version} was saved with scikit-learn {metadata.get('sklearn')}, this is "
            f"{sklearn.__version__}: retrain it (python -m supportbot.intelligence train-churn)"
        )
    model = joblib.load(folder / "model.joblib")
    if not isinstance(model, ChurnModel):
        raise InvalidRequestError(f"{folder / 'model.joblib'} is not a churn model")
    return model, metadata


def score_customers(
    *, session: Session, as_of: dt.datetime, model_dir: Path, top: int = 3, current: bool = True
) -> int:
    """Score every customer subscribed at ``as_of`` with the newest model; replaces ``churn_scores``.

    ``current=False`` scores a past ``as_of`` from the usage snapshots instead of today's usage
    (``jobs.backfill``)."""
    model, metadata = load_model(model_dir)
    store = load_history(session=session)
    scored = [
        (h.customer_id, f)
        for h in store.customers.values()
        if (f := features_at(store, h, as_of, current=current)) is not None
    ]
    run = IntelRun(kind="churn_score", as_of=as_of, model_version=metadata["version"], rows=len(scored))
    session.add(run)
    session.flush()
    session.execute(delete(ChurnScore))
    if scored:
        rows = [f for _, f in scored]
        probabilities = model.predict_proba(rows)
        reasons = model.reasons(rows, top=top)
        for (customer_id, _), p, why in zip(scored, probabilities, reasons, strict=True):
            session.add(
                ChurnScore(
                    customer_id=customer_id,
                    run_id=run.id,
                    model_version=metadata["version"],
                    probability=float(p),
                    reasons=json.dumps([{**asdict(r), "text": reason_text(r)} for r in why]),
                    scored_at=as_of,
                )
            )
    run.summary = json.dumps(
        {"mean_probability": float(np.mean(probabilities)) if scored else None, "origin": metadata.get("origin")}
    )
    session.flush()
    return len(scored)


def model_metadata(model_dir: Path, version: str) -> dict[str, Any] | None:
    """A saved version's metadata (the console's model card), or None when that version is not on this machine."""
    path = model_dir / version / "metadata.json"
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def churn_risk(*, session: Session, customer_id: str) -> tuple[float, list[str]] | None:
    """A customer's stored risk and its reasons in words (None when not scored)."""
    row = session.scalar(select(ChurnScore).where(ChurnScore.customer_id == customer_id))
    if row is None:
        return None
    return row.probability, [r["text"] for r in json.loads(row.reasons)]
