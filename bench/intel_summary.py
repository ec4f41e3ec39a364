"""The churn (Telco) and lifetime-value (CDNOW) sections of the benchmark summary (``bench.summary``)."""

from __future__ import annotations

from typing import Any

from bench.summary import Section, _load


def _f(value: Any, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def churn(name: str = "churn.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta, split = data.get("meta", {}), data["split"]
    base, ours = split["baseline"], split["ours"]
    published = meta.get("published", {})
    section = Section(
        "Churn risk on IBM Telco churn",
        name,
        [
            f"Run started {meta.get('started', '?')} on {meta.get('machine', '?')}, load {meta.get('load_avg_start')}:"
            f" `{meta.get('command', '?')}`. {meta.get('data', '')}. Goal: {published.get('goal', '?')}."
        ],
        ["model", "protocol", "validation AUC", "test AUC", "test Brier", "repeated 5-fold AUC"],
    )
    cv = data.get("repeated_cv")
    cv_base = f"{cv['baseline_mean_auc']:.4f} ± {cv['baseline_std_auc']:.4f}" if cv else "not run"
    cv_ours = f"{cv['ours_mean_auc']:.4f} ± {cv['ours_std_auc']:.4f}" if cv else "not run"
    done, planned = (cv.get("folds_done"), cv.get("folds", 5) * cv.get("repeats", 3)) if cv else (None, 0)
    if done is not None and done < planned:
        cv_base += f" ({done} of {planned} folds)"
        cv_ours += f" ({done} of {planned} folds)"
    section.rows += [
        [
            "published: one-hot logistic regression",
            "60/20/20 seed 1",
            _f(published.get("split_validation_auc"), 3),
            _f(published.get("split_test_auc"), 3),
            "–",
            str(published.get("repeated_cv_auc", "–")),
        ],
        [
            "baseline, scikit-learn defaults (as published)",
            "60/20/20 seed 1",
            _f(base.get("validation_auc_published_defaults")),
            "–",
            "–",
            "–",
        ],
        [
            f"baseline: {base['model']}",
            "60/20/20 seed 1",
            _f(base["validation_auc"]),
            _f(base["test_auc"]),
            _f(base["test_brier"]),
            cv_base,
        ],
        [
            f"ours: {ours['chosen']}",
            "settings by CV of train+validation",
            "–",
            _f(ours["test_auc"]),
            _f(ours["test_brier"]),
            cv_ours + " (nested)",
        ],
    ]
    section.notes.append(
        f"Ours, test split: expected calibration error {ours['test_ece']:.4f}; reliability (predicted → observed"
        " churn rate, rows): "
        + ", ".join(
            f"{b['low']:.1f}–{b['high']:.1f}: {b['mean_predicted']:.2f} → {b['observed_rate']:.2f} ({b['count']})"
            for b in ours["reliability"]
        )
        + "."
    )
    best = max(ours["candidates"], key=lambda c: c["cv_auc"])
    section.notes.append(
        f"Settings chosen by repeated 5-fold CV of train+validation (best {best['cv_auc']:.4f}); the test split was"
        f" scored once. Selection {ours['select_seconds']} s, final fit {ours['fit_seconds']} s."
    )
    return section


def clv(name: str = "clv.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta, bg, gg = data.get("meta", {}), data["bgnbd"], data["gamma_gamma"]
    paper = meta.get("published", {})
    section = Section(
        "Repeat purchases and lifetime value on CDNOW",
        name,
        [
            f"Run started {meta.get('started', '?')} on {meta.get('machine', '?')}, load {meta.get('load_avg_start')}:"
            f" `{meta.get('command', '?')}`. {meta.get('data', '')}. BG/NBD fit {data['fit_seconds']} s."
        ],
        [
            "predictor of holdout repeat purchases",
            "MAE per customer",
            "RMSE",
            "total predicted",
            "total actual",
            "total error",
        ],
    )
    for label, key in (("BG/NBD (ours)", "model"), ("naive: calibration rate carried forward", "naive")):
        e = data[key]
        section.rows.append(
            [
                label,
                _f(e["mae"]),
                _f(e["rmse"]),
                f"{e['total_predicted']:,.0f}",
                f"{e['total_actual']:,.0f}",
                f"{e['total_error_percent']:+.1f} %",
            ]
        )
    section.notes.append(
        f"BG/NBD on {data['customers']:,} customers: r={bg['r']:.3f}, α={bg['alpha']:.3f}, a={bg['a']:.3f},"
        f" b={bg['b']:.3f} (paper, {paper.get('customers', '?')}-customer sample: r={paper.get('r')},"
        f" α={paper.get('alpha')}, a={paper.get('a')}, b={paper.get('b')})."
    )
    samples = data.get("samples")
    if samples:
        span = {k: (min(s[k] for s in samples), max(s[k] for s in samples)) for k in ("r", "alpha", "a", "b")}
        section.notes.append(
            "Ten 1/10 samples (customer id mod 10), the paper's sample size: "
            + ", ".join(f"{k} {lo:.3f}–{hi:.3f}" for k, (lo, hi) in span.items())
            + "."
        )
    curve = data.get("cumulative", {})
    if curve:
        section.notes.append(
            "Cumulative holdout repeat purchases, predicted / actual: "
            + ", ".join(f"week {w}: {c['predicted']:,.0f} / {c['actual']:,.0f}" for w, c in curve.items())
            + "."
        )
    section.notes.append(
        f"Gamma-Gamma: p={gg['p']:.3f}, q={gg['q']:.3f}, γ={gg['gamma']:.3f} (paper: 6.25, 3.74, 15.44);"
        " holdout average"
        f" spend of {gg['customers_checked']:,} customers who bought in both periods: MAE {gg['spend_mae_model']:.2f}"
        f" (model) vs {gg['spend_mae_calibration_mean']:.2f} (their calibration average)."
    )
    return section
