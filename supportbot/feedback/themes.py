"""Recurring themes in open-ended feedback, stored for the console (app environment).

Two operations, because they have different costs and different guarantees:

- ``rebuild_themes``: embeds every redacted text, clusters them (see ``clustering`` for
  the method and why), labels each theme with key phrases, and replaces all themes in one
  transaction. The scheduler runs it (``scheduler/themes_job.py``, through
  ``rebuild_if_stale``) when feedback arrived since the last rebuild; by hand:
  ``python -m supportbot.feedback rebuild-themes``. A failed run leaves the old themes.
- ``assign_new``: embeds only unassigned texts and attaches each to the nearest existing
  theme when cosine similarity reaches ``min_similarity``; the rest wait for the next
  rebuild (they may form a new theme that does not exist yet). Centroids and labels do not
  move between rebuilds, so a theme's meaning is stable while the console shows it; size,
  trend, ratings and polarity are refreshed.

Only ``text_redacted`` is ever read here, so PII never reaches vectors, labels or quotes.
Theme ratings come from CSAT/NPS answers in the same conversation as a member text;
themes without any fall back to a small lexicon for polarity.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased
from tqdm import tqdm

from supportbot.feedback import clustering
from supportbot.feedback.embedding import Embedder, Phraser
from supportbot.store.feedback_models import Feedback, FeedbackTheme, ThemeQuote
from supportbot.store.models import utcnow

PHRASE_SAMPLE = 60
"""Texts per theme (nearest the centroid) read by spaCy for key phrases: bounds the cost on big themes."""


@dataclass(frozen=True)
class RebuildReport:
    texts: int
    distinct_texts: int
    themes: int
    assigned: int
    unassigned: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    """Wall seconds per step (read, embed, cluster, label, store): where a slow rebuild spends its time."""
    cpu_steps: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the process per step: on a shared, loaded machine the truer measure of cost."""


@dataclass(frozen=True)
class AssignReport:
    considered: int
    assigned: int
    unassigned: int


