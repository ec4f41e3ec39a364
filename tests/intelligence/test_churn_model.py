"""The churn classifier on data with a known signal: it ranks, calibrates, explains and refuses bad input."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from supportbot.intelligence.churn_model import ChurnModel, ChurnSettings, FeatureSpec, _logit, to_matrix
from supportbot.intelligence.evaluation import auc, brier, cross_validated_auc, reliability, select_settings

SPEC = FeatureSpec(numeric=("tenure", "tickets", "noise"), categorical=("contract",))


def _rows(n: int, seed: int) -> tuple[list[dict[str, float | str]], list[int]]:
    """Churn rises with tickets, falls with tenure, and is highest on month-to-month contracts."""
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        row: dict[str, float | str] = {
            "tenure": rng.uniform(0, 72),
            "tickets": float(rng.randint(0, 6)),
            "noise": rng.gauss(0, 1),
            "contract": rng.choice(("month", "year", "two_year")),
        }
        z = (
            -1.0
            - 0.04 * float(row["tenure"])
            + 0.6 * float(row["tickets"])
            + (1.2 if row["contract"] == "month" else 0)
        )
        rows.append(row)
        labels.append(int(rng.random() < 1 / (1 + np.exp(-z))))
    return rows, labels


def test_it_learns_the_signal_and_ranks_held_out_rows() -> None:
    train, y_train = _rows(1500, 1)
    test, y_test = _rows(800, 2)
    model = ChurnModel(SPEC, ChurnSettings(c=0.3, spline_knots=4)).fit(train, y_train)
    p = model.predict_proba(test)
    assert auc(y_test, p) > 0.8
    assert brier(y_test, p) < brier(y_test, np.full(len(y_test), float(np.mean(y_train))))


def test_calibration_is_monotone_so_it_changes_no_ranking() -> None:
    rows, y = _rows(600, 3)
    model = ChurnModel(SPEC, ChurnSettings(boosted_weight=1.0, boosted_iterations=50)).fit(rows, y)
    scores, p = model.score(rows), model.predict_proba(rows)
    assert ((p > 0) & (p < 1)).all()
    assert (np.argsort(scores, kind="stable") == np.argsort(p, kind="stable")).all()
    a, _b = model.platt
    assert a > 0


def test_the_blend_with_both_kinds_of_trees_ranks_held_out_rows_and_is_the_weighted_logit_mean() -> None:
    train, y_train = _rows(1500, 11)
    test, y_test = _rows(800, 12)
    settings = ChurnSettings(
        c=0.3, spline_knots=4, boosted_weight=0.5, boosted_iterations=50, forest_weight=0.5, forest_trees=60
    )
    model = ChurnModel(SPEC, settings).fit(train, y_train)
    assert auc(y_test, model.predict_proba(test)) > 0.8
    scorer = model.scorer
    assert scorer is not None and scorer.forest_ is not None and scorer.boosted_ is not None
    x = to_matrix(test, SPEC)
    parts = [
        scorer.additive_.decision_function(x),
        0.5 * _logit(scorer.boosted_.predict_proba(x)[:, 1]),
        0.5 * _logit(scorer.forest_.predict_proba(x)[:, 1]),
    ]
    assert np.allclose(scorer.decision_function(x), sum(parts) / 2.0)


def test_a_model_saved_before_the_forest_existed_still_scores() -> None:
    rows, y = _rows(600, 13)
    model = ChurnModel(SPEC, ChurnSettings(boosted_weight=1.0, boosted_iterations=30)).fit(rows, y)
    assert model.scorer is not None
    before = model.score(rows)
    del model.scorer.forest_  # what unpickling a model from before the forest option gives
    again = pickle.loads(pickle.dumps(model))
    assert np.allclose(again.score(rows), before)


def test_reliability_table_matches_predictions_within_a_few_points() -> None:
    train, y_train = _rows(2000, 4)
    test, y_test = _rows(2000, 5)
    p = ChurnModel(SPEC).fit(train, y_train).predict_proba(test)
    table = reliability(y_test, p)
    assert sum(b.count for b in table) == len(y_test)
    big = [b for b in table if b.count >= 150]
    assert big and all(abs(b.mean_predicted - b.observed_rate) < 0.08 for b in big)


def test_top_reasons_name_what_pushes_risk_up() -> None:
    rows, y = _rows(1500, 6)
    model = ChurnModel(SPEC, ChurnSettings(c=1.0, spline_knots=0)).fit(rows, y)
    risky = {"tenure": 1.0, "tickets": 6.0, "noise": 0.0, "contract": "month"}
    safe = {"tenure": 70.0, "tickets": 0.0, "noise": 0.0, "contract": "two_year"}
    reasons_risky, reasons_safe = model.reasons([risky, safe], top=3)
    assert reasons_risky[0].feature == "tickets"
    assert {r.feature for r in reasons_risky} == {"tickets", "contract", "tenure"}
    assert all(r.contribution > 0 for r in reasons_risky)
    assert "tickets" not in {r.feature for r in reasons_safe}


def test_a_fitted_model_survives_pickling_with_the_same_predictions() -> None:
    rows, y = _rows(400, 7)
    model = ChurnModel(SPEC).fit(rows, y)
    again = pickle.loads(pickle.dumps(model))
    assert np.allclose(again.predict_proba(rows[:20]), model.predict_proba(rows[:20]))


@pytest.mark.parametrize("bad", [None, float("nan"), "12", float("inf")])
def test_a_missing_or_non_finite_number_is_refused_with_its_name(bad: object) -> None:
    rows, y = _rows(200, 8)
    model = ChurnModel(SPEC).fit(rows, y)
    row = dict(rows[0], tenure=bad)
    with pytest.raises(ValueError, match="'tenure' must be a finite number"):
        model.predict_proba([row])


def test_training_needs_both_outcomes() -> None:
    rows, _ = _rows(50, 9)
    with pytest.raises(ValueError, match="both churned and retained"):
        ChurnModel(SPEC).fit(rows, [0] * 50)


def test_an_unknown_category_at_scoring_time_is_not_an_error() -> None:
    rows, y = _rows(300, 10)
    p = ChurnModel(SPEC).fit(rows, y).predict_proba([dict(rows[0], contract="weekly")])
    assert 0 < p[0] < 1


def test_selection_picks_the_best_cross_validated_candidate_and_groups_keep_customers_apart() -> None:
    rows, y = _rows(600, 11)
    weak = ChurnSettings(c=1e-5, spline_knots=0)
    good = ChurnSettings(c=1.0, spline_knots=4)
    chosen, table = select_settings(rows, y, SPEC, [weak, good], folds=3)
    assert chosen == good and len(table) == 2
    groups = [f"C{i // 3}" for i in range(len(rows))]  # three rows per "customer"
    scores = cross_validated_auc(rows, y, SPEC, good, folds=3, repeats=2, groups=groups)
    assert len(scores) == 6 and scores.mean() > 0.75
