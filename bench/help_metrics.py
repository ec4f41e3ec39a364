"""Ranking metrics and the held-out evaluation of the help centre's answers (pure functions)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


def started_meta(**extra: Any) -> dict[str, Any]:
    """When and where a benchmark run started (date, load average, machine), with its own settings."""
    return {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "load_start": round(os.getloadavg()[0], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        **extra,
    }


def rank_metrics(scores: NDArray[np.float64], gold: NDArray[np.int64]) -> dict[str, float]:
    """hits@1 and MRR for one relevant item per query (MAP equals MRR then). Ties count against us."""
    gold_scores = scores[np.arange(len(gold)), gold][:, None]
    ranks = (scores > gold_scores).sum(axis=1) + (scores == gold_scores).sum(axis=1) - 1
    return {"hits_at_1": float(np.mean(ranks == 0)), "mrr": float(np.mean(1.0 / (ranks + 1)))}


@dataclass(frozen=True)
class Judged:
    question: str
    expected: str
    """An article slug, or ``none``."""
    top: str
    answered: bool
    cosine: float
    lead: float = 0.0


def answer_metrics(judged: Sequence[Judged]) -> dict[str, Any]:
    """What a customer would see: right answers, wrong answers, and how good the "not sure"s were."""
    answerable = [j for j in judged if j.expected != "none"]
    unanswerable = [j for j in judged if j.expected == "none"]
    unsure = [j for j in judged if not j.answered]
    right_to_be_unsure = [j for j in unsure if j.expected == "none" or j.top != j.expected]
    answered = [j for j in judged if j.answered]
    return {
        "questions": len(judged),
        "answerable": len(answerable),
        "hits_at_1": _share([j.top == j.expected for j in answerable]),
        "answered_correctly": _share([j.answered and j.top == j.expected for j in answerable]),
        "answered_wrong": _share([j.top != j.expected for j in answered]),
        "not_sure_share": _share([not j.answered for j in judged]),
        "not_sure_right": _share(
            [True for _ in right_to_be_unsure] + [False] * (len(unsure) - len(right_to_be_unsure))
        ),
        "none_declined": _share([not j.answered for j in unanswerable]),
        "decision_accuracy": _share([_decision_right(j) for j in judged]),
    }


def _decision_right(j: Judged) -> bool:
    """Answering with the right article, or declining when there is no right one at the top."""
    return (j.answered and j.top == j.expected) or (not j.answered and (j.expected == "none" or j.top != j.expected))


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if flags else 0.0
