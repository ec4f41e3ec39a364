"""Appending one measurement to a results file in ``bench-results/``, so a stopped benchmark keeps what it measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_result(out: Path, key: str, result: dict[str, Any], meta: dict[str, Any]) -> None:
    """Add ``result`` to the list ``key`` of the JSON file ``out`` (created if missing); ``meta`` replaces the old."""
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["meta"] = meta
    existing.setdefault(key, []).append(result)
    out.write_text(json.dumps(existing, indent=2))
