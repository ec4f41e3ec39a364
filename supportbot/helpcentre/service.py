"""The help centre as the action server uses it: one retriever per process, built on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from supportbot.feedback.embedding import Embedder, SentenceTransformerEmbedder
from supportbot.helpcentre.answers import HelpReply, compose_reply
from supportbot.helpcentre.config import HelpCentreSettings, get_helpcentre_settings
from supportbot.helpcentre.retrieval import Retriever

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def question_embedder(settings: HelpCentreSettings) -> Embedder:
    """The question encoder the settings name; both carry the model's name, which the index must match."""
    if settings.question_encoder == "onnx":
        from threadpoolctl import threadpool_limits

        from supportbot.helpcentre.onnx_encoder import OnnxEmbedder

        # numpy's OpenBLAS scores a 768-wide index on two threads whose spinning doubles the CPU of a
        # question and lengthens its wall time on a busy machine (docs/BENCHMARKS.md, "ONNX Runtime").
        threadpool_limits(settings.torch_threads, user_api="blas")

        return OnnxEmbedder(
            model=settings.embedding_model, onnx_path=settings.question_onnx_path, threads=settings.torch_threads
        )
    import torch  # already a dependency of sentence-transformers; imported here, never at import time

    torch.set_num_threads(settings.torch_threads)
    return SentenceTransformerEmbedder(model=settings.embedding_model)


@lru_cache(maxsize=1)
def get_retriever() -> Retriever:
    """The process's retriever; nothing is loaded until the first question (or ``warm_up``)."""
    settings = get_helpcentre_settings()
    return Retriever(index_path=settings.index_path, embedder=question_embedder(settings))


def answer_question(
    question: str,
    *,
    verified: bool,
    account_step: bool = True,
    retriever: Retriever | None = None,
    settings: HelpCentreSettings | None = None,
) -> tuple[HelpReply, NDArray[np.float32]]:
    """The reply for one question and the question's embedding. Raises ``HelpIndexError``
    when there is no usable index (the caller tells the customer and a person)."""
    settings = settings or get_helpcentre_settings()
    retriever = retriever or get_retriever()
    hits, vector = retriever.search(question, k=3)
    reply = compose_reply(
        question,
        hits,
        url_for=settings.article_url,
        threshold=settings.answer_threshold,
        lead=settings.answer_lead,
        verified=verified,
        account_step=account_step,
    )
    return reply, vector


def warm_up() -> None:
    """Load the index and the embedding model now (the action server's start-up thread calls this)."""
    retriever = get_retriever()
    retriever.index()
    retriever.encode("warm-up")
