"""Grouping embedded feedback into themes and describing each theme. numpy, scipy, scikit-learn.

How texts become themes (``cluster``), chosen on BANKING77's *train* split only
(``bench/theme_threshold.py``; figures in docs/BENCHMARKS.md):

1. **Nearest-neighbour graph** (``neighbours`` per text, cosine weights) and **Louvain
   modularity communities** at a high ``resolution`` (``louvain``): fine-grained groups that
   adapt to local density, so a tight cluster of paraphrases and a loose one of related
   complaints are both found with one setting.
2. **Merge** those groups by average linkage (the mean cosine distance between their
   members, exact from summed vectors) while it is below ``merge_distance``. Modularity alone
   splits any theme holding more than about 1/``resolution`` of all texts, a poor fit for real
   feedback where one theme ("great app") can be a third of everything; the merge step is
   size-agnostic and puts such themes back together. On train samples with skewed theme
   sizes (one intent 25 times the size of another, or ten intents only) this beat modularity
   alone by 0.1-0.3 ARI, at a small cost on balanced samples.
3. Groups whose members (duplicates counted) number fewer than ``min_size`` are left
   unassigned: a theme is something *recurring*; one-off remarks wait for the next rebuild.

Vectors are not centred (mean direction removed) first, although that raised NMI by about
0.01 on the large train samples: with few texts the mean is mostly the texts themselves, and
on 18 texts in three clear groups it pushed the mean distance within a group from 0.43 to
0.61, enough to split them. Themes must work on a small shop's first week of feedback too.

Why not the earlier agglomerative clustering with one cosine-distance threshold: on the same
train samples it trailed this method by 0.03-0.08 ARI (it fragments themes into many small
clusters), and it needs an n×n distance matrix (4.5 GB for 23,700 texts). The kNN graph needs
n × ``neighbours`` edges; the neighbour search is O(n²) time in blocks (about 5 s of CPU for
23,700 texts with bfloat16 candidates, ``louvain.knn_graph``), so rebuilds stay practical to
about 100,000 distinct texts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from supportbot.feedback import louvain

if TYPE_CHECKING:
    from numpy.typing import NDArray

NOISE = -1


@dataclass(frozen=True)
class ThemeParams:
    """The clustering settings (``SUPPORTBOT_FEEDBACK_THEME_*``); defaults as chosen on the train split."""

    neighbours: int = 15
    resolution: float = 8.0
    merge_distance: float = 0.5
    min_size: int = 3
    workers: int = 1
    """Threads for the neighbour search; the themes do not depend on it."""


def merge_groups(
    vectors: NDArray[np.float32], groups: NDArray[np.int64], *, merge_distance: float
) -> NDArray[np.int64]:
    """Average-linkage merging of groups while the closest pair is nearer than ``merge_distance``.

    For unit vectors the mean cosine similarity between the members of A and B is
    sum(A)·sum(B) / (|A|·|B|), so each merge updates one row of a groups × groups matrix
    instead of revisiting texts.
    """
    uniques, index = np.unique(groups, return_inverse=True)
    count = len(uniques)
    if count < 2:
        return np.zeros(len(groups), dtype=np.int64)
    sums = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, index, vectors.astype(np.float64))
    sizes = np.bincount(index).astype(np.float64)
    distance = 1.0 - (sums @ sums.T) / np.outer(sizes, sizes)
    np.fill_diagonal(distance, np.inf)
    owner = np.arange(count)
    alive = np.ones(count, dtype=bool)
    while True:
        a, b = np.unravel_index(int(np.argmin(distance)), distance.shape)
        if not distance[a, b] < merge_distance:
            break
        sums[a] += sums[b]
        sizes[a] += sizes[b]
        owner[owner == b] = a
        alive[b] = False
        row = 1.0 - (sums @ sums[a]) / (sizes * sizes[a])
        row[~alive] = np.inf
        row[a] = np.inf
        distance[a, :] = row
        distance[:, a] = row
        distance[b, :] = np.inf
        distance[:, b] = np.inf
    return np.asarray(owner[index], dtype=np.int64)


def cluster(
    vectors: NDArray[np.float32],
    *,
    weights: Sequence[int] | None = None,
    params: ThemeParams,
    seed: int = 0,
) -> NDArray[np.int64]:
    """A theme number per row (0..k-1, largest theme first) or ``NOISE``.

    ``weights`` counts how many feedback rows each (deduplicated) vector stands for, so
    "great app" said forty times is one vector but a theme of forty.
    """
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    if n == 1:
        raw = np.zeros(1, dtype=np.int64)
    else:
        graph = louvain.knn_graph(vectors, neighbours=params.neighbours, workers=params.workers)
        groups = louvain.communities(graph, resolution=params.resolution, seed=seed)
        raw = merge_groups(vectors, groups, merge_distance=params.merge_distance)
    sizes = Counter[int]()
    for label, count in zip(raw.tolist(), counts.tolist(), strict=True):
        sizes[label] += count
    kept = [label for label, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])) if size >= params.min_size]
    renumber = {label: index for index, label in enumerate(kept)}
    return np.array([renumber.get(label, NOISE) for label in raw.tolist()], dtype=np.int64)


def centroid(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """The unit-length mean direction of a theme's members."""
    mean = vectors.mean(axis=0)
    unit: NDArray[np.float32] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return unit


def nearest(vectors: NDArray[np.float32], centre: NDArray[np.float32], *, count: int) -> list[tuple[int, float]]:
    """Row indexes of the ``count`` members nearest the centre, with their cosine similarity."""
    sims = vectors @ centre
    order = np.argsort(-sims, kind="stable")[:count]
    return [(int(i), float(sims[i])) for i in order]


