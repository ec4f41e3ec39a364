"""Repeat purchases and spend on CDNOW: our BG/NBD + Gamma-Gamma against the naive carried-forward rate.

    .venvs/app/bin/python -m bench.clv            # or: make bench-clv

The standard protocol of Fader, Hardie & Lee (2005), ``bench.intel_cdnow``: fit on the 39-week
calibration period, predict each customer's repeat purchases in the 39-week holdout, compare with
what they did. Nothing is tuned: the model has no hyperparameters, so the holdout only scores.

- Parameters (r, α, a, b) next to the paper's. The paper fitted a 2,357-customer 1/10 sample of
  these 23,570 customers; to show how much a 1/10 sample moves the estimates, the ten systematic
  1/10 samples (customer id mod 10) are fitted too.
- Per-customer holdout MAE and RMSE of repeat purchases: model vs the naive baseline
  (calibration repeat rate x/T carried forward over the holdout's 39 weeks).
- Total holdout repeat purchases, predicted vs actual, and the cumulative curve at weeks 13/26/39.
- Gamma-Gamma: (p, q, γ), and for customers who bought in both periods the MAE of their holdout
  average spend against the model's expected spend and against their calibration average.

Results: ``bench-results/clv.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench import intel_cdnow as cdnow
from bench.intel_common import data_dir, run_meta, write_result
from supportbot.intelligence.clv_model import fit_bgnbd, fit_gamma_gamma

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "customers": 2357, "log_likelihood": -9582.4}


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    return {
        "mae": float(np.mean(np.abs(predicted - actual))),
        "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))),
        "total_predicted": float(predicted.sum()),
        "total_actual": float(actual.sum()),
        "total_error_percent": float(100 * (predicted.sum() - actual.sum()) / actual.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-samples", action="store_true", help="do not fit the ten 1/10 samples")
    args = parser.parse_args(argv)
    folder = data_dir("cdnow")
    started = time.perf_counter()
    cohort = cdnow.load(folder)
    load_s = time.perf_counter() - started
    meta = run_meta("python -m bench.clv" + "".join(f" {a}" for a in (argv or [])))
    meta.update(
        data=f"cdnow/{cdnow.FILE}: {len(cohort.ids):,} customers; calibration to {cdnow.CALIBRATION_END},"
        f" holdout to {cdnow.HOLDOUT_END} ({cdnow.HOLDOUT_WEEKS:g} weeks)",
        published=PUBLISHED,
    )
    started = time.perf_counter()
    model = fit_bgnbd(cohort.rfm)
    fit_s = time.perf_counter() - started
    weeks = cdnow.HOLDOUT_WEEKS
    predicted = model.expected_purchases(cohort.rfm, weeks)
    naive = cohort.rfm.frequency / cohort.rfm.age * weeks
    actual = cohort.holdout
    cumulative_actual = np.cumsum(cohort.weekly_holdout)
    curve = {
        str(w): {
            "predicted": float(model.expected_purchases(cohort.rfm, float(w)).sum()),
            "actual": float(cumulative_actual[w - 1]),
        }
        for w in (13, 26, 39)
    }
    spend = fit_gamma_gamma(cohort.rfm.frequency, cohort.mean_spend)
    data: dict[str, Any] = {
        "meta": meta,
        "customers": len(cohort.ids),
        "calibration_repeat_purchases": float(cohort.rfm.frequency.sum()),
        "load_seconds": round(load_s, 2),
        "fit_seconds": round(fit_s, 2),
        "bgnbd": {
            "r": model.r,
            "alpha": model.alpha,
            "a": model.a,
            "b": model.b,
            "log_likelihood": model.log_likelihood,
        },
        "model": _errors(predicted, actual),
        "naive": _errors(naive, actual),
        "cumulative": curve,
        "gamma_gamma": {"p": spend.p, "q": spend.q, "gamma": spend.gamma, **_spend_check(cohort, spend)},
    }
    print(
        f"BG/NBD on {len(cohort.ids):,} customers ({fit_s:.1f} s): r={model.r:.3f} α={model.alpha:.3f}"
        f" a={model.a:.3f} b={model.b:.3f}   (paper, 2,357: r=0.243 α=4.414 a=0.793 b=2.426)"
    )
    for name in ("model", "naive"):
        e = data[name]
        print(
            f"  {name:6s} holdout MAE {e['mae']:.4f}  RMSE {e['rmse']:.4f}  total {e['total_predicted']:,.0f}"
            f" vs {e['total_actual']:,.0f} ({e['total_error_percent']:+.1f} %)"
        )
    if not args.skip_samples:
        data["samples"] = [_sample(cohort, k) for k in range(10)]
        r = [s["r"] for s in data["samples"]]
        print(f"  ten 1/10 samples: r {min(r):.3f}–{max(r):.3f}")
    print(f"written: {write_result('clv.json', data)}")
    return 0


def _sample(cohort: cdnow.Cohort, k: int) -> dict[str, float]:
    part = cohort.subset(cohort.ids % 10 == k)
    fitted = fit_bgnbd(part.rfm)
    return {"mod10": k, "customers": len(part.ids), "r": fitted.r, "alpha": fitted.alpha, "a": fitted.a, "b": fitted.b}


def _spend_check(cohort: cdnow.Cohort, spend: Any) -> dict[str, float]:
    """Customers with repeat purchases in calibration and purchases in the holdout: holdout average spend."""
    both = (cohort.rfm.frequency > 0) & (cohort.holdout > 0)
    expected = spend.expected_spend(cohort.rfm.frequency[both], cohort.mean_spend[both])
    actual = cohort.holdout_mean_spend[both]
    return {
        "customers_checked": int(both.sum()),
        "spend_mae_model": float(np.mean(np.abs(expected - actual))),
        "spend_mae_calibration_mean": float(np.mean(np.abs(cohort.mean_spend[both] - actual))),
    }


if __name__ == "__main__":
    raise SystemExit(main())
