"""Appending one measurement to a results file in ``bench-results/``, so a stopped benchmark keeps what it measured."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BENCH_DATA_ENV = "SUPPORTBOT_BENCH_DATA"


def bench_data() -> Path:
    """The public benchmark data: ``$SUPPORTBOT_BENCH_DATA``, else ``../shared/benchdata`` beside
    the project (where these machines keep it). Exits with a clear message when it is missing."""
    root = Path(__file__).resolve().parent.parent
    path = Path(os.environ.get(BENCH_DATA_ENV) or root.parent / "shared" / "benchdata")
    if not (path / "banking77").is_dir() or not (path / "clinc150").is_dir():
        raise SystemExit(
            f"benchmark data not found in {path} (expected banking77/ and clinc150/ there): "
            f"set {BENCH_DATA_ENV} to the folder that holds them"
        )
    return path


def append_result(out: Path, key: str, result: dict[str, Any], meta: dict[str, Any]) -> None:
    """Add ``result`` to the list ``key`` of the JSON file ``out`` (created if missing); ``meta`` replaces the old."""
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["meta"] = meta
    existing.setdefault(key, []).append(result)
    out.write_text(json.dumps(existing, indent=2))
