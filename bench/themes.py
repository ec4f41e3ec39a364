"""Benchmark: feedback themes against gold intents (not a test; ``make bench-themes``; results in docs/BENCHMARKS.md).

    .venvs/app/bin/python -m bench.themes --skip-bertopic    # app env: ours and the baselines
    /tmp/bench-umap-venv/bin/python -m bench.themes          # the same, plus the BERTopic-style pipeline

Data (texts as stand-in feedback, gold intents hidden from every pipeline):
- ``banking77-test``: the BANKING77 test set, 3,080 customer-service queries, 77 intents
  (Casanueva et al. 2020, "Efficient Intent Detection with Dual Sentence Encoders",
  github.com/PolyAI-LDN/task-specific-datasets, CC BY 4.0).
- ``clinc150-all``: every CLINC150 text, 23,700 = 150 intents × 150 + 1,200 out-of-scope,
  all splits of ``data_full.json`` (Larson et al. 2019, "An Evaluation Dataset for Intent
  Classification and Out-of-Scope Prediction", github.com/clinc/oos-eval, CC BY 3.0); the
  out-of-scope texts count as one more gold class. Nothing of CLINC150 was used to choose
  anything; the settings come from BANKING77's train split (``bench.theme_threshold``).

Pipelines, on the same texts in one run:
- ``ours``: the production path, end to end. Texts are written as feedback rows into a fresh
  SQLite file and ``rebuild_themes`` runs with the real models (embedding, clustering, spaCy
  labels, storing); labels are read back from the database. Timed without the one-off model
  load (``model_load_s`` in the JSON), with its steps (``steps``, ``cpu_steps``), wall and CPU
  seconds; then rebuilt once more as the scheduler's next rebuild would be, every vector
  already in its ``CachingEmbedder`` (``cached_rebuild``).
- ``previous-production``: what ran before (agglomerative clustering, average linkage, cosine
  distance threshold 0.7, min theme size 3; above 4,000 texts MiniBatchKMeans condensed them
  into 4,000 micro-clusters first), on the same vectors; ``previous-...-t0.45``: the same with
  the threshold the old train-split sweep picked.
- ``minilm-kmeans-k{true}``: the same vectors + k-means *told* the true number of clusters,
  as the published methods below are.
- ``tfidf-kmeans-k{true}`` / ``tfidf-kmeans-k{ours}``: TF-IDF (1-2 grams, English stop words)
  + k-means with the true k and with as many clusters as ours found.
- ``bertopic-style``: the same MiniLM vectors + UMAP (5 d, 15 neighbours, cosine) + HDBSCAN
  (min cluster size 10), BERTopic's defaults; only where umap-learn and hdbscan import.

Every pipeline but ``ours`` reuses ``ours``' embeddings (the production embedder's output,
recorded as it runs), so its time is the clustering only. Metrics: NMI and ARI against the
gold intents over all texts, with texts left unassigned (our noise, HDBSCAN's -1) counted as
one extra cluster; ``coverage`` is the share of texts given a theme.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from bench.results import bench_data

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "themes.json"
PUBLISHED = {
    "banking77": "USNID (Zhang et al. 2023, fully unsupervised, told the number of clusters): NMI 0.753, ARI 0.433",
    "clinc150": "USNID: NMI 0.910, ARI 0.685 (150 intents, no out-of-scope class)",
}
GOALS = {
    "banking77-test": {"nmi": 0.80, "ari": 0.45},
    "clinc150-all": {"nmi": 0.92, "wall_s": 60.0},
}


def load(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def load_clinc(path: Path) -> tuple[list[str], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    texts: list[str] = []
    gold: list[str] = []
    for split in ("train", "val", "test", "oos_train", "oos_val", "oos_test"):
        for text, intent in data[split]:
            texts.append(text)
            gold.append(intent)
    return texts, gold


def scores(gold: Sequence[str], labels: np.ndarray) -> dict[str, float]:
    return {
        "nmi": round(float(normalized_mutual_info_score(gold, labels)), 4),
        "ari": round(float(adjusted_rand_score(gold, labels)), 4),
        "coverage": round(float((labels >= 0).mean()), 4),
        "themes": len(set(labels.tolist()) - {-1}),
    }


def legacy_agglomerative(vectors: np.ndarray, *, threshold: float, min_size: int, max_exact: int = 4000) -> np.ndarray:
    """The clustering production used before (supportbot/feedback/clustering.py until this change)."""

    def agglomerate(points: np.ndarray) -> np.ndarray:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
        )
        return np.asarray(model.fit_predict(points))

    if len(vectors) <= max_exact:
        raw = agglomerate(vectors)
    else:
        micro = MiniBatchKMeans(n_clusters=max_exact, random_state=0, batch_size=4096, n_init=1)
        micro_labels = micro.fit_predict(vectors)
        centres = micro.cluster_centers_.astype(np.float32)
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        raw = agglomerate(centres)[micro_labels]
    ids, counts = np.unique(raw, return_counts=True)
    kept = {int(i) for i, c in zip(ids, counts, strict=True) if c >= min_size}
    return np.array([label if label in kept else -1 for label in raw.tolist()])


class RecordingEmbedder:
    """The production embedder, keeping what it returned so the other pipelines reuse the same vectors."""

    def __init__(self) -> None:
        from supportbot.feedback.cli import theme_embedder
        from supportbot.settings import get_settings

        self._inner = theme_embedder(get_settings())
        self.name = self._inner.name
        self.seen: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        vectors = self._inner.encode(texts, progress=progress)
        self.seen.update(zip(texts, vectors, strict=True))
        return vectors


def run_ours(texts: list[str], embedder: RecordingEmbedder) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Labels per text read back from the database, the vector per text, and timings."""
    from sqlalchemy import select

    from supportbot.feedback.cli import theme_params
    from supportbot.feedback.embedding import CachingEmbedder, SpacyPhraser
    from supportbot.feedback.themes import list_themes, rebuild_themes
    from supportbot.settings import get_settings
    from supportbot.store.db import make_engine, session_factory
    from supportbot.store.feedback_models import Feedback
    from supportbot.store.migrate import upgrade_database

    settings = get_settings()
    phraser = SpacyPhraser(model=settings.feedback_spacy_model)
    phraser.phrases(["warm up the model"])  # model load is a one-off per process, not per rebuild
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
                    {"conversation_id": f"b{i}", "channel": "bench", "kind": "text", "text": t,
                     "text_redacted": t, "prompted_by": "volunteered", "created_at": now}
                    for i, t in enumerate(texts)
                ],
            )  # fmt: skip
        # As the scheduler holds it; empty at first, so the timed rebuild embeds every text.
        cached = CachingEmbedder(embedder, max_texts=len(texts))
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        with sessions.begin() as session:
            report = rebuild_themes(
                session=session, embedder=cached, phraser=phraser, params=theme_params(settings), progress=True
            )
        wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        with sessions() as session:
            rows = session.execute(select(Feedback.id, Feedback.theme_id).order_by(Feedback.id)).all()
            examples = [
                {"label": t.label, "size": t.size, "quotes": t.quotes[:2]}
                for t in list_themes(session=session, limit=12)
            ]
        # The scheduler's next rebuild in the same process: every vector already cached.
        again, again_cpu = time.perf_counter(), time.process_time()
        with sessions.begin() as session:
            second = rebuild_themes(session=session, embedder=cached, phraser=phraser, params=theme_params(settings))
        again_s, again_cpu_s = time.perf_counter() - again, time.process_time() - again_cpu
        engine.dispose()
    labels = np.array([-1 if theme is None else theme for _, theme in rows])
    first: dict[str, str] = {}
    for text in texts:
        first.setdefault(re.sub(r"\s+", " ", text.strip().lower()), text)
    vectors = np.vstack([embedder.seen[first[re.sub(r"\s+", " ", t.strip().lower())]] for t in texts])
    timing = {
        "wall_s": wall,
        "cpu_s": cpu_s,
        "load_avg_1m_start": round(load, 2),
        "steps": report.steps,
        "cpu_steps": report.cpu_steps,
        "cached_rebuild": {"wall_s": round(again_s, 1), "cpu_s": round(again_cpu_s, 1), "cpu_steps": second.cpu_steps},
        "distinct_texts": report.distinct_texts,
        "examples": examples,
    }
    return labels, vectors, timing


