"""Sentence embeddings and spaCy key-phrase candidates behind small interfaces (app environment).

Both models are settings (``feedback_embedding_model``, ``feedback_spacy_model``) and load
on first use, once per object, so importing this module, the CLI or the action server
costs nothing. Tests whose subject is not the model pass their own ``Embedder`` /
``Phraser``.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from supportbot.feedback.redaction import load_spacy
from supportbot.feedback.workers import map_on_threads

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


def bfloat16_is_fast() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16, AMX); elsewhere it is emulated and slower."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


class SentenceTransformerEmbedder:
    """sentence-transformers, loaded on first ``encode``; hub access off unless the env says otherwise.

    The defaults (float32, one call on the caller's thread) are what the help centre's index
    and questions use. Theme rebuilds embed every feedback text at once and ask for more
    (``theme_embedder`` in ``supportbot.feedback.cli``; figures in docs/BENCHMARKS.md):

    - ``bfloat16``: weights and activations in bfloat16 where the CPU has native bfloat16
      arithmetic (``bfloat16_is_fast``), float32 elsewhere. The same model and weights; on
      3,000 CLINC150 texts its vectors were within cosine 0.998 of float32's, at 0.55 of the
      CPU time. Vectors are renormalised in float32, so they stay unit length.
    - ``attention="eager"``: the plain matmul-softmax attention, 20 % less CPU than PyTorch's
      fused kernel on texts of a dozen word pieces; the same computation.
    - ``workers``: that many model copies on as many threads (``supportbot.feedback.workers``
      says why not torch's own threads), each taking length-sorted chunks of ``chunk`` texts.
    """

    def __init__(
        self,
        *,
        model: str,
        batch_size: int = 64,
        bfloat16: bool = False,
        attention: str | None = None,
        workers: int = 1,
        chunk: int = 512,
    ) -> None:
        self.name = model
        self.batch_size = batch_size
        self.bfloat16 = bfloat16
        self.attention = attention
        self.workers = max(1, workers)
        self.chunk = chunk
        self._models: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._first: Any = None
        self._lock = threading.Lock()

    def _load_one(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        kwargs: dict[str, Any] = {} if self.attention is None else {"attn_implementation": self.attention}
        model = SentenceTransformer(resolve_model_path(self.name), device="cpu", model_kwargs=kwargs)
        if self.bfloat16 and bfloat16_is_fast():
            import torch

            model = model.to(torch.bfloat16)
        return model

    def _load(self) -> Any:
        """The first model copy (tests read its tokenizer); every copy loads on the first call."""
        with self._lock:
            if self._first is None:
                # Each copy has its own tokenizer: the Hugging Face one is not safe to share across threads.
                copies = [self._load_one() for _ in range(self.workers)]
                for copy in copies:
                    self._models.put(copy)
                self._first = copies[0]
            return self._first

    def _encode_chunk(self, texts: list[str]) -> NDArray[np.float32]:
        model = self._models.get()
        try:
            vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_tensor=True)
        finally:
            self._models.put(model)
        rows = np.asarray(vectors.float().numpy(), dtype=np.float32)
        # Unit length in float32 (a bfloat16 norm is only good to about 0.4 %).
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return rows

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._load()
        if self.workers == 1 and not self.bfloat16:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                show_progress_bar=progress,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
            return np.asarray(vectors, dtype=np.float32)
        # Length-sorted chunks pad little and keep every worker busy until the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [[texts[i] for i in order[start : start + self.chunk]] for start in range(0, len(order), self.chunk)]
        parts = map_on_threads(self._encode_chunk, chunks, workers=self.workers)
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[np.asarray(order)] = np.vstack(parts)
        return out


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


class CachingEmbedder:
    """Another embedder's vectors, remembered per text for the life of the object (least recently used go first).

    The scheduler keeps its models for the life of its process, and a scheduled rebuild
    re-clusters every text although most were embedded the day before; with this only the
    texts new since then are embedded (embedding was 57 of the 74 CPU seconds of a 23,700-text
    rebuild, docs/BENCHMARKS.md). ``max_texts`` bounds memory at about 1.6 KB per text.
    """

    def __init__(self, inner: Embedder, *, max_texts: int = 100_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_texts = max_texts
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> NDArray[np.float32]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = self.inner.encode(missing, progress=progress) if missing else None
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            if fresh is not None:
                found.update(zip(missing, fresh, strict=True))
                self._vectors.update(zip(missing, fresh, strict=True))
            for text in found:
                if text in self._vectors:
                    self._vectors.move_to_end(text)
            while len(self._vectors) > self.max_texts:
                self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)


_UNUSED_PIPES = ("ner",)
"""spaCy components phrases do not read (noun chunks need the parser, lemmas the tagger and lemmatizer)."""


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
        # Entities are never phrases, and the recogniser was half of spaCy's time here (docs/BENCHMARKS.md).
        unused = [name for name in _UNUSED_PIPES if name in nlp.pipe_names]
        out: list[list[str]] = []
        for doc in nlp.pipe(list(texts), batch_size=64, disable=unused):
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
