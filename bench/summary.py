"""Print a short summary of the benchmark results in ``bench-results/`` (what ``make bench`` ends with).

    .venvs/app/bin/python -m bench.summary

Reads ``themes*.json`` (``bench/themes.py``) and ``outreach*.json`` (``bench/outreach_plan.py``,
``--out`` files included) when they exist; a missing ``themes.json`` / ``outreach.json`` is
reported, not an error. Standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    if not path.is_file():
        print(f"{name}: not there (run its benchmark first)")
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))


def themes(name: str = "themes.json") -> None:
    data = _load(name)
    if data is None:
        return
    meta = data.get("meta", {})
    when, machine, load = meta.get("date", "?"), meta.get("machine", "?"), meta.get("load_avg_start")
    print(f"Feedback themes, {name}  ({when}, {machine}, load {load})")
    print(f"  {'pipeline':<26}{'texts':>7}{'themes':>8}{'NMI':>7}{'ARI':>7}{'cover':>7}{'time s':>9}")
    for r in data.get("results", []):
        estimated = " (embedding time scaled)" if r.get("embed_estimated") else ""
        print(
            f"  {r['pipeline']:<26}{r['texts']:>7}{r['themes']:>8}{r['nmi']:>7.3f}{r['ari']:>7.3f}"
            f"{r['coverage']:>7.2f}{r['total_s']:>9.1f}{estimated}"
        )


def outreach(name: str = "outreach.json") -> None:
    data = _load(name)
    if data is None:
        return
    plan = data["plan"]
    report = plan["report"]
    when, cpus, load = data.get("started", "?"), data.get("cpus"), data.get("load_avg_start")
    print(f"Proactive outreach, {name}  ({when}, {cpus} CPUs, load {load})")
    print(f"  customers            {data['customers']:,}")
    generated = data["generate_seconds"]
    print(f"  generate             {'reused database' if generated is None else f'{generated} s'}")
    print(f"  plan one day         {plan['seconds']} s wall, {plan.get('cpu_seconds', '?')} s CPU")
    print(f"  plan peak RSS        {plan['peak_rss_mib']} MiB")
    print(f"  planned / skipped    {sum(report['planned'].values()):,} / {sum(report['skipped'].values()):,}")
    print(f"  database             {data['db_mib']} MiB")
    delivery = data.get("delivery")
    if delivery:
        print(
            f"  delivery             {delivery['sent']} sent of {delivery['claimed']} claimed in"
            f" {delivery['seconds']} s = {delivery['per_second']} msg/s"
            f" (Rasa trackers: {delivery.get('tracker_external_events', '?')} EXTERNAL_* events)"
        )


def nlu(name: str = "nlu.json") -> None:
    data = _load(name)
    if data is None:
        return
    print(f"NLU on public intent data, {name}  ({data.get('meta', {}).get('machine', '?')})")
    print(
        f"  {'dataset':<10}{'pipeline':<13}{'split':<6}{'acc':>7}{'mF1':>7}{'oosR':>7}{'oosP':>7}"
        f"{'train s':>9}{'MiB':>7}"
    )
    for r in data.get("runs", []):
        oos_r = f"{r['oos_recall']:.3f}" if "oos_recall" in r else "-"
        oos_p = f"{r['oos_precision']:.3f}" if r.get("oos_precision") is not None else "-"
        extra = ",".join(f"{k}={v}" for k, v in r.get("overrides", {}).items())
        extra = extra or (f"DIET {r['diet_epochs']} epochs" if r.get("diet_epochs") else "")
        print(
            f"  {r['dataset']:<10}{r['pipeline']:<13}{r['split']:<6}{r['accuracy']:>7.3f}{r['macro_f1']:>7.3f}"
            f"{oos_r:>7}{oos_p:>7}{r['train']['wall_s']:>9.0f}{r['train']['peak_rss_mib']:>7.0f}  {extra}"
        )


def main() -> int:
    extra = sorted(p.name for p in RESULTS.glob("*.json") if p.name not in ("themes.json", "outreach.json"))
    for name in ["themes.json", *[n for n in extra if n.startswith("themes")]]:
        themes(name)
        print()
    for name in ["outreach.json", *[n for n in extra if n.startswith("outreach")]]:
        outreach(name)
        print()
    for name in ["nlu.json", *[n for n in extra if n.startswith("nlu")]]:
        nlu(name)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
