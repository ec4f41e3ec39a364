"""Content gaps: questions the help centre could not answer, recorded, redacted and grouped.

A recorded answer (``HelpAnswer``) is a gap when

- the assistant said it was not sure, or
- it answered, and within ``gap_followup_minutes`` the same conversation asked for a
  person (a ``handoff`` in ``support_interactions``) or gave a CSAT rating of 1 or 2.

Gaps are grouped by their questions' embeddings (average-linkage agglomerative
clustering on cosine distance, SciPy's), so "can I pay in bitcoin" and "do you take
crypto" count as one missing article. Only redacted text is ever stored or shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.helpcentre.answers import HelpReply
from supportbot.helpcentre.models import HelpAnswer
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import SupportInteraction

if TYPE_CHECKING:
    from numpy.typing import NDArray

LOW_CSAT = 2


def record_answer(
    *,
    session: Session,
    conversation_id: str,
    customer_id: str | None,
    channel: str,
    question_redacted: str,
    reply: HelpReply,
    embedding: NDArray[np.float32] | None,
    embedding_model: str,
) -> HelpAnswer:
    """Store one handled question; the caller redacts it, and the embedding is of the redacted text."""
    row = HelpAnswer(
        conversation_id=conversation_id,
        customer_id=customer_id,
        channel=channel[:32],
        question_redacted=question_redacted[:2000],
        outcome="answered" if reply.kind == "answer" else "not_sure",
        article_slug=reply.article_slug,
        offered=",".join(reply.offered),
        cosine=float(reply.cosine),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes(),
        embedding_model=embedding_model if embedding is not None else "",
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Gap:
    answer: HelpAnswer
    reason: str
    """``not sure``, ``handoff after answer`` or ``low rating after answer``."""


def find_gaps(*, session: Session, since: dt.datetime, followup_minutes: int = 60) -> list[Gap]:
    """Every gap recorded since ``since``, newest first.

    Follow-ups are matched in Python rather than with date arithmetic in SQL, which
    SQLite and PostgreSQL spell differently; the candidate rows are one period's answers.
    """
    window = dt.timedelta(minutes=followup_minutes)
    answers = list(
        session.scalars(select(HelpAnswer).where(HelpAnswer.created_at >= since).order_by(HelpAnswer.created_at.desc()))
    )
    answered = {a.conversation_id for a in answers if a.outcome == "answered"}
    handoffs: dict[str, list[dt.datetime]] = {}
    low_ratings: dict[str, list[dt.datetime]] = {}
    if answered:
        for conversation, at in session.execute(
            select(SupportInteraction.conversation_id, SupportInteraction.created_at).where(
                SupportInteraction.kind == "handoff", SupportInteraction.conversation_id.in_(answered)
            )
        ):
            handoffs.setdefault(str(conversation), []).append(at)
        for conversation, at in session.execute(
            select(Feedback.conversation_id, Feedback.created_at).where(
                Feedback.kind == "csat", Feedback.rating <= LOW_CSAT, Feedback.conversation_id.in_(answered)
            )
        ):
            low_ratings.setdefault(str(conversation), []).append(at)

    def followed(times: dict[str, list[dt.datetime]], answer: HelpAnswer) -> bool:
        return any(answer.created_at <= t <= answer.created_at + window for t in times.get(answer.conversation_id, []))

    gaps: list[Gap] = []
    for answer in answers:
        if answer.outcome == "not_sure":
            gaps.append(Gap(answer, "not sure"))
        elif followed(handoffs, answer):
            gaps.append(Gap(answer, "handoff after answer"))
        elif followed(low_ratings, answer):
            gaps.append(Gap(answer, "low rating after answer"))
    return gaps


@dataclass(frozen=True)
class GapGroup:
    label: str
    """The group's most typical question (closest to its centre)."""
    count: int
    examples: tuple[str, ...]
    reasons: dict[str, int]
    closest_article: str | None
    last_seen: dt.datetime


def group_gaps(gaps: Sequence[Gap], *, similarity: float = 0.6, examples: int = 3) -> list[GapGroup]:
    """Groups of similar questions, largest first. Rows without an embedding (or of another
    model than the majority) are grouped by identical text only."""
    if not gaps:
        return []
    models = [g.answer.embedding_model for g in gaps if g.answer.embedding]
    model = max(set(models), key=models.count) if models else ""
    with_vec = [g for g in gaps if g.answer.embedding and g.answer.embedding_model == model]
    labels: list[int] = []
    if len(with_vec) > 1:
        vectors = np.stack([np.frombuffer(g.answer.embedding or b"", dtype=np.float32) for g in with_vec])
        tree = linkage(vectors, method="average", metric="cosine")
        labels = [int(x) for x in fcluster(tree, t=1.0 - similarity, criterion="distance")]
    elif with_vec:
        labels = [1]
    clusters: dict[str, list[Gap]] = {}
    for gap, label in zip(with_vec, labels, strict=True):
        clusters.setdefault(f"v{label}", []).append(gap)
    for gap in gaps:
        if not (gap.answer.embedding and gap.answer.embedding_model == model):
            clusters.setdefault("t" + gap.answer.question_redacted.strip().lower(), []).append(gap)
    groups = [_summarise(members, examples) for members in clusters.values()]
    return sorted(groups, key=lambda g: (-g.count, -g.last_seen.timestamp()))


def _summarise(members: list[Gap], examples: int) -> GapGroup:
    texts = [m.answer.question_redacted for m in members]
    vectors = [np.frombuffer(m.answer.embedding, dtype=np.float32) for m in members if m.answer.embedding]
    if len(vectors) == len(members) and len(members) > 1:
        matrix = np.stack(vectors)
        centre = matrix.mean(axis=0)
        label = texts[int(np.argmax(matrix @ centre))]
    else:
        label = texts[0]
    reasons: dict[str, int] = {}
    for m in members:
        reasons[m.reason] = reasons.get(m.reason, 0) + 1
    slugs = [m.answer.article_slug for m in members if m.answer.article_slug]
    distinct = list(dict.fromkeys(t for t in texts if t != label))
    return GapGroup(
        label=label,
        count=len(members),
        examples=tuple(distinct[:examples]),
        reasons=reasons,
        closest_article=max(set(slugs), key=slugs.count) if slugs else None,
        last_seen=max(m.answer.created_at for m in members),
    )
