"""Printing the help-centre benchmark and writing its section of docs/BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- bench:help:start -->", "<!-- bench:help:end -->"
HEADING = "## Help centre retrieval"
NAMES = {
    "ours": "ours: hybrid passages (MiniLM + BM25)",
    "bm25": "BM25 alone",
    "tfidf": "TF-IDF alone",
    "minilm_cosine": "plain MiniLM cosine",
    "minilm_tfidf_average": "MiniLM and TF-IDF averaged",
}


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Run {meta['date']} on {meta['machine']} (load average {meta['load_start']} at start, "
        f"{meta['load_end']} at end) with `{meta['command']}`; embedding model `{meta['model']}`.",
        "",
    ]
    sf = results.get("stackfaq")
    if sf and "stackfaq_meta" in meta:
        old = meta["stackfaq_meta"]
        lines += [
            f"StackFAQ figures from the run of {old['date']} (load average {old['load_start']}→{old['load_end']}, "
            f"`{old['command']}`); the demo help centre's from this one (`--skip-stackfaq`).",
            "",
        ]
        meta = {
            **meta,
            "torch_threads": old.get("torch_threads", meta["torch_threads"]),
            "max_rss_mb": old.get("max_rss_mb", meta["max_rss_mb"]),
        }
    if sf:
        lines += [
            f"**StackFAQ** ({sf['threads']} threads, {sf['queries']} queries; one relevant thread per query):",
            "",
            "| system | whole thread hits@1 | MRR | body only hits@1 | MRR |",
            "|---|---|---|---|---|",
        ]
        for key, name in NAMES.items():
            w, b = sf["whole_thread"].get(key), sf["body_only"].get(key)
            cell = lambda r: f"{r['hits_at_1']:.3f} | {r['mrr']:.3f}" if r else "– | –"  # noqa: E731
            lines.append(f"| {name} | {cell(w)} | {cell(b)} |")
        lat, whole, body = sf["latency_ms"], sf["whole_thread"]["ours"], sf["body_only"]["ours"]
        lines += [
            "",
            f"Plain MiniLM cosine is over the titles for the whole-thread protocol (the brief's reference) and over"
            f" one vector per thread's answers for body only. Query latency (encode + score all threads, one question"
            f" at a time, {lat['n']} questions, {meta['torch_threads']} torch thread): wall p50 {lat['p50']} ms,"
            f" p95 **{lat['p95']} ms**, max {lat['max']} ms; CPU time p50 {lat['cpu_p50']} ms, p95 {lat['cpu_p95']} ms."
            f" Index build: whole thread {whole['build_seconds']} s ({whole['passages']} passages,"
            f" {whole['index_mb']} MB of arrays), body only {body['build_seconds']} s ({body['passages']} passages,"
            f" {body['index_mb']} MB). Peak process memory {meta['max_rss_mb']} MB (model included).",
            "",
        ]
    hc = results.get("helpcentre")
    if hc:
        held, dev = hc["heldout"], hc["dev"]
        lines += [
            f"**Demo help centre** ({hc['articles']} articles, {hc['passages']} passages, indexed in "
            f"{hc['build_seconds']} s). Answer rule: cosine ≥ {hc['threshold_setting']}"
            f"{lead_text(hc.get('lead_setting', 0))} (the dev set's best: cosine ≥ {hc['threshold_chosen_on_dev']}"
            f"{lead_text(hc.get('lead_chosen_on_dev', 0))}).",
            "",
            "| set | questions | hits@1 (answerable) | answered correctly | answers that were wrong | not sure |"
            " not sure and right to be | unanswerable declined |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, m in (("dev (tuning)", dev), ("held-out", held)):
            lines.append(
                f"| {name} | {m['questions']} | {m['hits_at_1']:.3f} | {m['answered_correctly']:.3f} | "
                f"{m['answered_wrong']:.3f} | {m['not_sure_share']:.3f} | {m['not_sure_right']:.3f} | "
                f"{m['none_declined']:.3f} |"
            )
        if hc["heldout_misses"]:
            lines += ["", "Held-out questions whose top article was wrong: " + "; ".join(hc["heldout_misses"]) + "."]
    return "\n".join(lines)


def lead_text(lead: float) -> str:
    return f" or a lead of ≥ {lead} over the runner-up" if lead else ""


def write_doc(doc: Path, body: str) -> None:
    """Replace the section between the markers; add the section at the end the first time."""
    text = doc.read_text(encoding="utf-8")
    block = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    doc.write_text(text, encoding="utf-8")
