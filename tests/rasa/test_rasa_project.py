"""The Rasa project itself, checked with Rasa's own tools (rasa environment, via its CLI)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from supportbot.devstack import ROOT
from tests.prepared import RasaTest, Training

pytestmark = pytest.mark.rasa

NLU_ACCURACY_THRESHOLD = 0.90
"""Held-out intent accuracy the assistant must keep; raise it as the pipeline improves."""


UNUSED_RESPONSE = re.compile(r"UserWarning: The utterance '(\w+)' is not used in any story or rule")
EXTERNAL_INTENT_WITHOUT_EXAMPLES = re.compile(
    r"UserWarning: The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU training data"
)
"""Intents the scheduler triggers through the HTTP API: customers never type them."""
SLOT_AUTO_FILL_NOTICE = re.compile(r"UserWarning: Slot auto-fill has been removed in 3\.0")
"""Rasa's training prints this notice about Rasa 2 projects for every project; it is not about our data."""


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


def test_training_data_and_domain_are_valid(training: Training) -> None:
    """Rasa's data validation (``rasa train`` runs the same checks as ``rasa data validate``
    before training: one TensorFlow start-up fewer); its only tolerated warnings are a
    response that no story uses but a custom action or a form does (Rasa cannot see into
    the action server) and the scheduler's EXTERNAL_* intents."""
    output = training.output
    assert "Started validating domain and training data" in output, output[-3000:]
    unused = set(UNUSED_RESPONSE.findall(output))
    assert unused - responses_used_by_code() == set(), "responses used nowhere"
    other = [
        line
        for line in output.splitlines()
        if "UserWarning" in line
        and not UNUSED_RESPONSE.search(line)
        and not EXTERNAL_INTENT_WITHOUT_EXAMPLES.search(line)
        and not SLOT_AUTO_FILL_NOTICE.search(line)
    ]
    assert other == [], "\n".join(other)


def test_conversation_stories_pass_without_prediction_errors(rasa_test_run: RasaTest) -> None:
    returncode, output, out = rasa_test_run.returncode, rasa_test_run.output, rasa_test_run.out
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert returncode == 0, f"{output}\n{details}"
    assert (out / "story_report.json").exists(), output


def test_nlu_accuracy_on_the_held_out_set(rasa_test_run: RasaTest) -> None:
    output, out = rasa_test_run.output, rasa_test_run.out
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
