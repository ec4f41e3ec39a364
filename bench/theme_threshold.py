"""Choosing the theme distance threshold on BANKING77's *train* split (never its test split).

    .venvs/app/bin/python -m bench.theme_threshold          # or: make bench-theme-threshold

A seeded sample of train texts (as many as the test set has, 3,080) is embedded once with
the production embedding model, then clustered at each threshold of a sweep with the
production clustering (``supportbot.feedback.clustering.cluster``) and scored against the
gold intents: NMI, ARI, number of themes, coverage. The chosen threshold maximises the mean
of NMI and ARI, so it neither splits everything (NMI alone rewards many small clusters) nor
lumps everything. It becomes the setting's default (``feedback_theme_distance_threshold``);
``bench.themes`` then reports it on the test split, which played no part in the choice.
Results: bench-results/theme_threshold.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from bench.results import bench_data
from bench.themes import load, scores

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "theme_threshold.json"
THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


def main() -> int:
    from supportbot.feedback.clustering import cluster
    from supportbot.feedback.embedding import SentenceTransformerEmbedder
    from supportbot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=3080, help="train texts to sample (default: 3080)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-size", type=int, default=settings.feedback_theme_min_size)
    parser.add_argument("--thresholds", default=",".join(str(t) for t in THRESHOLDS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    texts, gold = load(bench_data() / "banking77" / "train.csv")
    picked = sorted(random.Random(args.seed).sample(range(len(texts)), min(args.sample, len(texts))))
    texts, gold = [texts[i] for i in picked], [gold[i] for i in picked]
    embedder = SentenceTransformerEmbedder(model=settings.feedback_embedding_model)
    started = time.perf_counter()
    vectors = embedder.encode(texts, progress=True)
    embed_s = time.perf_counter() - started

    rows: list[dict[str, Any]] = []
    for threshold in (float(t) for t in args.thresholds.split(",")):
        started = time.perf_counter()
        labels = cluster(vectors, distance_threshold=threshold, min_size=args.min_size)
        row = {"threshold": threshold, **scores(gold, np.asarray(labels)), "cluster_s": time.perf_counter() - started}
        row["cluster_s"] = round(row["cluster_s"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    best = max(rows, key=lambda r: (r["nmi"] + r["ari"]) / 2)
    result = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "data": f"BANKING77 train split, {len(texts)} texts sampled with seed {args.seed}",
            "min_size": args.min_size,
            "embedding_model": settings.feedback_embedding_model,
            "embed_s": round(embed_s, 1),
            "criterion": "max mean(NMI, ARI)",
        },
        "results": rows,
        "chosen": best["threshold"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"chosen threshold {best['threshold']} (NMI {best['nmi']}, ARI {best['ari']}, {best['themes']} themes)")
    print(f"results: {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