@dataclass(frozen=True)
class ThemeView:
    id: int
    label: str
    key_phrases: list[str]
    size: int
    polarity: str
    polarity_score: float
    avg_csat: float | None
    avg_nps: float | None
    rated_count: int
    trend: dict[str, int]
    quotes: list[str]
    updated_at: dt.datetime


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _encode(embedder: Embedder, texts: Sequence[str], *, progress: bool, batch: int = 2048) -> np.ndarray:
    """All texts' vectors, in pieces only so that the progress bar moves.

    Texts go in sorted by length, so each piece (and each of the embedder's batches) pads
    to about its own length; rows come back in the callers' order.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = []
    with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
        for start in range(0, len(order), batch):
            parts.append(embedder.encode([texts[i] for i in order[start : start + batch]]))
            bar.update(min(batch, len(texts) - start))
    vectors = np.vstack(parts)
    out = np.empty_like(vectors)
    out[np.asarray(order)] = vectors
    return out


def refresh_theme_stats(*, session: Session, theme: FeedbackTheme) -> None:
    """Size, trend, average ratings and polarity of a theme, from its current members."""
    members = session.execute(
        select(Feedback.created_at, Feedback.text_redacted).where(Feedback.theme_id == theme.id)
    ).all()
    rating = aliased(Feedback)
    ratings = session.execute(
        select(rating.kind, rating.rating).where(
            rating.kind.in_(("csat", "nps")),
            rating.rating.is_not(None),
            rating.conversation_id.in_(select(Feedback.conversation_id).where(Feedback.theme_id == theme.id)),
        )
    ).all()
    rated = [(k, r) for k, r in ratings if r is not None]  # the query excludes NULL; this tells mypy
    csat = [float(r) for k, r in rated if k == "csat"]
    nps = [float(r) for k, r in rated if k == "nps"]
    if rated:
        scores = [clustering.rating_score(kind=k, rating=r) for k, r in rated]
    else:
        scores = [clustering.lexicon_score(text or "") for _, text in members]
    theme.size = len(members)
    theme.trend = json.dumps(clustering.weekly_trend([m for m, _ in members]))
    theme.avg_csat = clustering.safe_mean(csat)
    theme.avg_nps = clustering.safe_mean(nps)
    theme.rated_count = len(ratings)
    theme.polarity, score = clustering.polarity(scores)
    theme.polarity_score = round(score, 3)


def rebuild_themes(
    *,
    session: Session,
    embedder: Embedder,
    phraser: Phraser,
    params: clustering.ThemeParams,
    quotes: int = 3,
    progress: bool = False,
    now: dt.datetime | None = None,
) -> RebuildReport:
    """Replace every theme with a fresh clustering of all redacted feedback texts."""
    started = time.perf_counter()
    steps: dict[str, float] = {}
    cpu_steps: dict[str, float] = {}
    mark, cpu_mark = started, time.process_time()

    def step(name: str) -> None:
        nonlocal mark, cpu_mark
        steps[name] = round(time.perf_counter() - mark, 2)
        cpu_steps[name] = round(time.process_time() - cpu_mark, 2)
        mark, cpu_mark = time.perf_counter(), time.process_time()

    now = now or utcnow()
    rows = session.execute(
        select(Feedback.id, Feedback.text_redacted)
        .where(Feedback.kind == "text", Feedback.text_redacted.is_not(None))
        .order_by(Feedback.id)
    ).all()
    # Identical texts are embedded and clustered once but weigh as many times as they were said.
    distinct: dict[str, int] = {}
    first_text: list[str] = []
    owners: list[list[int]] = []
    for feedback_id, text in rows:
        if text is None:  # excluded by the query; this tells mypy
            continue
        key = _normal(text)
        if key not in distinct:
            distinct[key] = len(first_text)
            first_text.append(text)
            owners.append([])
        owners[distinct[key]].append(feedback_id)
    step("read")
    vectors = _encode(embedder, first_text, progress=progress)
    step("embed")
    labels = clustering.cluster(vectors, weights=[len(o) for o in owners], params=params)
    step("cluster")
    themes_found = int(labels.max()) + 1 if len(labels) else 0

    session.execute(update(Feedback).values(theme_id=None, theme_similarity=None))
    session.execute(delete(ThemeQuote))
    session.execute(delete(FeedbackTheme))

    members = [np.flatnonzero(labels == k) for k in range(themes_found)]
    centres = [clustering.centroid(vectors[m]) for m in members]
    samples = [
        [int(m[i]) for i, _ in clustering.nearest(vectors[m], c, count=PHRASE_SAMPLE)]
        for m, c in zip(members, centres, strict=True)
    ]
    flat = [first_text[i] for sample in samples for i in sample]
    phrase_lists = phraser.phrases(flat) if flat else []
    per_theme: list[list[str]] = []
    offset = 0
    for sample in samples:
        # Once per text: a phrase's weight is how many texts use it, not how often one repeats it.
        per_theme.append([p for lst in phrase_lists[offset : offset + len(sample)] for p in dict.fromkeys(lst)])
        offset += len(sample)
    phrases = clustering.key_phrases(per_theme)
    step("label")

    assigned = 0
    for k in tqdm(range(themes_found), desc="storing themes", unit="theme", disable=not progress):
        theme = FeedbackTheme(
            label=clustering.label_from(phrases[k], fallback=first_text[samples[k][0]][:80]),
            key_phrases=json.dumps(phrases[k]),
            centroid=centres[k].tobytes(),
            embedding_model=embedder.name,
            created_at=now,
            updated_at=now,
        )
        session.add(theme)
        session.flush()
        sims = vectors[members[k]] @ centres[k]
        updates = [
            {"id": fid, "theme_id": theme.id, "theme_similarity": float(sim)}
            for index, sim in zip(members[k].tolist(), sims.tolist(), strict=True)
            for fid in owners[index]
        ]
        session.execute(update(Feedback), updates)
        assigned += len(updates)
        for rank, (local, sim) in enumerate(clustering.nearest(vectors[members[k]], centres[k], count=quotes)):
            session.add(
                ThemeQuote(theme_id=theme.id, feedback_id=owners[int(members[k][local])][0], rank=rank, similarity=sim)
            )
        refresh_theme_stats(session=session, theme=theme)
    session.flush()
    step("store")
    return RebuildReport(
        texts=len(rows),
        distinct_texts=len(first_text),
        themes=themes_found,
        assigned=assigned,
        unassigned=len(rows) - assigned,
        seconds=round(time.perf_counter() - started, 2),
        steps=steps,
        cpu_steps=cpu_steps,
    )


def rebuild_is_due(*, session: Session) -> bool:
    """True when some redacted text is newer than the newest theme (or texts exist and no theme does).

    So a scheduled rebuild on a quiet day costs one query, not an embedding of everything.
    """
    newest_theme = session.scalar(select(func.max(FeedbackTheme.created_at)))
    texts = select(func.count()).where(Feedback.kind == "text", Feedback.text_redacted.is_not(None))
    if newest_theme is not None:
        texts = texts.where(Feedback.created_at > newest_theme)
    return bool(session.scalar(texts))


def rebuild_if_due(
    *, session: Session, embedder: Embedder, phraser: Phraser, params: clustering.ThemeParams
) -> RebuildReport | None:
    """``rebuild_themes`` when ``rebuild_is_due``, else None: what the scheduler's job runs."""
    if not rebuild_is_due(session=session):
        return None
    return rebuild_themes(session=session, embedder=embedder, phraser=phraser, params=params)