def key_phrases(phrases_per_theme: Sequence[Sequence[str]], *, top: int = 5, min_count: int = 2) -> list[list[str]]:
    """Top phrases per theme: how many of the theme's texts use a phrase × how rare it is across themes.

    Each theme's candidate phrases (one entry per text that uses it) form one document; IDF
    across themes pushes down what every theme says ("app", "customer service"). Phrases used
    by fewer than ``min_count`` texts come last, so one customer's odd word ("jacket") does not
    label a theme of fifty. A phrase that overlaps one already chosen (contained in it, containing
    it, or sharing two words) is skipped, so labels read "exchange rate, currency" rather than
    "exchange rate, official exchange rate, incorrect exchange rate".
    """
    if not phrases_per_theme:
        return []
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, norm=None)
    try:
        matrix = vectorizer.fit_transform([list(p) for p in phrases_per_theme])
    except ValueError:  # no phrase anywhere
        return [[] for _ in phrases_per_theme]
    vocabulary: list[str] = [str(v) for v in vectorizer.get_feature_names_out()]
    result: list[list[str]] = []
    for row in range(matrix.shape[0]):
        counts = Counter(phrases_per_theme[row])
        scores = matrix.getrow(row).toarray().ravel()
        # A multi-word phrase reads better than its words ("direct debit", not "debit, direct") and
        # is used by fewer texts than each word; the bonus lets it win when it covers most of them.
        order = sorted(
            np.flatnonzero(scores),
            key=lambda i: (
                counts[vocabulary[i]] < min_count,
                -scores[i] * (1 + 0.75 * min(vocabulary[i].count(" "), 2)),
                i,
            ),
        )
        chosen: list[str] = []
        for i in order:
            phrase = str(vocabulary[i])
            if any(_overlaps(phrase, better) for better in chosen):
                continue
            chosen.append(phrase)
            if len(chosen) == top:
                break
        result.append(chosen)
    return result


def _overlaps(phrase: str, other: str) -> bool:
    """Contained one in the other, two words shared, or two forms of one word ("charge", "charged")."""
    inside = re.search(rf"\b{re.escape(phrase)}\b", other) or re.search(rf"\b{re.escape(other)}\b", phrase)
    if inside or len(set(phrase.split()) & set(other.split())) >= 2:
        return True
    if " " in phrase or " " in other:
        return False
    shorter, longer = sorted((phrase, other), key=len)
    shared = next((i for i, (a, b) in enumerate(zip(phrase, other, strict=False)) if a != b), len(shorter))
    return longer.startswith(shorter) or shared >= 6


def label_from(phrases: Sequence[str], *, fallback: str) -> str:
    return ", ".join(phrases[:3])[:200] if phrases else fallback


_POSITIVE = frozenset(
    {
        "love",
        "loved",
        "like",
        "great",
        "good",
        "excellent",
        "amazing",
        "awesome",
        "helpful",
        "easy",
        "fast",
        "quick",
        "smooth",
        "perfect",
        "thanks",
        "thank",
        "fantastic",
        "brilliant",
        "nice",
        "happy",
        "pleased",
        "intuitive",
        "reliable",
        "useful",
        "best",
        "wonderful",
    }
)
_NEGATIVE = frozenset(
    {
        "hate",
        "bad",
        "terrible",
        "awful",
        "slow",
        "broken",
        "bug",
        "bugs",
        "crash",
        "crashes",
        "crashing",
        "error",
        "fail",
        "fails",
        "failed",
        "failing",
        "problem",
        "problems",
        "issue",
        "issues",
        "annoying",
        "frustrating",
        "confusing",
        "difficult",
        "hard",
        "wrong",
        "twice",
        "charged",
        "overcharged",
        "refund",
        "never",
        "can't",
        "cannot",
        "won't",
        "doesn't",
        "didn't",
        "not",
        "unable",
        "stuck",
        "lost",
        "missing",
        "worst",
        "disappointed",
        "useless",
        "expensive",
        "poor",
    }
)


def lexicon_score(text: str) -> float:
    """-1..1 from a small word list: a fallback for themes nobody rated, not a sentiment model."""
    words = re.findall(r"[a-z']+", text.lower())
    pos = sum(w in _POSITIVE for w in words)
    neg = sum(w in _NEGATIVE for w in words)
    return 0.0 if pos + neg == 0 else (pos - neg) / (pos + neg)


def rating_score(*, kind: str, rating: int) -> float:
    """A rating on a -1..1 scale: CSAT 1→-1, 3→0, 5→+1; NPS 0→-1, 5→0, 10→+1."""
    return (rating - 3) / 2 if kind == "csat" else (rating - 5) / 5


def polarity(scores: Sequence[float]) -> tuple[str, float]:
    """Label and mean score; ``mixed`` when strong opinions on both sides each make a quarter."""
    if not scores:
        return "neutral", 0.0
    mean = float(np.mean(scores))
    positive = sum(s > 0.25 for s in scores) / len(scores)
    negative = sum(s < -0.25 for s in scores) / len(scores)
    if positive >= 0.25 and negative >= 0.25 and abs(mean) < 0.4:
        return "mixed", mean
    if mean > 0.2:
        return "positive", mean
    if mean < -0.2:
        return "negative", mean
    return "neutral", mean


def iso_week(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_trend(moments: Sequence[dt.datetime]) -> dict[str, int]:
    """Members per ISO week, in week order: enough for a sparkline and "growing or not"."""
    return dict(sorted(Counter(iso_week(m) for m in moments).items()))


def safe_mean(values: Sequence[float]) -> float | None:
    return None if not values else round(math.fsum(values) / len(values), 3)
