"""Scoring NLU predictions (``bench/rasa_predict.py``'s output) for ``bench.nlu``: accuracy with
and without the fallback, macro-F1, out-of-scope recall and precision, and the fallback's
decision replayed at other thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT_OF_SCOPE = "oos"
FALLBACK = "nlu_fallback"

Example = tuple[str, str]


def is_out_of_scope(label: str | None) -> bool:
    """Out of scope as the assistant acts on it: the trained ``oos`` class or a fallback."""
    return label in (OUT_OF_SCOPE, FALLBACK)


def read_predictions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def oos_scores(decided: list[tuple[str, str]]) -> dict[str, float | None]:
    """Out-of-scope recall and precision of (gold, final intent) pairs; None where undefined."""
    oos = [p for g, p in decided if g == OUT_OF_SCOPE]
    flagged = [g for g, p in decided if is_out_of_scope(p)]
    return {
        "oos_recall": round(sum(1 for p in oos if is_out_of_scope(p)) / len(oos), 4) if oos else None,
        "oos_precision": round(flagged.count(OUT_OF_SCOPE) / len(flagged), 4) if flagged else None,
    }


def metrics(predictions_path: Path, gold: list[Example], *, out_of_scope: bool) -> dict[str, Any]:
    """Scores of ``bench/rasa_predict.py``'s output, one line per gold example in order.

    ``accuracy`` takes the assistant's final intent, so a fallback (``nlu_fallback``) counts
    as wrong, as it would in a conversation; ``top1_accuracy`` takes the classifier's own best
    intent whatever its confidence (the figure intent-detection papers report for BANKING77).
    CLINC150: both over the in-scope examples only; out of scope is detected when the final
    intent is ``oos`` or ``nlu_fallback``.
    """
    rows = read_predictions(predictions_path)
    if len(rows) != len(gold) or any(r["gold"] != label for r, (_, label) in zip(rows, gold, strict=False)):
        raise SystemExit(f"{predictions_path}: {len(rows)} predictions do not line up with {len(gold)} test examples")
    predictions = [(r["gold"], r["predicted"]) for r in rows]
    top1 = [(r["gold"], r["top"]) for r in rows if not (out_of_scope and r["gold"] == OUT_OF_SCOPE)]

    scope = [(g, p) for g, p in predictions if g != OUT_OF_SCOPE] if out_of_scope else predictions
    labels = sorted({g for g, _ in scope})
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in scope if g == label and p == label)
        fp = sum(1 for g, p in predictions if g != label and p == label)
        fn = sum(1 for g, p in scope if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    result: dict[str, Any] = {
        "examples": len(predictions),
        "accuracy": round(sum(1 for g, p in scope if g == p) / len(scope), 4),
        "top1_accuracy": round(sum(1 for g, p in top1 if g == p) / len(top1), 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4),
        "fallbacks": sum(1 for _, p in predictions if p == FALLBACK),
    }
    if out_of_scope:
        result.update(oos_scores(predictions))
    return result


def replay(predictions_path: Path, thresholds: list[float], ambiguity: float) -> list[dict[str, Any]]:
    """The FallbackClassifier's decision again at other thresholds, from saved predictions
    (``--keep`` keeps them): in-scope accuracy and out-of-scope recall/precision at each.
    Same rule as Rasa's: fall back when the top confidence is below the threshold or within
    ``ambiguity`` of the second."""
    rows = read_predictions(predictions_path)
    results = []
    for threshold in thresholds:
        decided = []
        for r in rows:
            second = r.get("second_confidence")
            low = r["confidence"] is None or r["confidence"] < threshold
            close = second is not None and r["confidence"] - second < ambiguity
            decided.append((r["gold"], FALLBACK if low or close else r["top"]))
        in_scope = [(g, p) for g, p in decided if g != OUT_OF_SCOPE]
        accuracy = round(sum(1 for g, p in in_scope if g == p) / len(in_scope), 4) if in_scope else None
        results.append({"threshold": threshold, "accuracy": accuracy, **oos_scores(decided)})
    return results
