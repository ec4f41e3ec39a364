"""A linear intent classifier over Rasa's sentence features (rasa environment).

Why our own rather than Rasa's ``LogisticRegressionClassifier``:
- Rasa's persists through ``skops``, whose first import walks every loaded module
  for every NumPy/SciPy ufunc; with TensorFlow loaded that took more than five
  minutes per process on our 2-core machines (training, ``rasa test``, ``rasa run``
  each paid it).
- We store the fitted weights as plain arrays (``.npz``, no pickle) and predict
  with one matrix product and a softmax: loading is instant and safe, and
  inference does not touch scikit-learn.

Training uses scikit-learn's multinomial logistic regression (L2, ``C`` and
``class_weight`` configurable) on the concatenation of the sparse and dense
sentence features the featurizers before it produce. With ``normalize`` every sparse
block (one per featurizer) is scaled to unit length per message, and the dense block
(a unit-length sentence embedding) is multiplied by ``dense_weight``: raw counts
(rows of norm 10 or more next to an embedding of norm 1) would let the longest block
dominate and need large weights for the embedding, which L2 punishes. The settings in
``config.yml`` were chosen on validation data (docs/BENCHMARKS.md, "NLU").
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "linear_intent_classifier.npz"


def _unit_rows(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return scipy.sparse.csr_matrix(matrix.multiply(1.0 / norms[:, None]))


def sentence_matrix(
    messages: List[Message], dense_weight: float = 1.0, normalize: bool = False
) -> scipy.sparse.csr_matrix:
    """One row per message: every featurizer's sentence features side by side.

    Blocks are ordered by kind (sparse first) and featurizer name, so training and prediction
    line up whatever order Rasa's graph ran the featurizers in. With ``normalize`` each sparse
    block is scaled to unit length per message: a long message's counts then weigh no more
    than a short one's, and the word and character blocks count alike. Dense blocks (unit-length
    sentence embeddings) are multiplied by ``dense_weight``.
    """
    rows = []
    for message in messages:
        blocks = sorted(
            (f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE),
            key=lambda f: (f.is_dense(), str(f.origin)),
        )
        if not blocks:
            raise ValueError("LinearIntentClassifier needs a featurizer before it in the pipeline")
        parts = []
        for block in blocks:
            if block.is_dense():
                parts.append(scipy.sparse.csr_matrix(np.asarray(block.features, dtype=np.float32) * dense_weight))
            else:
                matrix = scipy.sparse.csr_matrix(block.features, dtype=np.float32)
                parts.append(_unit_rows(matrix) if normalize else matrix)
        rows.append(scipy.sparse.hstack(parts, format="csr"))
    return scipy.sparse.vstack(rows, format="csr")


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,
            "max_iter": 1000,
            "class_weight": "balanced",
            "ranking_length": 10,
            "dense_weight": 1.0,
            "normalize": False,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: Optional[np.ndarray] = None,
        bias: Optional[np.ndarray] = None,
        classes: Optional[List[Text]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.classes = classes or []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("No intent examples; the intent classifier stays untrained.")
            return self._resource
        labels = [e.get(INTENT) for e in examples]
        if len(set(labels)) < 2:
            logger.warning("Fewer than two intents; the intent classifier stays untrained.")
            return self._resource
        model = LogisticRegression(
            C=self.config["C"],
            max_iter=self.config["max_iter"],
            class_weight=self.config["class_weight"],
            solver="lbfgs",
        )
        model.fit(sentence_matrix(examples, self.config["dense_weight"], self.config["normalize"]), labels)
        self.weights = model.coef_.astype(np.float32)
        self.bias = model.intercept_.astype(np.float32)
        self.classes = [str(c) for c in model.classes_]
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(
                directory / WEIGHTS_FILE,
                weights=self.weights,
                bias=self.bias,
                classes=np.array(self.classes, dtype=str),
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LinearIntentClassifier":
        try:
            with (
                model_storage.read_from(resource) as directory,
                np.load(directory / WEIGHTS_FILE, allow_pickle=False) as stored,
            ):
                return cls(
                    config,
                    model_storage,
                    resource,
                    weights=stored["weights"],
                    bias=stored["bias"],
                    classes=[str(c) for c in stored["classes"]],
                )
        except (ValueError, FileNotFoundError):
            logger.debug("No trained intent classifier found; it will not predict intents.")
            return cls(config, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.weights is None or not self.classes:
            return messages
        features = sentence_matrix(messages, self.config["dense_weight"], self.config["normalize"])
        scores = features @ self.weights.T + self.bias
        probabilities = softmax(np.asarray(scores))
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row)
            ranking = [{"name": self.classes[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[: self.config["ranking_length"]], add_to_output=True)
        return messages
