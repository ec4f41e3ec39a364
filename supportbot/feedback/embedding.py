"""Sentence embeddings and spaCy key-phrase candidates behind small interfaces (app environment).

Both models are settings (``feedback_embedding_model``, ``feedback_spacy_model``) and load
on first use, once per object, so importing this module, the CLI or the action server
costs nothing. Tests whose subject is not the model pass their own ``Embedder`` /
``Phraser``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from supportbot.feedback.redaction import load_spacy

if TYPE_CHECKING:
    from numpy.typing import NDArray


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> NDArray[np.float32]:
        """Unit-length float32 rows, one per text."""
        ...


class Phraser(Protocol):
    def phrases(self, texts: Sequence[str]) -> list[list[str]]:
        """Candidate key phrases per text, normalised (lower case, lemmas)."""
        ...


def resolve_model_path(name: str) -> str:
    """A package carrying ``model/`` (the offline default), a folder, or a hub name, in that order.

    ``find_spec`` locates the package without importing it.
    """
    if name.isidentifier():
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))) / "model"
            if folder.is_dir():
                return str(folder)
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers, loaded on first ``encode``; hub access off unless the env says otherwise."""

    def __init__(self, *, model: str, batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
            return self._model

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


_DROP_POS = {"DET", "PRON", "PUNCT", "SPACE", "NUM", "PART", "CCONJ", "ADP", "SYM", "X", "AUX", "INTJ"}
_CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ"}
_PLACEHOLDERS = {"NAME", "EMAIL", "PHONE", "CARD", "IBAN", "NUMBER"}
_GENERIC = {
    "app", "thing", "problem", "issue", "time", "way", "lot", "bit", "get", "do", "make", "have", "be", "keep", "want",
    "need", "try", "know", "happen", "help", "tell",
}  # fmt: skip


_BAD_LEMMAS = {"pende": "pending"}
"""Lemmas the small English model gets wrong in this domain, as seen in theme labels."""


def _word(token: Any) -> str:
    """The lemma ("charges" → "charge", "logging" → "log"), so forms of one word count together."""
    lemma = str(token.lemma_).lower()
    return _BAD_LEMMAS.get(lemma, lemma)


class SpacyPhraser:
    """Noun chunks (trimmed of determiners and pronouns) plus content-word lemmas.

    Noun chunks give readable labels ("double charge", "sync feature"); single lemmas
    catch what customers say with verbs ("log in", "charged twice"), where noun chunks
    alone find only "I" and "me". Redaction placeholders are never phrases.
    """

    def __init__(self, *, model: str) -> None:
        self.model = model

    def phrases(self, texts: Sequence[str]) -> list[list[str]]:
        nlp = load_spacy(self.model)
        out: list[list[str]] = []
        for doc in nlp.pipe(list(texts), batch_size=64):
            found: list[str] = []
            for chunk in doc.noun_chunks:
                words = [
                    _word(t) for t in chunk if t.pos_ not in _DROP_POS and not t.is_stop and t.text not in _PLACEHOLDERS
                ]
                words = [w for w in words if w.isascii() and w.replace("-", "").isalpha()]
                if words and " ".join(words) not in _GENERIC:
                    found.append(" ".join(words))
            for token in doc:
                lemma = _word(token)
                if (
                    token.pos_ in _CONTENT_POS
                    and not token.is_stop
                    and token.text not in _PLACEHOLDERS
                    and lemma.isalpha()
                    and len(lemma) > 2
                    and lemma not in _GENERIC
                ):
                    found.append(lemma)
            out.append(found)
        return out
