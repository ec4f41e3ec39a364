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
CONFUSABLE_PAIRS = (
    ("ask_renewal", "renew_now"),
    ("ask_plan_options", "change_plan"),
    ("ask_plan", "change_plan"),
    ("ask_plan", "ask_plan_options"),
    ("ask_loyalty", "redeem_points"),
    ("nevermind", "deny"),
    ("nevermind", "cancel_subscription"),
    ("nevermind", "opt_out"),
    ("update_birthday", "inform"),
)
"""Intents that read alike but mean different things: above all a question about a thing and
the request to do it ("will it renew?" / "renew it"). A request only ever asks to confirm,
so a confusion cannot change an account, but it answers the wrong thing."""
PAIR_CONFUSION_THRESHOLD = 0.10
"""Share of a pair's held-out examples (both intents) classified as the other intent of the pair."""


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


def pair_confusion(report: dict, errors: list[dict], a: str, b: str) -> tuple[int, int, int]:
    """(a read as b, b read as a, examples of a and b) on the held-out set."""
    a_as_b = sum(1 for e in errors if e["intent"] == a and e["intent_prediction"]["name"] == b)
    b_as_a = sum(1 for e in errors if e["intent"] == b and e["intent_prediction"]["name"] == a)
    support = int(report.get(a, {}).get("support", 0)) + int(report.get(b, {}).get("support", 0))
    return a_as_b, b_as_a, support


def test_confusable_intents_are_told_apart_on_the_held_out_set(rasa_test_run: RasaTest) -> None:
    out = rasa_test_run.out
    report = json.loads((out / "intent_report.json").read_text())
    errors_path = out / "intent_errors.json"
    errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
    lines, too_confused = [], []
    for a, b in CONFUSABLE_PAIRS:
        a_as_b, b_as_a, support = pair_confusion(report, errors, a, b)
        assert support > 0, f"no held-out examples of {a} or {b}"
        rate = (a_as_b + b_as_a) / support
        lines.append(f"  {a:>18} / {b:<20} {a_as_b:>2} + {b_as_a:>2} of {support:>3}  {rate:.3f}")
        if rate > PAIR_CONFUSION_THRESHOLD:
            too_confused.append(f"{a}/{b}")
    print(
        f"\nheld-out confusion between confusable intents (a read as b + b read as a, of all examples of"
        f" both; threshold {PAIR_CONFUSION_THRESHOLD}):\n" + "\n".join(lines)
    )
    assert too_confused == [], too_confused
