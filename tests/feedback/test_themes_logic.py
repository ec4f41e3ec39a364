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
import scipy.sparse as sp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.feedback import clustering, louvain, store
from supportbot.feedback.cli import main as cli_main
from supportbot.feedback.clustering import ThemeParams
from supportbot.feedback.embedding import CachingEmbedder
from supportbot.feedback.themes import assign_new, list_themes, rebuild_if_due, rebuild_is_due, rebuild_themes
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
    params = ThemeParams(min_size=2)
    assert clustering.cluster(vectors, params=params).tolist() == [0, 0, -1]
    # The lone text said five times is recurring: it becomes the largest theme (number 0).
    labels = clustering.cluster(vectors, weights=[1, 1, 5], params=params)
    assert labels.tolist() == [1, 1, 0]


def _blobs(sizes: Sequence[int], *, spread: float = 0.06, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Unit vectors around orthogonal directions, ``sizes[i]`` of them around direction i."""
    rng = np.random.default_rng(seed)
    dims = len(sizes) + 12
    rows, truth = [], []
    for index, size in enumerate(sizes):
        centre = np.zeros(dims, dtype=np.float32)
        centre[index] = 1.0
        rows.append(centre + rng.normal(0, spread, (size, dims)).astype(np.float32))
        truth += [index] * size
    vectors = np.vstack(rows)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


def test_one_dominant_theme_stays_whole_beside_small_ones() -> None:
    """Real feedback is skewed: modularity alone cuts a theme holding most texts into pieces,
    the average-linkage merge puts it back; the 2-text group is below the minimum size."""
    vectors, truth = _blobs([400, 60, 12, 5, 2])
    params = ThemeParams(neighbours=15, resolution=8.0, merge_distance=0.5, min_size=3)
    graph = louvain.knn_graph(vectors, neighbours=params.neighbours)
    pieces = louvain.communities(graph, resolution=params.resolution)
    assert len(set(pieces[:400].tolist())) > 1  # what the merge step is for
    labels = clustering.cluster(vectors, params=params)
    found = {t: set(labels[np.array(truth) == t].tolist()) for t in range(5)}
    assert found == {0: {0}, 1: {1}, 2: {2}, 3: {3}, 4: {clustering.NOISE}}


def test_louvain_finds_planted_communities_and_is_seeded() -> None:
    """Two dense cliques joined by one weak edge: two communities, the same ones on every run."""
    rows, cols = [], []
    for base in (0, 6):
        for i in range(6):
            for j in range(6):
                if i != j:
                    rows.append(base + i)
                    cols.append(base + j)
    rows += [5, 6]
    cols += [6, 5]
    graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(12, 12))
    labels = louvain.communities(graph, resolution=1.0, seed=3)
    assert len(set(labels[:6].tolist())) == 1 and len(set(labels[6:].tolist())) == 1 and labels[0] != labels[6]
    assert louvain.communities(graph, resolution=1.0, seed=3).tolist() == labels.tolist()


def test_knn_graph_is_symmetric_without_self_loops() -> None:
    vectors, _ = _blobs([20, 20])
    graph = louvain.knn_graph(vectors, neighbours=5)
    assert (graph != graph.T).nnz == 0 and graph.diagonal().sum() == 0
    assert all(graph.getrow(i).nnz >= 5 for i in range(40))
    assert louvain.knn_graph(vectors[:1], neighbours=5).nnz == 0  # one text: no neighbours, no error


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
        report = rebuild_themes(session=session, embedder=embedder, phraser=SplitPhraser(), params=ThemeParams())
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
        rebuild_themes(session=session, embedder=embedder, phraser=SplitPhraser(), params=ThemeParams())
    with sessions() as session:
        # The text assign_new attached now belongs to the rebuilt login theme; the weather text is still noise.
        assert sorted(t.size for t in session.scalars(select(FeedbackTheme))) == [4, 5]
        assert len(session.scalars(select(Feedback).where(Feedback.kind == "text")).all()) == 11


def test_rebuild_runs_only_when_feedback_arrived_since_the_last_one(sessions: sessionmaker[Session]) -> None:
    embedder = WordEmbedder()
    monday = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)

    def run(now: dt.datetime) -> int | None:
        with sessions.begin() as session:
            if not rebuild_is_due(session=session):
                return None
            return rebuild_themes(
                session=session, embedder=embedder, phraser=SplitPhraser(), params=ThemeParams(), now=now
            ).themes

    assert run(monday) is None  # no feedback at all
    with sessions.begin() as session:
        for i in range(3):
            _text(session, f"login fails {i}", conversation=f"l{i}", at=monday)
    assert run(monday + dt.timedelta(hours=1)) == 1
    assert run(monday + dt.timedelta(hours=2)) is None and embedder.calls == 3  # nothing new: nothing embedded
    with sessions.begin() as session:
        _text(session, "charge twice", conversation="c1", at=monday + dt.timedelta(hours=3))
        report = rebuild_if_due(session=session, embedder=embedder, phraser=SplitPhraser(), params=ThemeParams())
    assert (
        report is not None and report.texts == 4 and set(report.steps) == {"read", "embed", "cluster", "label", "store"}
    )


def test_a_cached_rebuild_embeds_only_new_texts_and_finds_the_same_themes(sessions: sessionmaker[Session]) -> None:
    inner = WordEmbedder()
    cached = CachingEmbedder(inner, max_texts=5)

    def themes() -> list[tuple[int, list[str]]]:
        with sessions() as session:
            return sorted((t.size, t.key_phrases) for t in list_themes(session=session))

    with sessions.begin() as session:
        for i in range(3):
            _text(session, f"login fails {i}", conversation=f"l{i}")
        _text(session, "charge twice on my card", conversation="c1")
        rebuild_themes(session=session, embedder=cached, phraser=SplitPhraser(), params=ThemeParams())
    assert inner.calls == 4
    with sessions.begin() as session:
        for i in range(3):
            _text(session, f"login broken {i}", conversation=f"n{i}")
        rebuild_themes(session=session, embedder=cached, phraser=SplitPhraser(), params=ThemeParams())
    assert inner.calls == 7  # the three new texts only
    with_cache = themes()
    with sessions.begin() as session:
        rebuild_themes(session=session, embedder=WordEmbedder(), phraser=SplitPhraser(), params=ThemeParams())
    assert themes() == with_cache == [(6, with_cache[0][1])]
    # At most five texts are kept, the least recently used dropped: two of the seven are embedded again.
    every = [f"<login {word} {i}>" for word in ("fails", "broken") for i in range(3)] + ["<charge twice on my card>"]
    before = inner.calls
    vectors = cached.encode(every)
    assert inner.calls - before == 2
    assert np.array_equal(vectors, WordEmbedder().encode(every))


def test_scheduler_job_rebuilds_once_per_batch_of_new_feedback(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job as APScheduler calls it: settings from the environment, the lease taken and given back."""
    from scheduler import runtime, themes_job
    from supportbot.settings import get_settings
    from supportbot.store.outreach_models import SchedulerLease

    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", sessions.kw["bind"].url.render_as_string(hide_password=False))
    embedder = WordEmbedder()
    monkeypatch.setattr(themes_job, "_models", lambda: (embedder, SplitPhraser()))
    get_settings.cache_clear()  # settings are read once per process: this test's URL, not an earlier one's
    runtime.sessions.cache_clear()
    with sessions.begin() as session:
        for i in range(3):
            _text(session, f"login fails {i}", conversation=f"l{i}", at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    try:
        first = themes_job.themes_job()
        second = themes_job.themes_job()
    finally:
        runtime.sessions(runtime.database_url()).kw["bind"].dispose()  # no pooled connection left open
        get_settings.cache_clear()
        runtime.sessions.cache_clear()
    assert first is not None and first.themes == 1 and second is None
    with sessions() as session:
        lease = session.get(SchedulerLease, themes_job.THEMES_LEASE)
        assert lease is not None and lease.expires_at <= runtime.utc_now()  # released after the run
        assert [t.size for t in list_themes(session=session)] == [3]


def test_cli_show_themes_on_an_empty_store(sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    assert cli_main(["--database-url", url, "show-themes"]) == 0
    assert "no themes yet" in capsys.readouterr().out


def test_cli_reports_an_unmigrated_database(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--database-url", f"sqlite:///{tmp_path}/empty.db", "show-themes"]) == 1
    assert "error:" in capsys.readouterr().err
