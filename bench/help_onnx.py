"""StackFAQ with the question encoded by ONNX Runtime: MiniLM and mpnet, fp32 and int8, alone and as a cascade.

    PYTHONPATH=. HF_HUB_OFFLINE=1 /tmp/onnx-venv/bin/python -m bench.help_onnx --mpnet /path/to/all-mpnet-base-v2

Runs outside the app env (``onnxruntime`` and ``onnx`` are not in it): a venv whose ``.pth`` adds
the app env's site-packages (docs/BENCHMARKS.md, "ONNX Runtime as the question encoder").

Only the *question* is encoded by ONNX Runtime; the index vectors are the cached torch fp32
index of the same model (``bench.help_cascade.cached_index``, ``$SUPPORTBOT_BENCH_CACHE``), and
every question goes one at a time through the help centre's ``score_articles`` and the excerpts of
the top three, as ``search`` answers it. Each timed pass is also the quality pass: its scores give
hits@1 and MRR, so the figures are those of the timed code path.

Variants (exported into ``$SUPPORTBOT_BENCH_CACHE/onnx``): fp32; int8 per tensor and per channel
(``supportbot.helpcentre.onnx_export.quantise``: weights of constant MatMuls only); and int8 per
channel with the feed-forward output MatMul of some encoder layers kept in fp32. Which layers is
chosen off StackFAQ, label-free: the layers whose feed-forward output's input has the widest range
(what one dynamic int8 scale must cover) over the demo help centre's non-test questions
(``bench.help_cascade.demo_questions``, torch fp32); the widest 2 and the widest 4 are both reported. One ONNX Runtime
thread unless marked; two threads and basic graph optimisation are timed on every 4th question.

The cascade is ``bench.help_cascade``'s (MiniLM's fused margin gates mpnet, which re-orders MiniLM's
top k), with both stages on ONNX and its gate calibrated the same way (the budget quantile of the
first stage's margins over the demo help centre's questions; the online gate beside it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.help_cascade import (
    CACHE,
    OnlineGate,
    cached_index,
    calibration,
    demo_questions,
    encode_each,
    excerpts,
    margin,
    rerank,
    timed,
)
from bench.help_metrics import rank_metrics, started_meta
from bench.help_stackfaq import load_stackfaq, stackfaq_file
from supportbot.feedback.embedding import SentenceTransformerEmbedder, resolve_model_path
from supportbot.helpcentre.articles import Article
from supportbot.helpcentre.config import get_helpcentre_settings
from supportbot.helpcentre.index import HelpIndex
from supportbot.helpcentre.onnx_encoder import OnnxEmbedder
from supportbot.helpcentre.onnx_export import export, variant_name
from supportbot.helpcentre.retrieval import score_articles

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = (("whole thread", True), ("body only", False))


def onnx_file(model: str, **variant: Any) -> Path:
    """The model's ONNX file of that variant, exported (from the cached fp32 file) when missing."""
    slug = hashlib.sha256(model.encode()).hexdigest()[:10]
    fp32 = CACHE / "onnx" / f"{slug}-fp32.onnx"
    if not fp32.exists():
        export(model, fp32)
    if not variant.get("int8"):
        return fp32
    path = CACHE / "onnx" / f"{slug}-{variant_name(**variant)}.onnx"
    if not path.exists():
        export(model, path, fp32_source=fp32, **variant)
    return path


def rank_ffn_layers(model: str) -> list[tuple[int, float]]:
    """Encoder layers by the range of their feed-forward output's input (after GELU), widest first.

    Dynamic int8 quantises that input with one scale per call, (max - min) / 255, so the widest
    ranges lose the most. Measured in torch fp32 over the demo help centre's questions (no
    StackFAQ, no labels): the mean over questions of each layer's range over the real tokens."""
    import torch
    from sentence_transformers import SentenceTransformer

    texts = [q for qs in demo_questions().values() for q in qs]
    st: Any = SentenceTransformer(resolve_model_path(model), device="cpu")
    layers: Any = st[0].auto_model.encoder.layer
    ranges: dict[int, list[float]] = {i: [] for i in range(len(layers))}
    mask: list[Any] = []

    def hook(layer: int) -> Callable[..., None]:
        def record(_module: Any, inputs: tuple[Any, ...]) -> None:
            real = inputs[0][0][mask[0][0].bool()]
            ranges[layer].append(float(real.max() - real.min()))

        return record

    handles = [layer.output.dense.register_forward_pre_hook(hook(i)) for i, layer in enumerate(layers)]
    with torch.no_grad():
        for text in texts:
            tokens = st.tokenize([text])
            mask[:] = [tokens["attention_mask"]]
            st(tokens)
    for handle in handles:
        handle.remove()
    return sorted(((i, round(float(np.mean(r)), 1)) for i, r in ranges.items()), key=lambda g: -g[1])


