"""Redaction and themes with the REAL spaCy and sentence-transformers models (offline packages).

The models load once for this module (module-scoped fixtures); on the shared two-core
machine the whole module takes well under a minute.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, even by accident

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.theme_groups import BILLING, LOGIN, LOGOUT, SYNC
from supportbot.feedback import store
from supportbot.feedback.cli import theme_embedder, theme_params
from supportbot.feedback.embedding import SentenceTransformerEmbedder, SpacyPhraser
from supportbot.feedback.redaction import SpacyRedactor
from supportbot.feedback.themes import assign_new, list_themes, rebuild_themes
from supportbot.settings import Settings
from supportbot.store.feedback_models import Feedback

pytestmark = pytest.mark.filterwarnings(
    # torch / transformers emit deprecation noise on import; not our code.
    "ignore::DeprecationWarning",
    "ignore::FutureWarning",
    "ignore::UserWarning",
)

SETTINGS = Settings()


@pytest.fixture(scope="module")
def redactor() -> SpacyRedactor:
    return SpacyRedactor(model=SETTINGS.feedback_spacy_model)


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    """What rebuilds use: bfloat16 where the CPU has it, two model copies on two threads."""
    return theme_embedder(SETTINGS)


@pytest.fixture(scope="module")
def phraser() -> SpacyPhraser:
    return SpacyPhraser(model=SETTINGS.feedback_spacy_model)


@pytest.mark.parametrize(
    ("text", "removed", "placeholder"),
    [
        ("Sarah Johnson from your team was so helpful", ["Sarah", "Johnson"], "[NAME]"),
        ("I spoke to Michael yesterday and he fixed it", ["Michael"], "[NAME]"),
        ("Please email me at jane.doe+billing@example.co.uk", ["jane.doe", "example.co.uk"], "[EMAIL]"),
        ("Call me on +1 (415) 555-0132 after six", ["415", "555-0132"], "[PHONE]"),
        ("my number is 07700 900123", ["07700", "900123"], "[PHONE]"),
        ("UK landline 020 7946 0958", ["7946", "0958"], "[PHONE]"),
        ("My card 4111 1111 1111 1111 was charged twice", ["4111"], "[CARD]"),
        ("card 5500-0000-0000-0004 declined", ["5500", "0004"], "[CARD]"),
        ("card number 4111111111111111", ["4111111111111111"], "[CARD]"),
        # fails Luhn (last digit changed): still removed, labelled [NUMBER] (see redaction docstring)
        ("My card 4111 1111 1111 1112 was charged twice", ["4111", "1112"], "[NUMBER]"),
        ("Refund to IBAN DE89 3704 0044 0532 0130 00 please", ["DE89", "3704"], "[IBAN]"),
    ],
)
def test_redaction_removes_pii(redactor: SpacyRedactor, text: str, removed: list[str], placeholder: str) -> None:
    redacted = redactor.redact(text)
    assert placeholder in redacted
    for piece in removed:
        assert piece not in redacted, redacted


@pytest.mark.parametrize(
    "text",
    [
        "order 12345 arrived on 2026-11-20 after 3 days and cost $25.99",
        "The app keeps logging me out on my iPhone",
        "I love the sync feature",
    ],
)
def test_redaction_keeps_ordinary_text(redactor: SpacyRedactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_themes_group_clearly_related_texts(
    sessions: sessionmaker[Session],
    redactor: SpacyRedactor,
    embedder: SentenceTransformerEmbedder,
    phraser: SpacyPhraser,
) -> None:
    start = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
    groups = {"login": LOGIN, "logout": LOGOUT, "billing": BILLING, "sync": SYNC}
    truth: dict[int, str] = {}
    with sessions.begin() as session:
        for name, texts in groups.items():
            for index, text in enumerate(texts):
                conversation = f"{name}-{index}"
                at = start + dt.timedelta(days=3 * index)
                truth[
                    store.record_text(
                        session=session,
                        conversation_id=conversation,
                        channel="web",
                        text=text,
                        prompted_by="volunteered",
                        redactor=redactor,
                        now=at,
                    )
                ] = name
                rating = {"login": 2, "logout": 2, "billing": 1, "sync": 5}[name]
                store.record_rating(
                    session=session,
                    conversation_id=conversation,
                    channel="web",
                    kind="csat",
                    rating=rating,
                    prompted_by="conversation_end",
                    now=at,
                )
        report = rebuild_themes(
            session=session,
            embedder=embedder,
            phraser=phraser,
            params=theme_params(SETTINGS),
        )
    assert report.themes == 4
    assert report.assigned == 22
    with sessions() as session:
        members: dict[int, Counter[str]] = {}
        for feedback in session.scalars(select(Feedback).where(Feedback.kind == "text")):
            assert feedback.theme_id is not None
            members.setdefault(feedback.theme_id, Counter())[truth[feedback.id]] += 1
        assert sorted(sorted(c.items()) for c in members.values()) == [
            [("billing", 6)],
            [("login", 6)],
            [("logout", 4)],
            [("sync", 6)],
        ]
        themes = {members[t.id].most_common(1)[0][0]: t for t in list_themes(session=session)}
    assert any(word in themes["login"].label for word in ("log", "sign", "password")), themes["login"].label
    assert any(word in themes["logout"].label for word in ("log", "session", "out")), themes["logout"].label
    assert any(word in themes["billing"].label for word in ("charge", "twice", "bill", "payment")), themes[
        "billing"
    ].label
    assert "sync" in themes["sync"].label, themes["sync"].label
    assert themes["sync"].polarity == "positive" and themes["sync"].avg_csat == 5.0
    assert themes["billing"].polarity == "negative" and themes["billing"].avg_csat == 1.0
    assert sum(themes["login"].trend.values()) == 6 and len(themes["login"].trend) >= 2
    assert len(themes["billing"].quotes) == 3 and all(q in BILLING for q in themes["billing"].quotes)

    with sessions.begin() as session:
        new = store.record_text(
            session=session,
            conversation_id="n1",
            channel="web",
            text="I keep getting logged out of the app",
            prompted_by="volunteered",
            redactor=redactor,
        )
        odd = store.record_text(
            session=session,
            conversation_id="n2",
            channel="web",
            text="What is the capital of Australia?",
            prompted_by="volunteered",
            redactor=redactor,
        )
        assigned = assign_new(
            session=session, embedder=embedder, min_similarity=SETTINGS.feedback_theme_assign_similarity
        )
    assert (assigned.considered, assigned.assigned) == (2, 1)
    with sessions() as session:
        joined = session.get(Feedback, new)
        assert joined is not None and joined.theme_id == themes["logout"].id
        assert session.get(Feedback, odd).theme_id is None  # type: ignore[union-attr]
        sizes = {t.id: t.size for t in list_themes(session=session)}
        assert (sizes[themes["logout"].id], sizes[themes["login"].id]) == (5, 6)


def test_rebuild_vectors_match_the_plain_float32_model(embedder: SentenceTransformerEmbedder) -> None:
    """The rebuild's faster embedding (bfloat16, threads, length-sorted chunks) keeps each
    text's own vector: same order, unit length, near the library's float32 vector, and far
    from the other texts'."""
    texts = [*LOGIN, *LOGOUT, *BILLING, *SYNC, "ok", "a much longer remark about the weather " * 8]
    small = SentenceTransformerEmbedder(model=SETTINGS.feedback_embedding_model, workers=2, chunk=4, bfloat16=True)
    plain = SentenceTransformerEmbedder(model=SETTINGS.feedback_embedding_model).encode(texts)
    for fast in (embedder.encode(texts), small.encode(texts)):
        assert fast.shape == plain.shape and fast.dtype == np.float32
        assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
        similarity = fast @ plain.T
        assert similarity.diagonal().min() > 0.99
        assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
