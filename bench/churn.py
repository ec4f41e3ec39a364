"""Churn model benchmark on IBM's Telco churn sample: our training code against plain logistic regression.

    .venvs/app/bin/python -m bench.churn            # or: make bench-churn

Two protocols, each with the baseline measured in the same run:

1. **Published 60/20/20 split, seed 1** (``bench.intel_telco.published_split``). The baseline is
   the published model: one-hot (DictVectorizer) logistic regression, liblinear, C=1, fitted on
   train+validation and scored on test; its validation figure with scikit-learn's defaults is the
   published 0.844. Our settings are chosen by repeated 5-fold cross-validation **of
   train+validation only** (each candidate's validation AUC is printed for information); the
   chosen model is fitted on train+validation and scored on the test split once.
2. **Repeated stratified 5-fold over all 7,043 rows** (3 repeats). The baseline uses the same
   folds. Ours is nested: inside each outer training part, a 3-fold search picks the settings,
   so no outer held-out fold takes part in any choice.

Calibration on the test split: Brier score (ours and the baseline's), expected calibration
error and a 10-bin reliability table. Results: ``bench-results/churn.json``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline

from bench import intel_telco as telco
from bench.intel_common import data_dir, run_meta, write_result
from supportbot.intelligence.churn_model import ChurnModel, ChurnSettings, FeatureSpec, Row
from supportbot.intelligence.evaluation import (
    auc,
    brier,
    expected_calibration_error,
    reliability,
    select_settings,
)


def _trees(settings: ChurnSettings) -> ChurnSettings:
    """The same settings blended with boosted trees (the tree settings were tried on train+validation only)."""
    return replace(
        settings, boosted_weight=1.0, boosted_learning_rate=0.01, boosted_iterations=600, boosted_max_depth=3
    )


def _forest(settings: ChurnSettings) -> ChurnSettings:
    """Half boosted trees, half extremely randomised trees (ExtraTreesClassifier, 500 trees, leaf ≥ 10,
    40 % of the features per split): the forest's settings and the halves were chosen by repeated
    5-fold CV of train+validation only (0.8481 against 0.8474 for boosted trees alone, better on 7 of
    10 folds; a random forest instead gave 0.8479)."""
    return replace(_trees(settings), boosted_weight=0.5, forest_weight=0.5)


LINEAR = [ChurnSettings(c=c, spline_knots=k, boosted_min_leaf=80) for k in (5, 7) for c in (0.03, 0.1, 0.3)]
GRID = LINEAR + [_trees(s) for s in LINEAR] + [_forest(s) for s in LINEAR if s.spline_knots == 5]
NESTED_LINEAR = [ChurnSettings(c=c, spline_knots=5, boosted_min_leaf=80) for c in (0.03, 0.1)]
NESTED_GRID = [_trees(s) for s in NESTED_LINEAR] + [_forest(s) for s in NESTED_LINEAR]
PUBLISHED = {
    "split_validation_auc": 0.844,
    "split_test_auc": 0.857,
    "repeated_cv_auc": "0.845–0.847 (tuned logistic regression, boosted trees)",
    "goal": "test ≥ 0.860, repeated 5-fold mean ≥ 0.850",
}


def baseline(**kwargs: Any) -> Pipeline:
    """The published model: one-hot features (DictVectorizer) into logistic regression."""
    return make_pipeline(DictVectorizer(sparse=False), LogisticRegression(**kwargs))


def _take(rows: Sequence[Row], index: NDArray[np.int_]) -> list[Row]:
    return [rows[i] for i in index]


def published_split(records: list[dict[str, str]], y: NDArray[np.int_], n_jobs: int) -> dict[str, Any]:
    raw, ours = telco.raw_rows(records), telco.model_rows(records)
    spec = telco.model_spec(records)
    train, validation, test = telco.published_split(len(y))
    full = np.concatenate([train, validation])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the published defaults stop at 100 iterations
        replica = baseline().fit(_take(raw, train), y[train])
    base = baseline(solver="liblinear", C=1.0, max_iter=1000)
    base_val = auc(y[validation], base.fit(_take(raw, train), y[train]).predict_proba(_take(raw, validation))[:, 1])
    base_p = base.fit(_take(raw, full), y[full]).predict_proba(_take(raw, test))[:, 1]
    result: dict[str, Any] = {
        "baseline": {
            "model": "DictVectorizer + LogisticRegression(liblinear, C=1)",
            "validation_auc_published_defaults": auc(
                y[validation], replica.predict_proba(_take(raw, validation))[:, 1]
            ),
            "validation_auc": base_val,
            "test_auc": auc(y[test], base_p),
            "test_brier": brier(y[test], base_p),
        }
    }
    print(f"baseline  validation AUC {base_val:.4f}   test AUC {result['baseline']['test_auc']:.4f}", flush=True)
    started = time.perf_counter()
    chosen, table = select_settings(_take(ours, full), y[full], spec, GRID, folds=5, repeats=2, n_jobs=n_jobs)
    candidates = []
    for cand in table:
        model = ChurnModel(spec, cand.settings)
        val = _validation_auc(model, ours, y, train, validation)
        candidates.append(
            {"settings": cand.settings.label(), "cv_auc": cand.mean_auc, "cv_std": cand.std_auc, "validation_auc": val}
        )
        print(f"  {cand.settings.label():75s} cv {cand.mean_auc:.4f} ± {cand.std_auc:.4f}  val {val:.4f}", flush=True)
    select_s = time.perf_counter() - started
    started = time.perf_counter()
    model = ChurnModel(spec, chosen).fit(_take(ours, full), y[full])
    fit_s = time.perf_counter() - started
    p = model.predict_proba(_take(ours, test))  # the one and only look at the test split
    table_rel = reliability(y[test], p)
    result["ours"] = {
        "chosen": chosen.label(),
        "settings": asdict(chosen),
        "candidates": candidates,
        "select_seconds": round(select_s, 1),
        "fit_seconds": round(fit_s, 1),
        "test_auc": auc(y[test], p),
        "test_brier": brier(y[test], p),
        "test_ece": expected_calibration_error(table_rel),
        "reliability": [asdict(b) for b in table_rel],
        "platt": list(model.platt),
    }
    print(
        f"ours ({chosen.label()})  test AUC {result['ours']['test_auc']:.4f}  Brier {result['ours']['test_brier']:.4f}"
    )
    return result


def _validation_auc(
    model: ChurnModel,
    rows: Sequence[Row],
    y: NDArray[np.int_],
    train: NDArray[np.int_],
    validation: NDArray[np.int_],
) -> float:
    """Train → validation AUC of the uncalibrated scorer (calibration does not change a ranking)."""
    from supportbot.intelligence.churn_model import BlendScorer, to_matrix

    scorer = BlendScorer(model.spec, model.settings).fit(to_matrix(_take(rows, train), model.spec), y[train])
    return auc(y[validation], scorer.decision_function(to_matrix(_take(rows, validation), model.spec)))


def _cv_summary(
    base: list[float], ours: list[float], chosen: list[str], repeats: int, started: float
) -> dict[str, Any]:
    return {
        "folds": 5,
        "repeats": repeats,
        "folds_done": len(ours),
        "baseline_mean_auc": float(np.mean(base)),
        "baseline_std_auc": float(np.std(base)),
        "ours_mean_auc": float(np.mean(ours)),
        "ours_std_auc": float(np.std(ours)),
        "baseline_fold_auc": base,
        "ours_fold_auc": ours,
        "ours_chosen": chosen,
        "seconds": round(time.perf_counter() - started, 1),
    }


def repeated_cv(
    records: list[dict[str, str]],
    y: NDArray[np.int_],
    repeats: int,
    n_jobs: int,
    after_fold: Callable[[dict[str, Any]], None] = lambda _: None,
) -> dict[str, Any]:
    """Nested repeated 5-fold; ``after_fold`` gets the summary so far after every outer fold (a stopped
    run on a slow machine keeps what it measured)."""
    raw, ours = telco.raw_rows(records), telco.model_rows(records)
    spec: FeatureSpec = telco.model_spec(records)
    splitter = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=42)
    base_scores, our_scores, chosen = [], [], []
    started = time.perf_counter()
    for k, (train, held) in enumerate(splitter.split(np.zeros(len(y)), y)):
        base = baseline(solver="liblinear", C=1.0, max_iter=1000).fit(_take(raw, train), y[train])
        base_scores.append(auc(y[held], base.predict_proba(_take(raw, held))[:, 1]))
        settings, _ = select_settings(_take(ours, train), y[train], spec, NESTED_GRID, folds=3, n_jobs=n_jobs)
        model = ChurnModel(spec, settings)
        our_scores.append(_validation_auc(model, ours, y, train, held))
        chosen.append(settings.label())
        print(
            f"  fold {k + 1:2d}: baseline {base_scores[-1]:.4f}  ours {our_scores[-1]:.4f}  ({settings.label()})",
            flush=True,
        )
        after_fold(_cv_summary(base_scores, our_scores, chosen, repeats, started))
    return _cv_summary(base_scores, our_scores, chosen, repeats, started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the stratified 5-fold (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel fits in cross-validation (default 2)")
    parser.add_argument("--skip-cv", action="store_true", help="only the published split")
    args = parser.parse_args(argv)
    folder = data_dir("telco_churn")
    records, y = telco.load(folder)
    meta = run_meta("python -m bench.churn" + "".join(f" {a}" for a in (argv or [])))
    meta.update(data=f"{folder.name}/{telco.FILE}: {len(y)} customers, {int(y.sum())} churned", published=PUBLISHED)
    data: dict[str, Any] = {"meta": meta, "split": published_split(records, y, args.jobs)}
    write_result("churn.json", data)
    if not args.skip_cv:

        def keep(partial: dict[str, Any]) -> None:
            data["repeated_cv"] = partial
            write_result("churn.json", data)

        data["repeated_cv"] = cv = repeated_cv(records, y, args.repeats, args.jobs, keep)
        print(
            f"repeated 5-fold × {args.repeats}: baseline {cv['baseline_mean_auc']:.4f} ± {cv['baseline_std_auc']:.4f}"
            f"   ours {cv['ours_mean_auc']:.4f} ± {cv['ours_std_auc']:.4f}"
        )
    print(f"written: {write_result('churn.json', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