@dataclass
class Data:
    articles: list[Article]
    texts: list[str]
    gold: np.ndarray
    indexes: dict[tuple[str, str], HelpIndex]
    """(model, protocol) → the torch fp32 index."""
    torch_vectors: dict[str, np.ndarray]


def answer_with(index: HelpIndex, encode: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
    """Encode, score every article, excerpts of the top three: the help centre's answer, as scores."""

    def answer(text: str) -> np.ndarray:
        vector = encode(text)
        return excerpts(index, score_articles(index, vector, text)[0], vector, text)

    return answer


def run_alone(data: Data, model: str, embedder: OnnxEmbedder) -> dict[str, Any]:
    """hits@1, MRR and latency of one encoder for both protocols, from the same timed passes."""
    out: dict[str, Any] = {}
    vectors: list[np.ndarray] = []

    def encode(text: str) -> np.ndarray:
        vectors.append(embedder.encode([text])[0])
        return vectors[-1]

    for protocol, _ in PROTOCOLS:
        vectors.clear()
        fused, stats = timed(answer_with(data.indexes[(model, protocol)], encode), data.texts)
        out[protocol] = {**rank_metrics(np.stack(fused), data.gold), "latency": stats, "scores": np.stack(fused)}
    cosine = np.sum(np.stack(vectors[1:]) * data.torch_vectors[model], axis=1)
    out["cosine_to_torch"] = {"min": round(float(cosine.min()), 4), "mean": round(float(cosine.mean()), 4)}
    return out


def timing_only(data: Data, model: str, embedder: OnnxEmbedder) -> dict[str, float]:
    """Latency alone, every 4th question, whole thread."""
    index = data.indexes[(model, "whole thread")]
    return timed(answer_with(index, lambda t: embedder.encode([t])[0]), data.texts[::4])[1]


def cascade(
    data: Data,
    first: tuple[str, OnnxEmbedder],
    second: tuple[str, OnnxEmbedder],
    scores: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    threshold: float,
    budget: float,
    k: int,
) -> dict[str, Any]:
    """Quality of both gates from the alone runs' scores, and the timed real path of each gate."""
    out: dict[str, Any] = {}
    for protocol, _ in PROTOCOLS:
        one, two = data.indexes[(first[0], protocol)], data.indexes[(second[0], protocol)]
        s_first, s_second = scores[0][protocol], scores[1][protocol]
        margins = np.array([margin(s) for s in s_first])
        online = OnlineGate(budget, threshold)
        for gate_name, flags in (
            ("calibrated", margins < threshold),
            ("online", np.array([online(m) for m in margins])),
        ):
            mixed = np.stack(
                [rerank(f, s, k) if flag else f for f, s, flag in zip(s_first, s_second, flags, strict=True)]
            )
            gate: Callable[[float], bool] = (
                (lambda m: m < threshold) if gate_name == "calibrated" else OnlineGate(budget, threshold)
            )
            runs, stats = timed(answer_cascade(one, two, first[1], second[1], gate, k), data.texts)
            stats["hits_at_1_of_timed_run"] = round(float(np.mean(np.argmax(np.stack(runs), axis=1) == data.gold)), 4)
            out[f"{protocol}, {gate_name}"] = {
                **rank_metrics(mixed, data.gold),
                "escalated": round(float(flags.mean()), 4),
                "latency": stats,
            }
    return out


def answer_cascade(
    one: HelpIndex,
    two: HelpIndex,
    first: OnnxEmbedder,
    second: OnnxEmbedder,
    escalate: Callable[[float], bool],
    k: int,
) -> Callable[[str], np.ndarray]:
    def answer(text: str) -> np.ndarray:
        vector = first.encode([text])[0]
        fused = score_articles(one, vector, text)[0]
        if escalate(margin(fused)):
            fused = rerank(fused, score_articles(two, second.encode([text])[0], text)[0], k)
        return excerpts(one, fused, vector, text)

    return answer


def load_data(models: Sequence[str], limit: int | None) -> Data:
    articles, queries = load_stackfaq(stackfaq_file())
    queries = queries[:limit]
    slugs = [a.slug for a in articles]
    texts = [q.text for q in queries]
    torch_embedders = {m: SentenceTransformerEmbedder(model=m) for m in models}
    indexes = {
        (m, protocol): cached_index(
            articles, e, include_titles=whole, name="stackfaq-whole" if whole else "stackfaq-body"
        )
        for m, e in torch_embedders.items()
        for protocol, whole in PROTOCOLS
    }
    vectors = {m: encode_each(e, texts) for m, e in torch_embedders.items()}
    return Data(articles, texts, np.array([slugs.index(q.slug) for q in queries]), indexes, vectors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minilm", default=get_helpcentre_settings().embedding_model, help="the first model")
    parser.add_argument("--mpnet", required=True, help="the second model (a folder)")
    parser.add_argument("--budget", type=float, default=0.04, help="the cascade's share of questions escalated")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, help="only the first N queries (a quick check of the script)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "help_onnx.json")
    parser.add_argument("--blas-threads", type=int, help="limit numpy's BLAS to N threads (threadpoolctl)")
    parser.add_argument("--few", action="store_true", help="only fp32 and int8 per channel, no timing-only rows")
    args = parser.parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    import onnxruntime
    import torch

    torch.set_num_threads(1)
    meta: dict[str, Any] = started_meta(
        onnxruntime=onnxruntime.__version__,
        torch=torch.__version__,
        blas_threads=args.blas_threads or "numpy's default",
    )
    models = {"MiniLM": args.minilm, "mpnet": args.mpnet}
    data = load_data(list(models.values()), args.limit)
    ranking = {name: rank_ffn_layers(model) for name, model in models.items()}
    meta["ffn_layer_ranking"] = ranking
    results: dict[str, Any] = {"meta": meta, "alone": {}, "timing": {}}
    embedders: dict[str, tuple[str, OnnxEmbedder]] = {}
    for name, model in models.items():
        top = [layer for layer, _ in ranking[name]]
        variants: dict[str, dict[str, Any]] = {
            "fp32": {},
            "int8 per tensor": {"int8": True, "per_channel": False},
            "int8 per channel": {"int8": True},
            f"int8, fp32 FFN out in layers {sorted(top[:2])}": {
                "int8": True,
                "fp32_ffn_layers": tuple(sorted(top[:2])),
            },
            f"int8, fp32 FFN out in layers {sorted(top[:4])}": {
                "int8": True,
                "fp32_ffn_layers": tuple(sorted(top[:4])),
            },
        }
        if args.few:
            variants = {k: v for k, v in variants.items() if k in ("fp32", "int8 per channel")}
        for label, variant in variants.items():
            path = onnx_file(model, **variant)
            embedders[f"{name} {label}"] = (model, OnnxEmbedder(model=model, onnx_path=path))
            results["alone"][f"{name} {label}"] = run_alone(data, model, embedders[f"{name} {label}"][1])
            print(f"{name} {label}: {summary(results['alone'][f'{name} {label}'])}", flush=True)
            if not args.few and (label == "fp32" or label.endswith(f"{sorted(top[:4])}")):
                for extra, kwargs in (("2 threads", {"threads": 2}), ("basic graph optimisation", {"optimise": False})):
                    results["timing"][f"{name} {label}, {extra}"] = timing_only(
                        data, model, OnnxEmbedder(model=model, onnx_path=path, **kwargs)
                    )
    gate = calibration(embedders["MiniLM fp32"][1], args.budget)
    results["gate"] = gate
    results["cascade"] = {}
    widest4 = f"mpnet int8, fp32 FFN out in layers {sorted(layer for layer, _ in ranking['mpnet'][:4])}"
    for second in ("mpnet fp32", "mpnet int8 per channel", widest4):
        if second not in embedders:
            continue
        first_scores, second_scores = (
            {p: results["alone"][n][p]["scores"] for p, _ in PROTOCOLS} for n in ("MiniLM fp32", second)
        )
        results["cascade"][f"MiniLM fp32 → {second}"] = cascade(
            data,
            embedders["MiniLM fp32"],
            embedders[second],
            (first_scores, second_scores),
            gate["threshold"],
            args.budget,
            args.k,
        )
    meta["load_end"] = round(os.getloadavg()[0], 1)
    for row in results["alone"].values():
        for protocol, _ in PROTOCOLS:
            row[protocol].pop("scores")
    print(report(results))
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


def summary(row: dict[str, Any]) -> str:
    w, b = row["whole thread"], row["body only"]
    return (
        f"whole {w['hits_at_1']:.4f} ({w['mrr']:.3f}) body {b['hits_at_1']:.4f} ({b['mrr']:.3f})"
        f" cos {row['cosine_to_torch']}"
        f" cpu p50/p95 {w['latency']['cpu_p50']}/{w['latency']['cpu_p95']} wall p95 {w['latency']['wall_p95']}"
    )


def report(results: dict[str, Any]) -> str:
    """The Markdown tables of docs/BENCHMARKS.md ("ONNX Runtime as the question encoder")."""
    meta = results["meta"]
    lines = [
        f"Run {meta['date']} on {meta['machine']}, load average {meta['load_start']} at start, {meta['load_end']} "
        f"at end; onnxruntime {meta['onnxruntime']}, torch {meta['torch']} (index vectors); BLAS threads "
        f"{meta.get('blas_threads', 'default')}. FFN layer ranking "
        f"(range of the FFN output's input on the demo questions): {meta['ffn_layer_ranking']}.",
        "",
        "| question encoder (ONNX Runtime, 1 thread) | cosine to torch min / mean | whole thread hits@1 (MRR)"
        " | body only hits@1 (MRR) | CPU ms p50 / p95 / p99 | process CPU p95 | wall ms p50 / p95 / p99"
        " | body-only pass: CPU p95, wall p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["alone"].items():
        w, b = row["whole thread"], row["body only"]
        lines.append(
            f"| {name} | {row['cosine_to_torch']['min']:.4f} / {row['cosine_to_torch']['mean']:.4f} "
            f"| {w['hits_at_1']:.3f} ({w['mrr']:.3f}) | {b['hits_at_1']:.3f} ({b['mrr']:.3f}) "
            f"| {latency_cells(w['latency'], 'cpu')} | {w['latency']['process_p95']} "
            f"| {latency_cells(w['latency'], 'wall')} | {b['latency']['cpu_p95']}, {b['latency']['wall_p95']} |"
        )
    lines += ["", "| timing only (whole thread, every 4th question) | n | thread CPU ms | process CPU ms | wall ms |"]
    lines += ["|---|---|---|---|---|"]
    for name, lat in results["timing"].items():
        cells = " | ".join(latency_cells(lat, kind) for kind in ("cpu", "process", "wall"))
        lines.append(f"| {name} | {lat['n']} | {cells} |")
    gate = results["gate"]
    lines += [
        "",
        f"Cascade gate: threshold {gate['threshold']:.3f} (the budget quantile of the first stage's margins over "
        f"{gate['questions']} demo questions).",
        "",
        "| cascade | protocol, gate | hits@1 (MRR) | escalated | timed hits@1 | CPU ms p50 / p95 / p99 | wall ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in results["cascade"].items():
        for key, row in rows.items():
            lat = row["latency"]
            lines.append(
                f"| {name} | {key} | {row['hits_at_1']:.3f} ({row['mrr']:.3f}) | {row['escalated']:.1%} "
                f"| {lat['hits_at_1_of_timed_run']:.3f} | {latency_cells(lat, 'cpu')} | {latency_cells(lat, 'wall')} |"
            )
    return "\n".join(lines)


def latency_cells(lat: dict[str, float], kind: str) -> str:
    return " / ".join(str(lat[f"{kind}_p{q}"]) for q in (50, 95, 99))


if __name__ == "__main__":
    raise SystemExit(main())
