"""Benchmark: feedback themes against gold intents (not a test; run by hand, results in docs/BENCHMARKS.md).

    .venvs/app/bin/python -m bench.themes                    # app env: ours + TF-IDF/k-means
    /tmp/bench-umap-venv/bin/python -m bench.themes          # same, plus the BERTopic-style pipeline

Data: the BANKING77 test set (3,080 customer-service queries, 77 intents; Casanueva et al.
2020, "Efficient Intent Detection with Dual Sentence Encoders", github.com/PolyAI-LDN/
task-specific-datasets, CC BY 4.0) from ``../shared/benchdata/banking77``, used as stand-in
feedback with hidden labels. For the 30,000-text run the texts are repeated in order.

Pipelines, each timed end to end from texts to one label per text:
- ``ours``: the production path. Texts are written as feedback rows into a fresh SQLite
  file and ``rebuild_themes`` runs with the real models (embedding, clustering, spaCy
  labels, storing); labels are read back from the database. It deduplicates identical
  texts, so at 30k it embeds 3,080 distinct texts.
- ``ours-no-dedupe`` (30k only): every row clustered without deduplication (the
  MiniBatchKMeans → agglomerative path), to show the cost when texts are not repeated.
  Embedding time at 30k for this and the BERTopic-style row is the measured time for the
  3,080 distinct texts scaled by 30,000 / 3,080 (``embed_estimated``), because embedding the
  same text ten times gives the same vector and the shared machine is slow.
- ``tfidf-kmeans-k77`` / ``tfidf-kmeans-k=ours``: TF-IDF (1–2 grams, English stop words) +
  k-means with the true number of intents, and with the number of themes ours found.
- ``bertopic-style``: MiniLM embeddings + UMAP (5 d, 15 neighbours, cosine) + HDBSCAN
  (min cluster size 10, as BERTopic's defaults), only when umap-learn and hdbscan import.

Metrics: NMI and ARI against the gold intents over *all* texts, with texts left unassigned
(our noise, HDBSCAN's -1) counted as one extra cluster, which penalises leaving texts out;
``coverage`` is the share of texts given a theme.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from bench.results import bench_data

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "themes.json"


def load(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def scores(gold: list[str], labels: np.ndarray) -> dict[str, float]:
    return {
        "nmi": round(float(normalized_mutual_info_score(gold, labels)), 4),
        "ari": round(float(adjusted_rand_score(gold, labels)), 4),
        "coverage": round(float((labels >= 0).mean()), 4),
        "themes": len(set(labels.tolist()) - {-1}),
    }


def run_ours(texts: list[str], *, threshold: float, min_size: int) -> tuple[np.ndarray, dict[str, float]]:
    from sqlalchemy import select

    from supportbot.feedback.embedding import SentenceTransformerEmbedder, SpacyPhraser
    from supportbot.feedback.themes import rebuild_themes
    from supportbot.settings import get_settings
    from supportbot.store.db import make_engine, session_factory
    from supportbot.store.feedback_models import Feedback
    from supportbot.store.migrate import upgrade_database

    settings = get_settings()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade_database(url=url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        now = dt.datetime.now(dt.UTC)
        with sessions.begin() as session:
            session.execute(
                Feedback.__table__.insert(),
                [
                    {
                        "conversation_id": f"b{i}",
                        "channel": "bench",
                        "kind": "text",
                        "text": t,
                        "text_redacted": t,
                        "prompted_by": "volunteered",
                        "created_at": now,
                    }
                    for i, t in enumerate(texts)
                ],
            )
        started = time.perf_counter()
        with sessions.begin() as session:
            rebuild_themes(
                session=session,
                embedder=SentenceTransformerEmbedder(model=settings.feedback_embedding_model),
                phraser=SpacyPhraser(model=settings.feedback_spacy_model),
                distance_threshold=threshold,
                min_size=min_size,
                progress=True,
            )
        seconds = time.perf_counter() - started
        with sessions() as session:
            rows = session.execute(select(Feedback.id, Feedback.theme_id).order_by(Feedback.id)).all()
        engine.dispose()
    labels = np.array([-1 if theme is None else theme for _, theme in rows])
    return labels, {"total_s": round(seconds, 1)}


def embed_all(texts: list[str]) -> tuple[np.ndarray, float]:
    from supportbot.feedback.embedding import SentenceTransformerEmbedder
    from supportbot.settings import get_settings

    embedder = SentenceTransformerEmbedder(model=get_settings().feedback_embedding_model)
    embedder.encode(["warm up"])  # model load is not part of the per-text cost
    started = time.perf_counter()
    vectors = embedder.encode(texts, progress=True)
    return vectors, time.perf_counter() - started


def run_no_dedupe(vectors: np.ndarray, *, threshold: float, min_size: int) -> tuple[np.ndarray, float]:
    from supportbot.feedback.clustering import cluster

    started = time.perf_counter()
    labels = cluster(vectors, distance_threshold=threshold, min_size=min_size)
    return labels, time.perf_counter() - started


def run_tfidf_kmeans(texts: list[str], *, k: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    matrix = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, min_df=2).fit_transform(texts)
    labels = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(matrix)
    return np.asarray(labels), time.perf_counter() - started


def warm_up_bertopic_style() -> float | None:
    """Import umap/hdbscan and JIT-compile UMAP's numba code on a tiny random set (not timed
    as part of the pipeline: a one-off per process, minutes on a loaded machine)."""
    started = time.perf_counter()
    try:
        import hdbscan
        import umap
    except ImportError:
        return None
    sample = np.random.default_rng(0).random((300, 16)).astype(np.float32)
    reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(
        sample
    )
    hdbscan.HDBSCAN(min_cluster_size=10).fit_predict(reduced)
    return time.perf_counter() - started


def run_bertopic_style(vectors: np.ndarray) -> tuple[np.ndarray, float] | None:
    try:
        import hdbscan
        import umap
    except ImportError:
        return None
    started = time.perf_counter()
    reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(
        vectors
    )
    labels = hdbscan.HDBSCAN(min_cluster_size=10, metric="euclidean", cluster_selection_method="eom").fit_predict(
        reduced
    )
    return np.asarray(labels), time.perf_counter() - started


def main() -> int:
    from supportbot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="feedback themes vs BANKING77 intents")
    parser.add_argument("--sizes", default="3080,30000")
    parser.add_argument("--threshold", type=float, default=settings.feedback_theme_distance_threshold)
    parser.add_argument("--min-size", type=int, default=settings.feedback_theme_min_size)
    parser.add_argument("--skip-bertopic", action="store_true")
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch.set_num_threads for every embedding (default: torch's own, one per core); on a"
        " shared, overloaded machine 1 avoids threads spinning against each other",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default: bench-results/themes.json)")
    parser.add_argument("--k", default="77", help="with --baselines-only: k values for k-means, e.g. 77,32")
    parser.add_argument("--baselines-only", action="store_true", help="TF-IDF + k-means only (no models)")
    args = parser.parse_args()
    base_texts, base_gold = load(bench_data() / "banking77" / "test.csv")
    results: list[dict[str, Any]] = []

    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "threshold": args.threshold,
        "min_size": args.min_size,
        "data": "BANKING77 test set (Casanueva et al. 2020, CC BY 4.0)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta["load_avg_start"] = [round(x, 2) for x in os.getloadavg()]
    if not args.baselines_only:
        # One-off process costs, outside every pipeline's timing: importing torch /
        # sentence-transformers / spaCy (70-244 s seen on a saturated machine) and numba's JIT.
        started = time.perf_counter()
        import sentence_transformers  # noqa: F401
        import spacy  # noqa: F401
        import torch

        meta["import_s"] = round(time.perf_counter() - started, 1)
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        meta["torch_threads"] = torch.get_num_threads()
        if not args.skip_bertopic:
            warm = warm_up_bertopic_style()
            meta["bertopic_warm_up_s"] = None if warm is None else round(warm, 1)

    def add(
        name: str, size: int, gold: list[str], labels: np.ndarray, *, estimated: bool = False, **timing: float
    ) -> None:
        row: dict[str, Any] = {
            "pipeline": name,
            "texts": size,
            **scores(gold, labels),
            **{k: round(v, 1) for k, v in timing.items()},
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        if estimated:
            row["embed_estimated"] = True
        results.append(row)
        print(json.dumps(row), flush=True)
        # Written after every row: a slow shared machine should not lose what is already measured.
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8")

    embedded: tuple[np.ndarray, float] | None = None
    for size in (int(s) for s in args.sizes.split(",")):
        repeat = -(-size // len(base_texts))
        texts, gold = (base_texts * repeat)[:size], (base_gold * repeat)[:size]
        if args.baselines_only:
            for k in (int(k) for k in args.k.split(",")):
                labels, seconds = run_tfidf_kmeans(texts, k=k)
                add(f"tfidf-kmeans-k{k}", size, gold, labels, total_s=seconds)
            continue
        labels, timing = run_ours(texts, threshold=args.threshold, min_size=args.min_size)
        add("ours", size, gold, labels, **timing)
        k_ours = max(2, len(set(labels.tolist()) - {-1}))
        # Repeated texts have identical embeddings: embed the distinct ones, tile them, and
        # scale the measured time to the number of rows (marked as an estimate in the output).
        # The base texts are the same at every size: embedded once per run, not once per size.
        if embedded is None or len(embedded[0]) != min(size, len(base_texts)):
            embedded = embed_all(texts[: len(base_texts)])
        distinct_vectors, distinct_s = embedded
        vectors = np.vstack([distinct_vectors] * repeat)[:size]
        embed_s = distinct_s * size / min(size, len(base_texts))
        if size == len(base_texts):
            # Threshold sweep on the same vectors (clustering only): how sensitive the one knob is.
            for threshold in (0.5, 0.6, 0.7, 0.8):
                labels, cluster_s = run_no_dedupe(vectors, threshold=threshold, min_size=args.min_size)
                add(f"ours-cluster-only-t{threshold}", size, gold, labels, cluster_s=cluster_s, total_s=cluster_s)
        if size > len(base_texts):
            labels, cluster_s = run_no_dedupe(vectors, threshold=args.threshold, min_size=args.min_size)
            add(
                "ours-no-dedupe",
                size,
                gold,
                labels,
                estimated=True,
                embed_s=embed_s,
                cluster_s=cluster_s,
                total_s=embed_s + cluster_s,
            )
        for name, k in (("tfidf-kmeans-k77", 77), (f"tfidf-kmeans-k{k_ours}", k_ours)):
            labels, seconds = run_tfidf_kmeans(texts, k=k)
            add(name, size, gold, labels, total_s=seconds)
        outcome = None if args.skip_bertopic else run_bertopic_style(vectors)
        if outcome is not None:
            labels, cluster_s = outcome
            add(
                "bertopic-style",
                size,
                gold,
                labels,
                estimated=size > len(base_texts),
                embed_s=embed_s,
                cluster_s=cluster_s,
                total_s=embed_s + cluster_s,
            )

    print(f"\n{'pipeline':<22}{'texts':>7}{'themes':>8}{'NMI':>7}{'ARI':>7}{'cover':>7}{'time s':>8}")
    for r in results:
        print(
            f"{r['pipeline']:<22}{r['texts']:>7}{r['themes']:>8}{r['nmi']:>7.3f}{r['ari']:>7.3f}"
            f"{r['coverage']:>7.2f}{r['total_s']:>8.1f}"
        )
    meta["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
