"""Benchmark (not a test): a quick sweep of the intent classifier's settings on validation data.

    HF_HUB_OFFLINE=1 .venvs/app/bin/python -m bench.nlu_sweep                 # BANKING77 and CLINC150, val splits
    HF_HUB_OFFLINE=1 .venvs/app/bin/python -m bench.nlu_sweep --datasets banking77

Why a proxy: each setting through Rasa (``bench.nlu --split val --set ...``) costs a full
``rasa train`` (TensorFlow start-up, every featurizer, the MiniLM encoding of every example),
about 5 minutes on BANKING77 here. This sweep computes the same kinds of features once (word
counts, character 2–5-gram counts with scikit-learn's ``CountVectorizer`` as stand-ins for
Rasa's featurizers, and the MiniLM sentence embedding by ``bot.nlu.minilm``, the encoder the
Rasa pipeline runs) and fits only the logistic regression per setting. Its figures are close
to, not the same as, the pipeline's: the settings it points to are then confirmed through
Rasa with ``bench.nlu --split val`` (docs/BENCHMARKS.md has both).

Only validation splits are used (BANKING77: train minus 20 examples per intent; CLINC150: its
own val + oos_val), never a test split. Results: ``bench-results/nlu_sweep.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bench.nlu import DATASETS, OUT_OF_SCOPE, rasa_text
from bench.results import bench_data
from bot.nlu.minilm import SentenceEncoder, find_model_dir
from supportbot.devstack import ROOT

RESULTS = ROOT / "bench-results" / "nlu_sweep.json"


def features(train: list[str], val: list[str], *, word_ngrams: int, unit: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    word = CountVectorizer(ngram_range=(1, word_ngrams), token_pattern=r"(?u)\b\w+\b")
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5))
    blocks = [(word.fit_transform(train), word.transform(val)), (chars.fit_transform(train), chars.transform(val))]
    if unit:
        blocks = [(normalize(a), normalize(b)) for a, b in blocks]
    return sp.hstack([a for a, _ in blocks]).tocsr(), sp.hstack([b for _, b in blocks]).tocsr()


def score(
    model: LogisticRegression, x: sp.csr_matrix, gold: np.ndarray, *, threshold: float, oos: bool
) -> dict[str, float]:
    probabilities = model.predict_proba(x)
    predicted = model.classes_[probabilities.argmax(axis=1)]
    if not oos:
        return {"accuracy": round(float(np.mean(predicted == gold)), 4)}
    flagged = (predicted == OUT_OF_SCOPE) | (probabilities.max(axis=1) < threshold)
    in_scope = gold != OUT_OF_SCOPE
    return {
        "accuracy": round(float(np.mean((predicted == gold)[in_scope] & ~flagged[in_scope])), 4),
        "oos_recall": round(float(np.mean(flagged[~in_scope])), 4),
        "oos_precision": round(float(np.mean(gold[flagged] == OUT_OF_SCOPE)), 4) if flagged.any() else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="banking77,clinc150")
    parser.add_argument("--dense-weights", default="0,1,2,4")
    parser.add_argument("--C", default="10,30")
    parser.add_argument("--threshold", type=float, default=0.3, help="fallback threshold for out of scope")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    encoder = SentenceEncoder(find_model_dir())
    rows: list[dict[str, Any]] = []
    for dataset in args.datasets.split(","):
        train, val = DATASETS[dataset](bench_data(), "val")
        train_texts = [rasa_text(t).lower() for t, _ in train]
        val_texts = [rasa_text(t).lower() for t, _ in val]
        labels, gold = [label for _, label in train], np.array([label for _, label in val])
        started = time.perf_counter()
        dense_train, dense_val = encoder.encode(train_texts), encoder.encode(val_texts)
        print(
            f"{dataset}: {len(train)} + {len(val)} texts encoded in {time.perf_counter() - started:.0f} s", flush=True
        )
        for word_ngrams, unit in itertools.product((1, 2), (False, True)):
            sparse_train, sparse_val = features(train_texts, val_texts, word_ngrams=word_ngrams, unit=unit)
            for weight, c in itertools.product(
                (float(w) for w in args.dense_weights.split(",")), (float(c) for c in args.C.split(","))
            ):
                x_train, x_val = sparse_train, sparse_val
                if weight:
                    x_train = sp.hstack([x_train, sp.csr_matrix(dense_train * weight)]).tocsr()
                    x_val = sp.hstack([x_val, sp.csr_matrix(dense_val * weight)]).tocsr()
                started = time.perf_counter()
                model = LogisticRegression(C=c, max_iter=1000, class_weight="balanced").fit(x_train, labels)
                row = {
                    "dataset": dataset,
                    "word_ngrams": word_ngrams,
                    "normalize": unit,
                    "dense_weight": weight,
                    "C": c,
                    **score(model, x_val, gold, threshold=args.threshold, oos=dataset == "clinc150"),
                    "fit_s": round(time.perf_counter() - started, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": " ".join(["python", "-m", "bench.nlu_sweep", *(argv or sys.argv[1:])]),
        "threshold": args.threshold,
    }
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    for dataset in args.datasets.split(","):
        best = max((r for r in rows if r["dataset"] == dataset), key=lambda r: r["accuracy"])
        print(f"{dataset}: best accuracy {best['accuracy']} with {best}")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
