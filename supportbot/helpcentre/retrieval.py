"""Scoring a question against the index: sentence embeddings and BM25 over passages, fused per article.

Score of an article for a question (every part standardised over the articles, so the
three scales add up; weights chosen on StackFAQ, docs/BENCHMARKS.md):

- semantic, passages: the best passage's cosine plus half the second best (an article
  that answers in two places is a better bet than one lucky sentence);
- semantic, article: cosine with the mean of the article's passage vectors;
- lexical: BM25 over the article's words (names of settings, products, countries).

How sure we are is the best passage's plain cosine, which means the same for every
question; the fused score only orders the articles.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from supportbot.feedback.embedding import Embedder
from supportbot.helpcentre.articles import Article
from supportbot.helpcentre.index import HelpIndex, IndexedPassage, load_index
from supportbot.helpcentre.lexical import terms

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Weights:
    second_passage: float = 0.5
    article: float = 1.0
    lexical: float = 0.2


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    """The fused score (only comparable within one question)."""
    cosine: float
    """The best passage's cosine with the question."""
    passage: IndexedPassage
    """The best passage."""
    excerpt: IndexedPassage
    """The best passage that is not the title: what an answer quotes."""


def _standardise(values: NDArray[np.float64]) -> NDArray[np.float64]:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def top_two_per_article(
    sims: NDArray[np.float32], owner: NDArray[np.int32], n_articles: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """(best cosine, second best cosine, index of the best passage) per article."""
    order = np.lexsort((-sims, owner))  # by article, best passage first
    sorted_owner = owner[order]
    starts = np.searchsorted(sorted_owner, np.arange(n_articles))
    ends = np.searchsorted(sorted_owner, np.arange(n_articles), side="right")
    best_idx = order[starts]
    best = sims[best_idx].astype(np.float64)
    has_second = ends - starts > 1
    second = np.where(has_second, sims[order[np.minimum(starts + 1, len(order) - 1)]], best).astype(np.float64)
    return best, second, best_idx


def score_articles(
    index: HelpIndex, query_vector: NDArray[np.float32], query_text: str, weights: Weights = Weights()
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """(fused score, best passage cosine, best passage index) for every article."""
    sims = index.passage_vectors @ query_vector
    n = len(index.articles)
    best, second, best_idx = top_two_per_article(sims, index.passage_article, n)
    semantic = best + weights.second_passage * second
    fused = _standardise(semantic)
    if weights.article:
        fused = fused + weights.article * _standardise((index.article_vectors @ query_vector).astype(np.float64))
    if weights.lexical:
        fused = fused + weights.lexical * _standardise(index.bm25.scores(query_text).astype(np.float64))
    return fused, best, best_idx


def search(
    index: HelpIndex, query_vector: NDArray[np.float32], query_text: str, *, k: int = 3, weights: Weights = Weights()
) -> list[Hit]:
    fused, best, best_idx = score_articles(index, query_vector, query_text, weights)
    top = np.argsort(-fused, kind="stable")[:k]
    hits = []
    query_terms = set(terms(query_text))
    for i in top:
        passage = index.passages[int(best_idx[i])]
        hits.append(
            Hit(
                article=index.articles[i],
                score=float(fused[i]),
                cosine=float(best[i]),
                passage=passage,
                excerpt=best_excerpt(index, int(i), query_vector, query_terms),
            )
        )
    return hits


EXCERPT_LEXICAL = 0.15
OPENING_MIN_WORDS = 25


def best_excerpt(
    index: HelpIndex, article: int, query_vector: NDArray[np.float32], query_terms: set[str]
) -> IndexedPassage:
    """The body passage to quote.

    When the question is closer to the article's title than to any of its passages ("is
    there a student discount"), the article's opening (the text before its first heading) is its
    summary and the answer, if it says enough. An article that starts with a heading has no
    summary: "what's the warranty on the pen?" must not quote its first section, "Replacing the
    tip", only because the title names both; it gets the best section, from its start.
    Otherwise the passage closest in its own words (without the shared title), plus a little
    for sharing the question's words ("canada" in the list of countries).
    """
    body = np.flatnonzero((index.passage_article == article) & ~np.asarray(index.title_mask))
    if not len(body):
        return index.passages[int(np.flatnonzero(index.passage_article == article)[0])]
    cosines = index.excerpt_vectors[body] @ query_vector
    titles = np.flatnonzero((index.passage_article == article) & np.asarray(index.title_mask))
    first = index.passages[int(body[0])]
    about_whole = len(titles) > 0 and float((index.excerpt_vectors[titles] @ query_vector).max()) >= cosines.max()
    has_opening = not first.heading
    if about_whole and has_opening and (len(first.text.split()) >= OPENING_MIN_WORDS or len(body) == 1):
        return first
    scores = []
    for number, cosine in zip(body, cosines, strict=True):
        words = set(terms(index.passages[int(number)].text))
        overlap = len(query_terms & words) / len(query_terms) if query_terms else 0.0
        scores.append(float(cosine) + EXCERPT_LEXICAL * overlap)
    if about_whole and not has_opening:  # no summary: the best section, from its start
        return _section_from_start(index, body, int(np.argmax(scores)))
    if about_whole:  # a one-line summary, then the best of the rest
        best = _from_list_start(index, body, 1 + int(np.argmax(scores[1:])))
        lead = f"{best.heading}:\n" if best.heading else ""
        return IndexedPassage(article=article, heading=first.heading, text=f"{first.text}\n{lead}{best.text}")
    return _from_list_start(index, body, int(np.argmax(scores)))


def _section_from_start(index: HelpIndex, body: NDArray[np.intp], position: int) -> IndexedPassage:
    """The passage at ``position`` preceded by its section's first passage, when it is not that one:
    a question about the whole article asks what the section says first ("1-year limited
    warranty"), not the detail that matched it best ("To make a claim…")."""
    passage = index.passages[int(body[position])]
    start = position
    while start > 0 and index.passages[int(body[start - 1])].heading == passage.heading:
        start -= 1
    if start == position:
        return _from_list_start(index, body, position)
    opening = index.passages[int(body[start])]
    seen = set(opening.text.splitlines())
    rest = [line for line in passage.text.splitlines() if line not in seen]
    return IndexedPassage(article=passage.article, heading=passage.heading, text="\n".join([opening.text, *rest]))


_STEP = re.compile(r"^\s*(\d+)[.)]\s")


def _from_list_start(index: HelpIndex, body: NDArray[np.intp], position: int) -> IndexedPassage:
    """The passage at ``position``; if it starts inside a numbered list (a long section is cut into
    passages, the next one opening with the last step as context), joined to the passage before it,
    so that "4. Choose Plus…" is never quoted without steps 1-3."""
    passage = index.passages[int(body[position])]
    step = _STEP.match(passage.text)
    if not step or int(step.group(1)) == 1 or position == 0:
        return passage
    before = index.passages[int(body[position - 1])]
    if before.heading != passage.heading:
        return passage
    seen = set(before.text.splitlines())
    rest = [line for line in passage.text.splitlines() if line not in seen]
    return IndexedPassage(article=passage.article, heading=passage.heading, text="\n".join([before.text, *rest]))


class Retriever:
    """The index file, loaded on first use and again whenever the file changes; one embedder.

    Safe to share between the action server's worker threads. ``search`` never builds
    the index: a missing or mismatched file raises ``HelpIndexError`` with the command
    that fixes it.
    """

    def __init__(self, *, index_path: Path, embedder: Embedder, weights: Weights = Weights()) -> None:
        self.index_path = index_path
        self.embedder = embedder
        self.weights = weights
        self._index: HelpIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.index_path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def index(self) -> HelpIndex:
        stamp = self._file_stamp()
        with self._lock:
            if self._index is None or stamp != self._stamp:
                started = time.perf_counter()
                self._index = load_index(self.index_path, expected_model=self.embedder.name)
                self._stamp = stamp
                logger.info(
                    "help-centre index loaded: %d articles, %d passages, built %s (%.0f ms)",
                    len(self._index.articles),
                    len(self._index.passages),
                    self._index.built_at,
                    1000 * (time.perf_counter() - started),
                )
            return self._index

    def encode(self, question: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self.embedder.encode([question])[0]
        return vector

    def search(self, question: str, *, k: int = 3) -> tuple[list[Hit], NDArray[np.float32]]:
        """The best ``k`` articles and the question's vector (kept for grouping content gaps)."""
        index = self.index()
        vector = self.encode(question)
        return search(index, vector, question, k=k, weights=self.weights), vector
