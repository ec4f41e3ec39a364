"""The question encoder on ONNX Runtime: the same sentence model as the index, without torch's overhead.

A short question through torch eager costs mostly framework overhead (MiniLM-L6, 15 word pieces:
about 14 ms p50 on this CPU for far fewer FLOPs); ONNX Runtime runs the exported graph
(``supportbot.helpcentre.onnx_export``) with its own fused kernels. Tokenisation is the model's
own Hugging Face tokenizer (as sentence-transformers uses it, truncated at the model's
``max_seq_length``); mean pooling over the attention mask and L2 normalisation are done here in
numpy, as the model's ``1_Pooling`` config says. Figures: docs/BENCHMARKS.md, "ONNX Runtime".
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from supportbot.feedback.embedding import resolve_model_path
from supportbot.helpcentre.index import IndexMismatchError
from supportbot.helpcentre.onnx_export import SOURCE_KEY, VARIANT_KEY

if TYPE_CHECKING:
    from numpy.typing import NDArray


class OnnxModelMismatchError(IndexMismatchError):
    """The ONNX file was exported from another sentence model than the one asked for (or is missing)."""


class OnnxEmbedder:
    """``Embedder`` over an exported ONNX file; ``name`` is the source model's, so the index's vectors match.

    ``threads`` is ONNX Runtime's intra-op thread count (one is as fast for one short question and
    leaves the other core free); graph optimisation is ``ORT_ENABLE_ALL`` (``optimise=False``: basic
    only). Loads on first ``encode``.
    """

    def __init__(
        self, *, model: str, onnx_path: Path, threads: int = 1, batch_size: int = 64, optimise: bool = True
    ) -> None:
        self.name = model
        self.optimise = optimise
        self.onnx_path = Path(onnx_path)
        self.threads = threads
        self.batch_size = batch_size
        self.variant = ""
        self._session: Any = None
        self._tokenizer: Any = None
        self._max_length = 512

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        level = ort.GraphOptimizationLevel
        options.graph_optimization_level = level.ORT_ENABLE_ALL if self.optimise else level.ORT_ENABLE_BASIC
        again = f"python -m supportbot.helpcentre.onnx_export --model {self.name} --out {self.onnx_path} --int8"
        if not self.onnx_path.is_file():
            raise OnnxModelMismatchError(f"no ONNX question encoder at {self.onnx_path}: export it ({again})")
        session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get(SOURCE_KEY) != self.name:
            raise OnnxModelMismatchError(
                f"{self.onnx_path} was exported from {meta.get(SOURCE_KEY)!r}, not {self.name!r}: the question "
                f"vectors would not match the index; export it again ({again})"
            )
        folder = Path(resolve_model_path(self.name))
        self.variant = meta.get(VARIANT_KEY, "")
        self._max_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self._session = session

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self._session is None:
            self._load()
        rows = [self._encode_batch(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.vstack(rows)

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_length, return_tensors="np")
        mask = tokens["attention_mask"].astype(np.int64)
        (embeddings,) = self._session.run(
            None, {"input_ids": tokens["input_ids"].astype(np.int64), "attention_mask": mask}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (embeddings * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled, dtype=np.float32)
