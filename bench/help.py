"""Help-centre retrieval on public data (StackFAQ) and on the demo help centre's held-out questions.

    make bench-help                                   # prints the figures and writes docs/BENCHMARKS.md
    .venvs/app/bin/python -m bench.help --model /path/to/other-sentence-model --no-doc

StackFAQ, two protocols (``bench.help_stackfaq``), every query one at a time through the
help centre's own code (``build_index`` → ``search``), against in the same run: BM25 alone,
TF-IDF alone and plain MiniLM cosine (whole thread: over the titles; body only: one vector
per thread's answers). Then latency per question (encode + score, one question at a time),
index build time and memory, and the demo help centre's dev and held-out questions
(``tests/helpcentre/*.yml``): the threshold is chosen on dev and only reported on held-out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

from bench.help_metrics import Judged, answer_metrics, rank_metrics
from bench.help_stackfaq import load_stackfaq, stackfaq_file
from supportbot.feedback.embedding import SentenceTransformerEmbedder
from supportbot.helpcentre.answers import is_confident, lead_of
from supportbot.helpcentre.articles import Article
from supportbot.helpcentre.config import get_helpcentre_settings
from supportbot.helpcentre.index import HelpIndex, build_index, reindex
from supportbot.helpcentre.lexical import Bm25
from supportbot.helpcentre.retrieval import Retriever, Weights, score_articles, search

ROOT = Path(__file__).resolve().parent.parent


def ours(index: HelpIndex, vectors: np.ndarray, texts: list[str], weights: Weights) -> np.ndarray:
    return np.stack([score_articles(index, v, t, weights)[0] for v, t in zip(vectors, texts, strict=True)])


def baselines(articles: list[Article], texts: list[str], qvec: np.ndarray, embedder: Any, whole: bool) -> dict:
    docs = [f"{a.title}\n{a.body}" if whole else a.body for a in articles]
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit(docs)
    tf = (tfidf.transform(texts) @ tfidf.transform(docs).T).toarray()
    bm = Bm25.fit(docs)
    bm25 = np.stack([bm.scores(t) for t in texts]).astype(np.float64)
    dense_docs = embedder.encode([a.title for a in articles] if whole else docs)
    cos = (qvec @ dense_docs.T).astype(np.float64)
    out = {"tfidf": tf, "bm25": bm25, "minilm_cosine": cos}
    if not whole:
        out["minilm_tfidf_average"] = (cos + tf) / 2
    return out


def stackfaq(embedder: Any, weights: Weights) -> dict[str, Any]:
    articles, queries = load_stackfaq(stackfaq_file())
    slugs = {a.slug: i for i, a in enumerate(articles)}
    gold = np.array([slugs[q.slug] for q in queries])
    texts = [q.text for q in queries]
    qvec = embedder.encode(texts)
    results: dict[str, Any] = {"threads": len(articles), "queries": len(queries)}
    for protocol, whole in (("whole_thread", True), ("body_only", False)):
        started = time.perf_counter()
        index = build_index(articles, embedder=embedder, include_titles=whole)
        build_seconds = time.perf_counter() - started
        systems = {"ours": ours(index, qvec, texts, weights), **baselines(articles, texts, qvec, embedder, whole)}
        results[protocol] = {name: rank_metrics(s, gold) for name, s in systems.items()}
        results[protocol]["ours"]["build_seconds"] = round(build_seconds, 1)
        results[protocol]["ours"]["passages"] = len(index.passages)
        results[protocol]["ours"]["index_mb"] = round(index_bytes(index) / 1e6, 2)
        if protocol == "whole_thread":
            results["latency_ms"] = latency(index, embedder, texts[:300], weights)
    return results


def index_bytes(index: HelpIndex) -> int:
    arrays = (index.passage_vectors, index.excerpt_vectors, index.article_vectors, index.bm25.weights.data)
    return sum(a.nbytes for a in arrays) + index.bm25.weights.indices.nbytes + index.bm25.weights.indptr.nbytes


def latency(index: HelpIndex, embedder: Any, texts: list[str], weights: Weights) -> dict[str, float]:
    """One question at a time, as the action server answers: encode, then score every article.

    Wall time and this thread's CPU time: on a shared machine the wall time also counts the
    time other processes hold the cores; the CPU time is what one answer costs."""
    search(index, embedder.encode([texts[0]])[0], texts[0], weights=weights)  # warm
    wall, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        search(index, embedder.encode([text])[0], text, k=3, weights=weights)
        wall.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.thread_time() - started_cpu))
    return {
        "p50": round(float(np.percentile(wall, 50)), 1),
        "p95": round(float(np.percentile(wall, 95)), 1),
        "max": round(float(np.max(wall)), 1),
        "cpu_p50": round(float(np.percentile(cpu, 50)), 1),
        "cpu_p95": round(float(np.percentile(cpu, 95)), 1),
        "n": len(wall),
    }


def judge(retriever: Retriever, path: Path, threshold: float, lead: float) -> list[Judged]:
    questions = yaml.safe_load(path.read_text())["questions"]
    judged = []
    for item in questions:
        hits, _ = retriever.search(item["q"], k=3)
        judged.append(
            Judged(
                question=item["q"],
                expected=item["article"],
                top=hits[0].article.slug,
                answered=is_confident(hits, threshold=threshold, lead=lead),
                cosine=hits[0].cosine,
                lead=lead_of(hits),
            )
        )
    return judged


WRONG_ANSWER_COST = 2.0


def utility(judged: list[Judged]) -> float:
    """+1 for an answer from the right article, -2 for an answer from a wrong one (or to a question
    the help centre cannot answer), 0 for "not sure". A wrong answer misleads; "not sure" still
    links the two closest articles (often including the right one) and offers a person."""
    gains = [(1.0 if j.top == j.expected else -WRONG_ANSWER_COST) for j in judged if j.answered]
    return sum(gains) / max(1, len(judged))


LEADS = (0.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
"""0 = no lead rule: the threshold alone."""


def choose_threshold(judged: list[Judged]) -> tuple[float, float]:
    """(threshold, lead) with the best utility on the dev set (ties: the lower threshold, no lead rule)."""
    best, best_value = (0.0, 0.0), -2.0
    for lead in LEADS:
        for threshold in np.arange(0.20, 0.80, 0.01):
            rejudged = [
                Judged(j.question, j.expected, j.top, j.cosine >= threshold or bool(lead and j.lead >= lead), j.cosine)
                for j in judged
            ]
            value = utility(rejudged)
            if value > best_value + 1e-9:
                best, best_value = (float(round(threshold, 2)), lead), value
    return best


def helpcentre(embedder: Any, weights: Weights) -> dict[str, Any]:
    settings = get_helpcentre_settings()
    with tempfile.TemporaryDirectory() as tmp:
        report = reindex(content_dir=settings.content_dir, index_path=Path(tmp) / "index.npz", embedder=embedder)
        retriever = Retriever(index_path=report.path, embedder=embedder, weights=weights)
        rule = (settings.answer_threshold, settings.answer_lead)
        dev = judge(retriever, ROOT / "tests" / "helpcentre" / "dev.yml", *rule)
        chosen = choose_threshold(dev)
        heldout_at_setting = judge(retriever, ROOT / "tests" / "helpcentre" / "heldout.yml", *rule)
        misses = [j for j in heldout_at_setting if j.top != j.expected and j.expected != "none"]
    return {
        "articles": report.articles,
        "passages": report.passages,
        "build_seconds": round(report.seconds, 1),
        "threshold_setting": settings.answer_threshold,
        "lead_setting": settings.answer_lead,
        "threshold_chosen_on_dev": chosen[0],
        "lead_chosen_on_dev": chosen[1],
        "dev": answer_metrics(dev),
        "heldout": answer_metrics(heldout_at_setting),
        "heldout_misses": [f"{j.question} -> {j.top} (expected {j.expected})" for j in misses],
    }


def main(argv: list[str] | None = None) -> int:
    from bench.help_report import markdown, write_doc

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="embedding model (default: the help centre's setting)")
    parser.add_argument("--skip-stackfaq", action="store_true")
    parser.add_argument("--skip-helpcentre", action="store_true")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--no-doc", action="store_true", help="print only (for trying other models)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "help.json")
    parser.add_argument("--torch-threads", type=int, default=1, help="as the action server answers one question")
    args = parser.parse_args(argv)
    extra = list(sys.argv[1:] if argv is None else argv)
    import torch

    torch.set_num_threads(args.torch_threads)
    model = args.model or get_helpcentre_settings().embedding_model
    embedder = SentenceTransformerEmbedder(model=model)
    weights = Weights()
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_start": round(os.getloadavg()[0], 2),
            "command": " ".join(["make bench-help", *(["BENCH_HELP_ARGS=" + repr(" ".join(extra))] if extra else [])]),
            "model": model,
            "weights": weights.__dict__,
            "torch_threads": args.torch_threads,
        }
    }
    if not args.skip_stackfaq:
        results["stackfaq"] = stackfaq(embedder, weights)
    elif args.out.exists():  # keep the last StackFAQ figures (with their own date) in the document
        previous = json.loads(args.out.read_text())
        if "stackfaq" in previous:
            results["stackfaq"] = previous["stackfaq"]
            results["meta"]["stackfaq_meta"] = previous.get("meta", {}).get("stackfaq_meta", previous.get("meta"))
    if not args.skip_helpcentre:
        results["helpcentre"] = helpcentre(embedder, weights)
    results["meta"]["load_end"] = round(os.getloadavg()[0], 2)
    results["meta"]["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    text = markdown(results)
    print(text)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    if not args.no_doc and not args.model:
        write_doc(args.doc, text)
        print(f"\nwritten into {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