def run_tfidf_kmeans(texts: list[str], *, k: int) -> np.ndarray:
    matrix = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, min_df=2).fit_transform(texts)
    return np.asarray(KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(matrix))


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


def run_bertopic_style(vectors: np.ndarray) -> np.ndarray:
    import hdbscan
    import umap

    reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(
        vectors
    )
    return np.asarray(
        hdbscan.HDBSCAN(min_cluster_size=10, metric="euclidean", cluster_selection_method="eom").fit_predict(reduced)
    )


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, float]]:
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "load_avg_1m_start": load,
    }


def datasets(names: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
    root = bench_data()
    found: dict[str, tuple[list[str], list[str]]] = {}
    for name in names:
        if name == "banking77-test":
            found[name] = load(root / "banking77" / "test.csv")
        elif name == "clinc150-all":
            found[name] = load_clinc(root / "clinc150" / "data_full.json")
        else:
            raise SystemExit(f"unknown data set {name!r}: banking77-test, clinc150-all")
    return found


def goal_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for dataset, goal in GOALS.items():
        ours = next((r for r in results if r["dataset"] == dataset and r["pipeline"] == "ours"), None)
        if ours is None:
            continue
        for metric, target in goal.items():
            value = ours[metric]
            met = value <= target if metric == "wall_s" else value >= target
            lines.append(f"{dataset}: ours {metric} {value} vs goal {target}: {'met' if met else 'NOT met'}")
        other = next((r for r in results if r["dataset"] == dataset and r["pipeline"] == "bertopic-style"), None)
        if other is not None:
            beats = ours["nmi"] > other["nmi"] and ours["ari"] > other["ari"]
            lines.append(
                f"{dataset}: ours NMI/ARI {ours['nmi']}/{ours['ari']} vs bertopic-style {other['nmi']}/{other['ari']}:"
                f" {'beats it on both' if beats else 'does NOT beat it on both'}"
            )
    return lines


def main() -> int:
    from supportbot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="feedback themes vs gold intents: BANKING77 test, all of CLINC150")
    parser.add_argument("--datasets", default="banking77-test,clinc150-all")
    parser.add_argument("--skip-bertopic", action="store_true")
    parser.add_argument("--only-ours", action="store_true", help="the production path only, no baselines")
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch.set_num_threads for the embedding (default: torch's own, one per core); on a"
        " shared, overloaded machine 1 avoids threads spinning against each other",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default: bench-results/themes.json)")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.themes "
        + " ".join(
            a
            for a in (
                f"--datasets {args.datasets}",
                "--skip-bertopic" * args.skip_bertopic,
                "--only-ours" * args.only_ours,
                f"--torch-threads {args.torch_threads}" * bool(args.torch_threads),
            )
            if a
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "settings": {
            "neighbours": settings.feedback_theme_neighbours,
            "resolution": settings.feedback_theme_resolution,
            "merge_distance": settings.feedback_theme_merge_distance,
            "min_size": settings.feedback_theme_min_size,
            "embedding_model": settings.feedback_embedding_model,
        },
        "published": PUBLISHED,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import spacy  # noqa: F401
    import torch

    meta["import_s"] = round(time.perf_counter() - started, 1)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    meta["torch_threads"] = torch.get_num_threads()
    embedder = RecordingEmbedder()
    started = time.perf_counter()
    embedder.encode(["warm up the model"])
    meta["model_load_s"] = round(time.perf_counter() - started, 1)
    if not args.skip_bertopic and not args.only_ours:
        warm = warm_up_bertopic_style()
        meta["bertopic_warm_up_s"] = None if warm is None else round(warm, 1)

    def write() -> None:
        # After every row: a slow shared machine should not lose what is already measured.
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8")

    def add(dataset: str, name: str, gold: list[str], labels: np.ndarray, timing: dict[str, Any]) -> None:
        row: dict[str, Any] = {"dataset": dataset, "pipeline": name, "texts": len(gold), **scores(gold, labels)}
        row.update({k: round(v, 1) if isinstance(v, float) else v for k, v in timing.items()})
        row["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
        write()

    for dataset, (texts, gold) in datasets(args.datasets.split(",")).items():
        true_k = len(set(gold))
        labels, vectors, timing = run_ours(texts, embedder)
        add(dataset, "ours", gold, labels, timing)
        if args.only_ours:
            continue
        k_ours = max(2, len(set(labels.tolist()) - {-1}))
        for threshold, name in ((0.7, "previous-production"), (0.45, "previous-production-t0.45")):
            labels, timing = timed(legacy_agglomerative, vectors, threshold=threshold, min_size=3)
            add(dataset, name, gold, labels, timing)
        labels, timing = timed(KMeans(true_k, n_init=3, random_state=0).fit_predict, vectors)
        add(dataset, f"minilm-kmeans-k{true_k}", gold, labels, timing)
        for k in dict.fromkeys((true_k, k_ours)):
            labels, timing = timed(run_tfidf_kmeans, texts, k=k)
            add(dataset, f"tfidf-kmeans-k{k}", gold, labels, timing)
        if not args.skip_bertopic and meta.get("bertopic_warm_up_s") is not None:
            labels, timing = timed(run_bertopic_style, vectors)
            add(dataset, "bertopic-style", gold, labels, timing)

    meta["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["goals"] = goal_lines(results)
    write()
    header = ("texts", 7), ("themes", 8), ("NMI", 7), ("ARI", 7), ("cover", 7), ("wall s", 8), ("CPU s", 8)
    print(f"\n{'data set':<16}{'pipeline':<28}" + "".join(f"{name:>{width}}" for name, width in header))
    for r in results:
        print(
            f"{r['dataset']:<16}{r['pipeline']:<28}{r['texts']:>7}{r['themes']:>8}{r['nmi']:>7.3f}{r['ari']:>7.3f}"
            f"{r['coverage']:>7.2f}{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}"
        )
    print()
    for line in meta["goals"]:
        print(line)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
