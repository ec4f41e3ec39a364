"""The figures of the latest benchmark runs, printed and written into docs/BENCHMARKS.md.

    .venvs/app/bin/python -m bench.summary                       # print
    .venvs/app/bin/python -m bench.summary --write-doc docs/BENCHMARKS.md

``make bench`` ends with the second form: the section between the markers
``<!-- bench:latest:start -->`` and ``<!-- bench:latest:end -->`` of the document is replaced
by the latest figures of every benchmark found in ``bench-results/`` (with each run's command,
machine and date); the rest of the document, the analysis written by people, is left alone.
Files that append one run after another (``nlu.json``, ``load.json``) are shown for their
latest run only. A missing results file is reported, not an error; a section an earlier summary
wrote for it is kept, marked as kept. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
START, END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"


@dataclass
class Section:
    title: str
    source: str
    about: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"{self.title}  ({self.source})", *(f"  {a}" for a in self.about)]
        if self.rows:
            widths = [max(len(str(r[i])) for r in [self.header, *self.rows]) for i in range(len(self.header))]
            for row in [self.header, *self.rows]:
                lines.append(
                    "  "
                    + "  ".join(
                        str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))
                    )
                )
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", f"Source: `bench-results/{self.source}`. " + " ".join(self.about), ""]
        if self.rows:
            lines.append("| " + " | ".join(self.header) + " |")
            lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.header))) + "|")
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
            lines.append("")
        lines += [f"{n}  " for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    if not path.is_file():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _latest(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of the newest invocation (``run``), or all when the file predates run ids."""
    runs = [i.get("run") for i in items if i.get("run")]
    if not runs:
        return items
    newest = max(runs)
    return [i for i in items if i.get("run") == newest]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def nlu(name: str = "nlu.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta = data.get("meta", {})
    runs = _latest(data.get("runs", []))
    section = Section(
        "NLU on public intent data",
        name,
        [f"Run started {meta.get('started', '?')} on {meta.get('machine', '?')}: `{meta.get('command', '?')}`."],
        [
            "data set",
            "pipeline",
            "split",
            "settings",
            "accuracy",
            "top-1 accuracy",
            "macro-F1",
            "fallbacks",
            "OOS recall",
            "OOS precision",
            "train wall s",
            "train CPU s",
            "train peak RSS MiB",
            "test wall s",
            "load",
        ],
    )
    for r in runs:
        settings = ",".join(f"{k}={v}" for k, v in r.get("overrides", {}).items())
        settings = settings or (f"DIET {r['diet_epochs']} epochs" if r.get("diet_epochs") else "config.yml")
        section.rows.append(
            [
                r["dataset"],
                r["pipeline"],
                r["split"],
                settings,
                _pct(r["accuracy"]),
                _pct(r.get("top1_accuracy")),
                _pct(r["macro_f1"]),
                str(r.get("fallbacks", "?")),
                _pct(r.get("oos_recall")),
                _pct(r.get("oos_precision")),
                f"{r['train']['wall_s']:.0f}",
                f"{r['train']['cpu_s']:.0f}",
                f"{r['train']['peak_rss_mib']:.0f}",
                f"{r['test']['wall_s']:.0f}",
                f"{r.get('load_avg', '?')}",
            ]
        )
    for dataset, text in meta.get("published", {}).items():
        section.notes.append(f"Published, {dataset}: {text}.")
    return section


def load(name: str = "load.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta = data.get("meta", {})
    levels = _latest(data.get("levels", []))
    section = Section(
        "Conversation latency and throughput",
        name,
        [
            f"Run started {meta.get('started', '?')} on {meta.get('machine', meta.get('cpus', '?'))}: "
            f"`{meta.get('command', '?')}`."
        ],
        ["stack", "N", "turns", "errors", "turns/s", "p50 ms", "p95 ms", "p99 ms", "slowest turn (p50 ms)", "load"],
    )
    for r in levels:
        by_turn = r.get("by_turn", {})
        slowest = max(by_turn.items(), key=lambda kv: kv[1]["p50_ms"], default=None)
        section.rows.append(
            [
                r["stack"],
                str(r["users"]),
                str(r["turns_ok"]),
                str(r["errors"]),
                f"{r['turns_per_second']}",
                f"{r['all']['p50_ms']:.0f}",
                f"{r['all']['p95_ms']:.0f}",
                f"{r['all']['p99_ms']:.0f}",
                f"{slowest[0]} ({slowest[1]['p50_ms']:.0f})" if slowest else "–",
                f"{r.get('load_avg', '?')}",
            ]
        )
    return section


def themes(name: str = "themes.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta = data.get("meta", {})
    section = Section(
        "Feedback themes",
        name,
        [
            f"Run {meta.get('date', '?')} on {meta.get('machine', '?')}, load {meta.get('load_avg_start', '?')}:"
            f" `{meta.get('command', 'python -m bench.themes')}`; settings {meta.get('settings', '?')}."
        ],
        ["data set", "pipeline", "texts", "themes", "NMI", "ARI", "coverage", "wall s", "CPU s", "load"],
    )
    for r in data.get("results", []):
        section.rows.append(
            [
                r.get("dataset", "banking77-test"),
                r["pipeline"],
                f"{r['texts']:,}",
                str(r["themes"]),
                f"{r['nmi']:.3f}",
                f"{r['ari']:.3f}",
                f"{r['coverage']:.3f}",
                f"{r.get('wall_s', r.get('total_s', 0)):.1f}",
                f"{r['cpu_s']:.1f}" if "cpu_s" in r else "–",
                str(r.get("load_avg_1m_start", r.get("load_avg_1m", "?"))),
            ]
        )
    for r in data.get("results", []):
        if r["pipeline"] != "ours" or "cpu_steps" not in r:
            continue
        steps = ", ".join(f"{k} {r['steps'][k]:.1f} / {v:.1f}" for k, v in r["cpu_steps"].items())
        note = f"Ours, {r.get('dataset')}, wall / CPU s per step: {steps}"
        again = r.get("cached_rebuild")
        if again:
            note += (
                "; rebuilt again with every vector cached (the scheduler's next rebuild):"
                f" {again['wall_s']:.1f} s wall, {again['cpu_s']:.1f} s CPU"
            )
        section.notes.append(note + ".")
    section.notes += [f"Goal check: {line}." for line in meta.get("goals", [])]
    section.notes += [f"Published, {k}: {v}." for k, v in meta.get("published", {}).items()]
    return section


def theme_threshold(name: str = "theme_threshold.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    meta = data.get("meta", {})
    ranking = data.get("ranking", [])
    samples = list(ranking[0]["by_sample"]) if ranking else []
    section = Section(
        "Feedback theme settings (train split)",
        name,
        [
            f"Run {meta.get('date', '?')} on {meta.get('machine', '?')}, load {meta.get('load_avg_start', '?')}:"
            f" `{meta.get('command', '?')}`; {meta.get('data', '')}; criterion {meta.get('criterion', '?')};"
            f" chosen **{data.get('chosen')}**. Cells: NMI / ARI / themes. Top 8 settings, the chosen one and the"
            " previous method."
        ],
        ["method", "setting", "criterion", "keeps the small groups", *samples],
    )
    chosen = data.get("chosen") or {}
    picked = [r for r in ranking if r["method"] == "louvain-merge" and all(r.get(k) == v for k, v in chosen.items())]
    shown = ranking[:8] + [r for r in picked if r not in ranking[:8]]
    shown += [r for r in ranking[8:] if r["method"] != "louvain-merge"]
    for r in shown:
        setting = ", ".join(
            f"{k}={r[k]}" for k in ("neighbours", "resolution", "merge_distance", "threshold") if k in r
        )
        cells = [
            f"{r['by_sample'][s]['nmi']:.3f} / {r['by_sample'][s]['ari']:.3f} / {r['by_sample'][s]['themes']}"
            for s in samples
        ]
        keeps = {True: "yes", False: "no", None: "–"}[r.get("keeps_small_groups")]
        section.rows.append([r["method"], setting, f"{r['criterion']:.4f}", keeps, *cells])
    return section


def outreach(name: str = "outreach.json") -> Section | None:
    data = _load(name)
    if data is None:
        return None
    # One plan per backend since issue 19 (``plans``); older files hold one SQLite ``plan``.
    plans = data.get("plans") or [{"backend": "sqlite", **data["plan"], "db_mib": data.get("db_mib")}]
    section = Section(
        "Proactive outreach",
        name,
        [
            f"Run {data.get('started', '?')}, {data.get('cpus')} CPUs, load at start {data.get('load_avg_start')}"
            + (f": `{data['command']}`." if data.get("command") else ".")
        ],
        [
            "customers",
            "backend",
            "workers",
            "generate s",
            "plan wall s",
            "plan CPU s",
            "server CPU s",
            "plan peak RSS MiB",
            "planned",
            "skipped",
            "database MiB",
            "load",
        ],
    )
    for plan in plans:
        report = plan["report"]
        section.rows.append(
            [
                f"{data['customers']:,}",
                plan["backend"],
                str(plan.get("workers") or 1),
                str(plan.get("generate_seconds") or data.get("generate_seconds") or "reused"),
                str(plan["seconds"]),
                str(plan.get("cpu_seconds", "?")),
                str(plan.get("server_cpu_seconds") or "–"),
                str(plan["peak_rss_mib"]),
                f"{sum(report['planned'].values()):,}",
                f"{sum(report['skipped'].values()):,}",
                str(plan.get("db_mib", "?")),
                str((plan.get("load_avg_before") or data.get("load_avg_start") or ["?"])[0]),
            ]
        )
    if "decisions_identical" in data:
        digests = sorted({str(p.get("decisions_sha256", "?"))[:12] for p in plans})
        section.notes.append(
            f"Decisions (SHA-256 of every outbox row's decision columns): {', '.join(digests)}; "
            f"identical on every backend: {'yes' if data['decisions_identical'] else 'NO'}."
        )
    delivery = data.get("delivery")
    if delivery:
        section.notes.append(
            f"Delivery into Rasa: {delivery['sent']} sent of {delivery['claimed']} claimed in {delivery['seconds']} s"
            f" = {delivery['per_second']} messages/s by one worker"
            f" (Rasa's trackers: {delivery.get('tracker_external_events', '?')} EXTERNAL_* events)."
        )
    return section


def _intelligence() -> list[tuple[str, Any]]:
    """Churn (Telco) and lifetime value (CDNOW), built in ``bench.intel_summary``."""
    from bench import intel_summary

    return [("churn.json", intel_summary.churn), ("clv.json", intel_summary.clv)]


def sections() -> tuple[list[Section], list[str]]:
    found, missing = [], []
    for name, build in (
        ("nlu.json", nlu),
        ("load.json", load),
        ("theme_threshold.json", theme_threshold),
        ("themes.json", themes),
        ("outreach.json", outreach),
        *_intelligence(),
    ):
        section = build(name)
        if section is None:
            missing.append(name)
        else:
            found.append(section)
    return found, missing


KEPT = (
    "*Kept from the previous summary: `bench-results/{name}` is not in this checkout (run its benchmark to renew it).*"
)


def previous_sections(block: str) -> dict[str, str]:
    """The sections an earlier summary wrote, by results file (``### title`` … ``Source: `bench-results/x.json```)."""
    kept: dict[str, str] = {}
    for part in block.split("\n### ")[1:]:
        lines = part.split("\n")
        source = next((ln for ln in lines if ln.startswith("Source: `bench-results/")), None)
        if source is None:
            continue
        name = source.split("`bench-results/", 1)[1].split("`", 1)[0]
        body = [ln for ln in lines if ln != KEPT.format(name=name)]
        kept[name] = ("### " + "\n".join(body)).rstrip() + "\n"
    return kept


def write_doc(doc: Path, found: list[Section], missing: list[str]) -> None:
    """Replace the generated block; a benchmark whose results file is missing here keeps its earlier section.

    Results files live in one checkout (``bench-results/`` is not in git), so a worktree that ran
    only some benchmarks must not erase the figures another checkout measured: their sections are
    kept as written, marked as kept."""
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{doc}: the markers {START} and {END} are missing; add them where the figures belong")
    before, rest = text.split(START, 1)
    old_block, after = rest.split(END, 1)
    previous = previous_sections(old_block.split("Not run yet:", 1)[0])
    kept = [name for name in missing if name in previous]
    body = [
        START,
        "",
        "Written by `make bench` (`python -m bench.summary --write-doc docs/BENCHMARKS.md`) from the",
        "results files of the latest run of each benchmark; do not edit by hand.",
        "",
        *(s.markdown() for s in found),
        *(previous[name].rstrip() + "\n\n" + KEPT.format(name=name) + "\n" for name in kept),
    ]
    absent = [name for name in missing if name not in previous]
    if absent:
        body.append(f"Not run yet: {', '.join(f'`{m}`' for m in absent)}.\n")
    body.append(END)
    doc.write_text(before + "\n".join(body) + after, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-doc", type=Path, help="replace the generated section of this Markdown file")
    args = parser.parse_args(argv)
    found, missing = sections()
    for section in found:
        print(section.text())
        print()
    for name in missing:
        print(f"{name}: not there (run its benchmark first)")
    if args.write_doc:
        write_doc(args.write_doc, found, missing)
        print(f"\nwritten: {args.write_doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
