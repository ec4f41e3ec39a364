"""BM25 over scikit-learn's CountVectorizer: the lexical half of hybrid retrieval.

Why our own: BM25 is a dozen lines over a sparse term-count matrix, and scikit-learn is
already in the app env; ``rank-bm25``/``bm25s`` would add a dependency for the same
formula (Robertson & Zaragoza's, with the "+1" idf that never goes negative). Measured
against scikit-learn's TF-IDF in docs/BENCHMARKS.md.

Terms are lower-cased words with a light suffix stripper ("exports", "exporting" →
"export"): customers rarely use the article's exact word form, and no stemmer is in the env.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

if TYPE_CHECKING:
    from numpy.typing import NDArray

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A deliberately light stemmer: plural and verb endings only, never below 4 letters."""
    word = word.split("'")[0]
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "es":
                return base if base.endswith(("s", "x", "z", "ch", "sh")) else word[:-1]
            if suffix in ("ing", "ings", "ed") and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                return base[:-1]  # shipping -> ship, but installing -> install
            return base
    return word


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


@dataclass
class Bm25:
    vocabulary: dict[str, int]
    weights: csr_matrix
    """documents × terms: the BM25 weight of each term in each document."""

    @classmethod
    def fit(cls, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> Bm25:
        vectorizer = CountVectorizer(analyzer=terms)
        counts = vectorizer.fit_transform(documents).tocoo()
        n_docs = counts.shape[0]
        df = np.bincount(counts.col, minlength=counts.shape[1])
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        lengths = np.bincount(counts.row, weights=counts.data, minlength=n_docs)
        average = lengths.mean() if n_docs else 1.0
        tf = counts.data.astype(np.float64)
        values = tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[counts.row] / average)) * idf[counts.col]
        weights = csr_matrix((values, (counts.row, counts.col)), shape=counts.shape, dtype=np.float32)
        vocabulary = {str(term): int(i) for term, i in vectorizer.vocabulary_.items()}
        return cls(vocabulary=vocabulary, weights=weights)

    def scores(self, query: str) -> NDArray[np.float32]:
        """One score per document; each distinct query term counts once."""
        columns = sorted({self.vocabulary[t] for t in terms(query) if t in self.vocabulary})
        if not columns:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, columns].sum(axis=1), dtype=np.float32).ravel()

    # Stored as plain arrays in the index file (no pickle).
    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        terms_sorted = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "bm25_terms": np.array(terms_sorted, dtype=np.str_),
            "bm25_data": self.weights.data,
            "bm25_indices": self.weights.indices,
            "bm25_indptr": self.weights.indptr,
            "bm25_shape": np.array(self.weights.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> Bm25:
        shape = tuple(int(x) for x in arrays["bm25_shape"])
        weights = csr_matrix((arrays["bm25_data"], arrays["bm25_indices"], arrays["bm25_indptr"]), shape=shape)
        return cls(vocabulary={str(t): i for i, t in enumerate(arrays["bm25_terms"])}, weights=weights)