def assign_new(*, session: Session, embedder: Embedder, min_similarity: float) -> AssignReport:
    """Attach unassigned texts to the nearest theme built with the same embedding model."""
    themes = list(session.scalars(select(FeedbackTheme).where(FeedbackTheme.embedding_model == embedder.name)))
    pending = session.execute(
        select(Feedback.id, Feedback.text_redacted).where(
            Feedback.kind == "text", Feedback.text_redacted.is_not(None), Feedback.theme_id.is_(None)
        )
    ).all()
    if not themes or not pending:
        return AssignReport(considered=len(pending), assigned=0, unassigned=len(pending))
    centres = np.vstack([np.frombuffer(t.centroid, dtype=np.float32) for t in themes])
    vectors = embedder.encode([text or "" for _, text in pending])  # the query excludes NULL
    sims = vectors @ centres.T
    best = sims.argmax(axis=1)
    touched: set[int] = set()
    updates = []
    for row, (feedback_id, _) in enumerate(pending):
        similarity = float(sims[row, best[row]])
        if similarity >= min_similarity:
            theme = themes[int(best[row])]
            updates.append({"id": feedback_id, "theme_id": theme.id, "theme_similarity": similarity})
            touched.add(int(best[row]))
    if updates:
        session.execute(update(Feedback), updates)
    for index in touched:
        refresh_theme_stats(session=session, theme=themes[index])
        themes[index].updated_at = utcnow()
    session.flush()
    return AssignReport(considered=len(pending), assigned=len(updates), unassigned=len(pending) - len(updates))


def list_themes(*, session: Session, limit: int = 50) -> list[ThemeView]:
    """Themes, largest first, with their quotes: what the console and ``show-themes`` display."""
    themes = session.scalars(select(FeedbackTheme).order_by(FeedbackTheme.size.desc(), FeedbackTheme.id).limit(limit))
    return [
        ThemeView(
            id=t.id,
            label=t.label,
            key_phrases=list(json.loads(t.key_phrases)),
            size=t.size,
            polarity=t.polarity,
            polarity_score=t.polarity_score,
            avg_csat=t.avg_csat,
            avg_nps=t.avg_nps,
            rated_count=t.rated_count,
            trend=dict(json.loads(t.trend)),
            quotes=[q.feedback.text_redacted or "" for q in t.quotes],
            updated_at=t.updated_at,
        )
        for t in themes
    ]
