"""The Rasa project itself, checked with Rasa's own tools (rasa environment, via its CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_rasa

pytestmark = pytest.mark.rasa

NLU_ACCURACY_THRESHOLD = 0.85
"""Held-out intent accuracy the assistant must keep; raise it as the pipeline improves."""


def test_training_data_and_domain_are_valid() -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings", timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_conversation_stories_pass_without_prediction_errors(trained_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "core"
    result = run_rasa(
        "test",
        "core",
        "--model",
        str(trained_model),
        "--stories",
        "tests/stories",
        "--fail-on-prediction-errors",
        "--out",
        str(out),
    )
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}\n{details}"


def test_nlu_accuracy_on_the_held_out_set(trained_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "nlu"
    result = run_rasa("test", "nlu", "--model", str(trained_model), "--nlu", "tests/nlu", "--out", str(out))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads((out / "intent_report.json").read_text())
    accuracy = report["accuracy"]
    errors = json.loads((out / "intent_errors.json").read_text()) if (out / "intent_errors.json").exists() else []
    confused = "\n".join(
        f"  {e['text']!r}: expected {e['intent']}, got {e['intent_prediction']['name']}" for e in errors
    )
    print(
        f"\nheld-out NLU intent accuracy: {accuracy:.3f} (threshold {NLU_ACCURACY_THRESHOLD}); "
        f"macro-F1 {report['macro avg']['f1-score']:.3f}; {len(errors)} errors\n{confused}"
    )
    assert accuracy >= NLU_ACCURACY_THRESHOLD, confused
