"""Themes without the real models: clustering rules, stats, rebuild and assignment with a tiny fake embedder.

The real models are exercised in ``test_real_models``; here the embedder maps known words
to fixed directions so each rule (min size, dedup weights, rebuild replaces, assignment
threshold, model mismatch) can fail for exactly one reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.feedback import clustering, store
from supportbot.feedback.cli import main as cli_main
from supportbot.feedback.themes import assign_new, list_themes, rebuild_themes
from supportbot.store.feedback_models import Feedback, FeedbackTheme
from tests.feedback.conftest import BracketRedactor

AXES = {"login": 0, "charge": 1, "sync": 2, "weather": 3}


class WordEmbedder:
    """Each text points along the axis of the first known word in it, plus a little noise."""

    def __init__(self, name: str = "fake-model") -> None:
        self.name = name
        self.calls = 0

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        rows = []
        for text in texts:
            vector = np.full(8, 0.01, dtype=np.float32)
            axis = next((a for word, a in AXES.items() if word in text.lower()), 7)
            vector[axis] = 1.0
            vector[4 + len(text) % 3] += 0.05
            rows.append(vector / np.linalg.norm(vector))
        return np.vstack(rows)


class SplitPhraser:
    def phrases(self, texts: Sequence[str]) -> list[list[str]]:
        return [[w.strip(".,!<>").lower() for w in t.split() if len(w) > 3] for t in texts]


def _text(session: Session, text: str, *, conversation: str, at: dt.datetime | None = None) -> int:
    return store.record_text(
        session=session, conversation_id=conversation, channel="web", text=text,
        prompted_by="volunteered", redactor=BracketRedactor(), now=at,
    )  # fmt: skip


def test_small_groups_are_noise_and_sizes_count_duplicates() -> None:
    vectors = np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert clustering.cluster(vectors, distance_threshold=0.3, min_size=2).tolist() == [0, 0, -1]
    # The lone text said five times is recurring: it becomes the largest theme (number 0).
    labels = clustering.cluster(vectors, weights=[1, 1, 5], distance_threshold=0.3, min_size=2)
    assert labels.tolist() == [1, 1, 0]


def test_large_inputs_take_the_micro_cluster_path() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(6, dtype=np.float32)
    vectors = np.vstack([c + rng.normal(0, 0.02, (50, 6)).astype(np.float32) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = clustering.cluster(vectors, distance_threshold=0.5, min_size=3, max_exact=40)
    assert len(set(labels.tolist())) == 6
    assert all(len(set(labels[i * 50 : (i + 1) * 50].tolist())) == 1 for i in range(6))


def test_key_phrases_prefer_what_sets_a_theme_apart() -> None:
    phrases = clustering.key_phrases(
        [["app", "double charge", "charge", "refund", "double charge"], ["app", "sync", "sync", "device"]]
    )
    assert phrases[0][0] == "double charge" and "charge" not in phrases[0]
    assert phrases[1][0] == "sync" and phrases[0][-1] == "app"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([1.0, 0.5], "positive"), ([-1.0, -0.5], "negative"), ([1.0, -1.0, 1.0, -1.0], "mixed"), ([0.0], "neutral")],
)
def test_polarity(scores: list[float], expected: str) -> None:
    assert clustering.polarity(scores)[0] == expected


def test_rebuild_then_assign(sessions: sessionmaker[Session]) -> None:
    embedder = WordEmbedder()
    monday = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    with sessions.begin() as session:
        for i in range(4):
            _text(session, f"login fails {i}", conversation=f"l{i}", at=monday + dt.timedelta(days=7 * i))
            _text(session, "charge twice on my card", conversation=f"c{i}", at=monday)
            store.record_rating(session=session, conversation_id=f"c{i}", channel="web", kind="csat", rating=1,
                                prompted_by="resolution")  # fmt: skip
        _text(session, "weather is nice", conversation="w", at=monday)
        report = rebuild_themes(
            session=session, embedder=embedder, phraser=SplitPhraser(), distance_threshold=0.3, min_size=3
        )
    assert (report.texts, report.distinct_texts, report.themes, report.assigned, report.unassigned) == (9, 6, 2, 8, 1)
    assert embedder.calls == 6  # the repeated text was embedded once
    with sessions() as session:
        themes = list_themes(session=session)
    assert [t.size for t in themes] == [4, 4]
    charge = next(t for t in themes if "charge" in t.key_phrases)
    assert (charge.avg_csat, charge.rated_count, charge.polarity) == (1.0, 4, "negative")
    assert charge.quotes == ["<charge twice on my card>"]  # duplicates quoted once
    login = next(t for t in themes if t is not charge)
    assert "login" in login.key_phrases and "charge" not in login.key_phrases
    assert login.trend == {"2026-W45": 1, "2026-W46": 1, "2026-W47": 1, "2026-W48": 1}
    assert login.avg_csat is None and login.polarity == "negative"  # lexicon: "fails"

    with sessions.begin() as session:
        joined = _text(session, "login again broken", conversation="n1")
        waits = _text(session, "unrelated remark", conversation="n2")
        result = assign_new(session=session, embedder=embedder, min_similarity=0.8)
    assert (result.considered, result.assigned, result.unassigned) == (3, 1, 2)  # the weather text still waits
    with sessions() as session:
        assert session.get(Feedback, joined).theme_id == login.id  # type: ignore[union-attr]
        assert session.get(Feedback, waits).theme_id is None  # type: ignore[union-attr]
        assert {t.id: t.size for t in list_themes(session=session)}[login.id] == 5

    with sessions.begin() as session:  # a different model's centroids are never compared
        other = assign_new(session=session, embedder=WordEmbedder("other-model"), min_similarity=0.0)
    assert other.assigned == 0

    with sessions.begin() as session:  # a rebuild replaces every theme and keeps every feedback row
        rebuild_themes(session=session, embedder=embedder, phraser=SplitPhraser(), distance_threshold=0.3, min_size=3)
    with sessions() as session:
        # The text assign_new attached now belongs to the rebuilt login theme; the weather text is still noise.
        assert sorted(t.size for t in session.scalars(select(FeedbackTheme))) == [4, 5]
        assert len(session.scalars(select(Feedback).where(Feedback.kind == "text")).all()) == 11


def test_cli_show_themes_on_an_empty_store(sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    assert cli_main(["--database-url", url, "show-themes"]) == 0
    assert "no themes yet" in capsys.readouterr().out


def test_cli_reports_an_unmigrated_database(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--database-url", f"sqlite:///{tmp_path}/empty.db", "show-themes"]) == 1
    assert "error:" in capsys.readouterr().err
