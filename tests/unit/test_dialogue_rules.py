"""The dialogue's own invariants, read from domain.yml and data/ (no model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from actions.form_flow import DIGRESSION_INTENTS
from actions.questions import ANSWER_SLOT, PENDING_SLOT
from supportbot.devstack import ROOT


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules() -> list[dict[str, Any]]:
    return [rule for path in sorted((ROOT / "data" / "rules").glob("*.yml")) for rule in _yaml(path).get("rules", [])]


def test_the_answer_rule_lists_every_intent_a_customer_can_send() -> None:
    """An answer may be classified as any intent ("No, don't renew" reads as renew_now), so the
    one rule that sends answers to action_answer_question must list them all: a new intent
    has to be added there too (docs/CONVERSATIONS.md)."""
    domain = _yaml(ROOT / "domain.yml")
    customer_intents = {i for i in domain["intents"] if not i.startswith("EXTERNAL_")} | {"nlu_fallback"}
    rule = next(r for r in _rules() if r["rule"] == "the answer to the question just asked goes to that question")
    listed = {alternative["intent"] for alternative in rule["steps"][0]["or"]}
    assert listed == customer_intents
    assert rule["steps"][1] == {"slot_was_set": [{ANSWER_SLOT: "/affirm"}]}
    assert rule["steps"][2] == {"action": "action_answer_question"}


def test_only_the_answer_slot_steers_the_dialogue_and_the_question_itself_does_not() -> None:
    slots = _yaml(ROOT / "domain.yml")["slots"]
    assert slots[ANSWER_SLOT]["influence_conversation"] is True
    assert slots[PENDING_SLOT]["influence_conversation"] is False
    assert "cancel_stage" not in slots


def test_every_digression_intent_has_a_rule_that_answers_it() -> None:
    """A digression mid-form is answered by the ordinary rule for its intent, then the form
    comes back; an intent listed as a digression without such a rule would leave the customer
    without an answer."""
    answered = {
        step["intent"]
        for rule in _rules()
        if not rule.get("condition")
        for step in rule["steps"][:1]
        if "intent" in step
    }
    assert DIGRESSION_INTENTS - answered == set()
