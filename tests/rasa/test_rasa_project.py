"""The Rasa project itself, checked with Rasa's own tools (rasa environment, via its CLI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_rasa
from tests.support.processes import ROOT

pytestmark = pytest.mark.rasa

NLU_ACCURACY_THRESHOLD = 0.85
"""Held-out intent accuracy the assistant must keep; raise it as the pipeline improves."""


UNUSED_RESPONSE = re.compile(r"UserWarning: The utterance '(\w+)' is not used in any story or rule")


def responses_used_by_code() -> set[str]:
    """Responses our custom actions send (directly, or named by a campaign for the outreach
    action), and the ``utter_ask_<slot>`` prompts forms use."""
    sources = [*(ROOT / "actions").glob("*.py"), *(ROOT / "supportbot" / "outreach").glob("*.py")]
    code = "\n".join(p.read_text() for p in sources)
    used = set(re.findall(r'"(utter_\w+)"', code))
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    for form in domain.get("forms", {}).values():
        used.update(f"utter_ask_{slot}" for slot in form["required_slots"])
    return used


def test_training_data_and_domain_are_valid() -> None:
    """``rasa data validate``; its only tolerated warning is a response that no story uses
    but a custom action or a form does (Rasa cannot see into the action server)."""
    result = run_rasa("data", "validate", timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    unused = set(UNUSED_RESPONSE.findall(output))
    assert unused - responses_used_by_code() == set(), "responses used nowhere"
    other = [line for line in output.splitlines() if "UserWarning" in line and not UNUSED_RESPONSE.search(line)]
    assert other == [], "\n".join(other)


@pytest.fixture(scope="module")
def rasa_test_results(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One ``rasa test`` run (stories and held-out NLU together: one TensorFlow start-up, not two)."""
    out = tmp_path_factory.mktemp("rasa-test")
    result = run_rasa(
        "test",
        "--model",
        str(trained_model),
        "--stories",
        "tests/stories",
        "--nlu",
        "tests/nlu",
        "--fail-on-prediction-errors",
        "--out",
        str(out),
    )
    return result.returncode, result.stdout[-4000:] + result.stderr[-4000:], out


def test_conversation_stories_pass_without_prediction_errors(rasa_test_results: tuple[int, str, Path]) -> None:
    returncode, output, out = rasa_test_results
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert returncode == 0, f"{output}\n{details}"
    assert (out / "story_report.json").exists(), output


def test_nlu_accuracy_on_the_held_out_set(rasa_test_results: tuple[int, str, Path]) -> None:
    _, output, out = rasa_test_results
    report_path = out / "intent_report.json"
    assert report_path.exists(), output
    report = json.loads(report_path.read_text())
    accuracy = report["accuracy"]
    errors_path = out / "intent_errors.json"
    errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
    confused = "\n".join(
        f"  {e['text']!r}: expected {e['intent']}, got {e['intent_prediction']['name']}" for e in errors
    )
    print(
        f"\nheld-out NLU intent accuracy: {accuracy:.3f} (threshold {NLU_ACCURACY_THRESHOLD}); "
        f"macro-F1 {report['macro avg']['f1-score']:.3f}; {len(errors)} errors\n{confused}"
    )
    assert accuracy >= NLU_ACCURACY_THRESHOLD, confused
