"""The churn and CDNOW benchmark helpers: the published split, the CDNOW protocol, and their summary sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import intel_cdnow, intel_telco, summary


def test_the_published_split_is_60_20_20_and_disjoint() -> None:
    train, validation, test = intel_telco.published_split(7043)
    assert (len(train), len(validation), len(test)) == (4225, 1409, 1409)
    assert len(set(train) | set(validation) | set(test)) == 7043
    assert list(test[:3]) == list(intel_telco.published_split(7043)[2][:3])  # seeded: the same rows every run


def test_cdnow_summary_follows_the_protocol(tmp_path: Path) -> None:
    (tmp_path / intel_cdnow.FILE).write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   10.00\n"
        " 00001 19970101  2   5.00\n"  # the same day: one transaction of 15.00
        " 00001 19970115  1   20.00\n"
        " 00001 19970930  1   30.00\n"  # the last calibration day
        " 00001 19971001  1   40.00\n"  # the first holdout day
        " 00002 19970301  1   12.00\n"
        " 00002 19980630  1   12.00\n"
    )
    cohort = intel_cdnow.load(tmp_path)
    assert list(cohort.ids) == [1, 2]
    assert list(cohort.rfm.frequency) == [2.0, 0.0]
    assert cohort.rfm.recency[0] == pytest.approx(272 / 7) and cohort.rfm.age[0] == pytest.approx(272 / 7)
    assert list(cohort.mean_spend) == [25.0, 0.0] and list(cohort.holdout) == [1.0, 1.0]
    assert cohort.weekly_holdout[0] == 1 and cohort.weekly_holdout[-1] == 1 and cohort.weekly_holdout.sum() == 2
    assert intel_cdnow.HOLDOUT_WEEKS == 39.0


def test_churn_and_clv_sections_are_written_between_the_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    reliability = [{"low": 0.0, "high": 0.1, "count": 10, "mean_predicted": 0.05, "observed_rate": 0.1}]
    split = {
        "baseline": {
            "model": "LR",
            "validation_auc_published_defaults": 0.8438,
            "validation_auc": 0.846,
            "test_auc": 0.858,
            "test_brier": 0.127,
        },
        "ours": {
            "chosen": "C=0.1",
            "test_auc": 0.8601,
            "test_brier": 0.125,
            "test_ece": 0.03,
            "reliability": reliability,
            "candidates": [{"cv_auc": 0.847}],
            "select_seconds": 1,
            "fit_seconds": 1,
        },
    }
    cv = {"baseline_mean_auc": 0.8447, "baseline_std_auc": 0.01, "ours_mean_auc": 0.8495, "ours_std_auc": 0.01}
    (results / "churn.json").write_text(json.dumps({"meta": {"published": {}}, "split": split, "repeated_cv": cv}))
    errors = {"mae": 0.8, "rmse": 1.7, "total_predicted": 1.0, "total_actual": 2.0, "total_error_percent": -50.0}
    clv = {
        "meta": {"published": {"r": 0.243}},
        "customers": 10,
        "fit_seconds": 1,
        "model": errors,
        "naive": errors,
        "bgnbd": {"r": 0.25, "alpha": 4.8, "a": 0.72, "b": 2.16},
        "gamma_gamma": {
            "p": 6.3,
            "q": 3.6,
            "gamma": 15.0,
            "customers_checked": 5,
            "spend_mae_model": 16.5,
            "spend_mae_calibration_mean": 17.8,
        },
    }
    (results / "clv.json").write_text(json.dumps(clv))
    monkeypatch.setattr(summary, "RESULTS", results)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Benchmarks\n\nprose\n\n{summary.START}\nold\n{summary.END}\n")
    assert summary.main(["--write-doc", str(doc)]) == 0
    text = doc.read_text()
    assert "### Churn risk on IBM Telco churn" in text and "| ours: C=0.1 |" in text and "0.8495 ± 0.0100" in text
    assert "### Repeat purchases and lifetime value on CDNOW" in text and "r=0.250" in text
    assert text.startswith("# Benchmarks\n\nprose") and "\nold\n" not in text
