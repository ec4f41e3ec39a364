"""What the churn and lifetime-value benchmarks share: where the public data is, and a run's metadata."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.results import BENCH_DATA_ENV

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"


def data_dir(name: str) -> Path:
    """``$SUPPORTBOT_BENCH_DATA/<name>``, else ``../shared/benchdata/<name>`` beside the project.

    Exits with a clear message when the folder is missing."""
    base = Path(os.environ.get(BENCH_DATA_ENV) or ROOT.parent / "shared" / "benchdata")
    path = base / name
    if not path.is_dir():
        raise SystemExit(f"benchmark data not found: {path}; set {BENCH_DATA_ENV} to the folder that holds {name}/")
    return path


def run_meta(command: str) -> dict[str, Any]:
    return {
        "command": command,
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "argv": sys.argv[1:],
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    data.setdefault("meta", {})["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
