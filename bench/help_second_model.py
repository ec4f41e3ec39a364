"""StackFAQ with a second sentence model: alone, in bfloat16, with int8 queries, and re-ranking MiniLM's top k.

    .venvs/app/bin/python -m bench.help_second_model --model /path/to/all-mpnet-base-v2

The help centre's own ``build_index`` / ``score_articles`` with the default fusion weights, for
both StackFAQ protocols (``bench.help``), and the CPU time of encoding one question (one torch
thread) for MiniLM, the second model and the second model in bfloat16. Prints a Markdown table;
docs/BENCHMARKS.md ("Second attempt at the StackFAQ goals") holds the figures of one run.
Nothing is fitted: k is reported for 3, 5 and 10 alike. The indexes of the second model are
built in full precision; the bfloat16 and int8 rows encode only the questions differently,
since they are there to make the question fast (the index is built once, offline).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.help_metrics import rank_metrics
from bench.help_stackfaq import load_stackfaq, stackfaq_file
from supportbot.feedback.embedding import SentenceTransformerEmbedder, resolve_model_path
from supportbot.helpcentre.config import get_helpcentre_settings
from supportbot.helpcentre.index import HelpIndex, build_index
from supportbot.helpcentre.retrieval import Weights, score_articles

TOP_K = (3, 5, 10)


def scores(index: HelpIndex, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    return np.stack([score_articles(index, v, t, Weights())[0] for v, t in zip(vectors, texts, strict=True)])


def rerank(first: np.ndarray, second: np.ndarray, k: int) -> np.ndarray:
    """The second model's scores among the first stage's top ``k`` articles; the rest last."""
    out = np.full_like(second, -np.inf)
    top = np.argsort(-first, axis=1)[:, :k]
    rows = np.arange(len(first))[:, None]
    out[rows, top] = second[rows, top]
    return out


def cpu_ms(encode: Callable[[list[str]], Any], texts: Sequence[str]) -> dict[str, float]:
    encode(list(texts[:3]))
    cpu = []
    for text in texts:
        started = time.thread_time()
        encode([text])
        cpu.append(1000 * (time.thread_time() - started))
    return {"p50": round(float(np.percentile(cpu, 50)), 1), "p95": round(float(np.percentile(cpu, 95)), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the second sentence model (a folder or package)")
    args = parser.parse_args(argv)
    import torch
    from sentence_transformers import SentenceTransformer
    from torch.ao.quantization import quantize_dynamic

    torch.set_num_threads(1)
    load_start = os.getloadavg()[0]
    first = SentenceTransformerEmbedder(model=get_helpcentre_settings().embedding_model)
    second = SentenceTransformerEmbedder(model=args.model)
    path = resolve_model_path(args.model)
    bf16 = SentenceTransformer(path, device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    full = SentenceTransformer(path, device="cpu")
    int8 = quantize_dynamic(copy.deepcopy(full), {torch.nn.Linear}, dtype=torch.qint8)

    def encoder(model: Any) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: (
            model.encode(texts, convert_to_tensor=True, normalize_embeddings=True, batch_size=64).float().numpy()
        )

    articles, queries = load_stackfaq(stackfaq_file())
    slugs = {a.slug: i for i, a in enumerate(articles)}
    gold = np.array([slugs[q.slug] for q in queries])
    texts = [q.text for q in queries]
    q_first, q_second = first.encode(texts), second.encode(texts)
    q_bf16, q_int8 = encoder(bf16)(texts), encoder(int8)(texts)
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for protocol, whole in (("whole thread", True), ("body only", False)):
        s_first = scores(build_index(articles, embedder=first, include_titles=whole), q_first, texts)
        index = build_index(articles, embedder=second, include_titles=whole)
        s_second = scores(index, q_second, texts)
        systems = {
            "ours, MiniLM": s_first,
            "ours, second model": s_second,
            "ours, second model, bfloat16 queries": scores(index, q_bf16, texts),
            "ours, second model, int8 queries": scores(index, q_int8, texts),
            **{f"MiniLM top {k}, re-ranked by the second model": rerank(s_first, s_second, k) for k in TOP_K},
        }
        for name, s in systems.items():
            rows.setdefault(name, {})[protocol] = rank_metrics(s, gold)
    sample = texts[::6][:200]
    latency = {
        "ours, MiniLM": cpu_ms(first.encode, sample),
        "ours, second model": cpu_ms(second.encode, sample),
        "ours, second model, bfloat16 queries": cpu_ms(encoder(bf16), sample),
    }
    print(
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, second model {args.model}, load average "
        f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end; `python -m bench.help_second_model`.\n"
    )
    print("| StackFAQ hits@1 (MRR) | whole thread | body only | encode one question, CPU ms p50 / p95 |")
    print("|---|---|---|---|")
    for name, by_protocol in rows.items():
        cells = [f"{m['hits_at_1']:.3f} ({m['mrr']:.3f})" for m in by_protocol.values()]
        cost = latency.get(name)
        spent = f"{cost['p50']} / {cost['p95']}" if cost else "–"
        print(f"| {name} | {' | '.join(cells)} | {spent} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
