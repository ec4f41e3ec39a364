"""How good a churn model is: ranking (ROC AUC), calibration (Brier score, reliability table), and
choosing settings by cross-validation of training rows only.

Used by the training command (its metrics go into the model's metadata) and by ``bench/churn.py``,
so both report the same figures computed the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

from supportbot.intelligence.churn_model import (
    BlendScorer,
    ChurnSettings,
    FeatureSpec,
    Row,
    stratified_folds,
    to_matrix,
)


@dataclass(frozen=True)
class ReliabilityBin:
    """Rows whose predicted probability fell in ``[low, high)``: how many, predicted vs observed rate."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


def auc(labels: Sequence[int] | NDArray[np.int_], scores: NDArray[np.float64]) -> float:
    return float(roc_auc_score(np.asarray(labels), scores))


def brier(labels: Sequence[int] | NDArray[np.int_], probabilities: NDArray[np.float64]) -> float:
    return float(brier_score_loss(np.asarray(labels), probabilities))


def reliability(
    labels: Sequence[int] | NDArray[np.int_], probabilities: NDArray[np.float64], *, bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins of predicted probability; empty bins are left out."""
    y = np.asarray(labels, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                ReliabilityBin(
                    low=round(float(edges[b]), 2),
                    high=round(float(edges[b + 1]), 2),
                    count=int(mask.sum()),
                    mean_predicted=round(float(probabilities[mask].mean()), 4),
                    observed_rate=round(float(y[mask].mean()), 4),
                )
            )
    return out


def expected_calibration_error(table: list[ReliabilityBin]) -> float:
    total = sum(b.count for b in table)
    return float(sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in table) / total) if total else 0.0


def cross_validated_auc(
    rows: Sequence[Row],
    labels: Sequence[int],
    spec: FeatureSpec,
    settings: ChurnSettings,
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    n_jobs: int = 1,
    groups: Sequence[str] | None = None,
) -> NDArray[np.float64]:
    """ROC AUC of every held-out fold of repeated stratified K-fold over ``rows``.

    With ``groups`` (customer ids, when a customer has rows at several cut-offs) the folds are
    stratified group folds, one per repeat seed, so no customer is on both sides of a fold."""
    x, y = to_matrix(rows, spec), np.asarray(labels, dtype=int)
    scorer = BlendScorer(spec, settings)
    if groups is None:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
        scores = cross_val_score(scorer, x, y, cv=splitter, scoring="roc_auc", n_jobs=n_jobs)
        return np.asarray(scores, dtype=np.float64)
    parts = [
        cross_val_score(
            scorer,
            x,
            y,
            groups=list(groups),
            cv=stratified_folds(folds, seed=seed + r, grouped=True),
            scoring="roc_auc",
            n_jobs=n_jobs,
        )
        for r in range(repeats)
    ]
    scores = np.concatenate(parts)
    return np.asarray(scores, dtype=np.float64)


@dataclass(frozen=True)
class Candidate:
    settings: ChurnSettings
    mean_auc: float
    std_auc: float


def select_settings(
    rows: Sequence[Row],
    labels: Sequence[int],
    spec: FeatureSpec,
    candidates: Sequence[ChurnSettings],
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    n_jobs: int = 1,
    groups: Sequence[str] | None = None,
) -> tuple[ChurnSettings, list[Candidate]]:
    """The candidate with the best mean cross-validated AUC over ``rows`` (pass training rows only)."""
    if not candidates:
        raise ValueError("no candidate settings to choose from")
    table = []
    for settings in candidates:
        scores = cross_validated_auc(
            rows, labels, spec, settings, folds=folds, repeats=repeats, seed=seed, n_jobs=n_jobs, groups=groups
        )
        table.append(Candidate(settings, float(scores.mean()), float(scores.std())))
    best = max(table, key=lambda c: c.mean_auc)
    return best.settings, table
