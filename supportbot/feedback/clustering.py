"""Grouping embedded feedback into themes and describing each theme. Pure: numpy and scikit-learn.

Why agglomerative clustering with a cosine distance threshold (average linkage)
- The number of themes is not known and should grow with the variety of what customers
  write, not be fixed in advance: a threshold says "how different may two texts in one
  theme be", which a support lead can reason about; ``k`` says nothing of the sort.
- k chosen by silhouette needs a full clustering and an O(n²) score per candidate ``k``;
  on two shared cores that is minutes for a few thousand texts, for a choice that tends
  to favour few, coarse clusters.
- Average linkage does not chain unrelated texts through one bridge (single linkage) and,
  unlike Ward, works on cosine distance, which is what sentence embeddings are trained for.
- Clusters smaller than ``min_size`` are left unassigned (like HDBSCAN's noise): a theme is
  something *recurring*; one-off remarks wait for the next rebuild.

Scale: exact agglomerative clustering needs an n×n distance matrix. Identical texts are
clustered once (``unique_rows``, the caller deduplicates); above ``max_exact`` distinct texts
MiniBatchKMeans first condenses them into ``max_exact`` micro-clusters whose centroids are
then clustered the same way, so memory stays bounded (about 4 000² floats) and the result
is the same kind of partition.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer

if TYPE_CHECKING:
    from numpy.typing import NDArray

NOISE = -1


def _agglomerate(vectors: NDArray[np.float32], *, distance_threshold: float) -> NDArray[np.int64]:
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance_threshold, metric="cosine", linkage="average"
    )
    return np.asarray(model.fit_predict(vectors), dtype=np.int64)


def cluster(
    vectors: NDArray[np.float32],
    *,
    weights: Sequence[int] | None = None,
    distance_threshold: float,
    min_size: int,
    max_exact: int = 4000,
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
    if n <= max_exact:
        raw = _agglomerate(vectors, distance_threshold=distance_threshold)
    else:
        micro = MiniBatchKMeans(n_clusters=max_exact, random_state=seed, batch_size=4096, n_init=1)
        micro_labels = micro.fit_predict(vectors, sample_weight=counts)
        centres = micro.cluster_centers_.astype(np.float32)
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        raw = _agglomerate(centres, distance_threshold=distance_threshold)[micro_labels]
    sizes = Counter[int]()
    for label, count in zip(raw.tolist(), counts.tolist(), strict=True):
        sizes[label] += count
    kept = [label for label, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])) if size >= min_size]
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


def key_phrases(phrases_per_theme: Sequence[Sequence[str]], *, top: int = 5) -> list[list[str]]:
    """Top phrases per theme by TF-IDF, where each theme's candidate phrases form one document.

    IDF across themes pushes down what every theme says ("app", "customer service") and keeps
    what sets a theme apart. A phrase contained in a better one already chosen is skipped, so
    labels read "double charge, refund" rather than "charge, double charge, double".
    """
    if not phrases_per_theme:
        return []
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True, norm=None)
    try:
        matrix = vectorizer.fit_transform([list(p) for p in phrases_per_theme])
    except ValueError:  # no phrase anywhere
        return [[] for _ in phrases_per_theme]
    vocabulary: list[str] = [str(v) for v in vectorizer.get_feature_names_out()]
    result: list[list[str]] = []
    for row in range(matrix.shape[0]):
        scores = matrix.getrow(row).toarray().ravel()
        # A multi-word phrase is more readable than one of its words at the same score.
        order = sorted(np.flatnonzero(scores), key=lambda i: (-scores[i] * (1 + 0.15 * vocabulary[i].count(" ")), i))
        chosen: list[str] = []
        for i in order:
            phrase = str(vocabulary[i])
            if any(re.search(rf"\b{re.escape(phrase)}\b", better) for better in chosen):
                continue
            chosen.append(phrase)
            if len(chosen) == top:
                break
        result.append(chosen)
    return result


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
