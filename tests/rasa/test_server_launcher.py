"""``bot.server`` (the ``rasa`` command with a cached validator for action-server answers),
checked inside the rasa environment: valid answers pass, invalid ones fail exactly as in
Rasa, and the schema is checked once, not on every call."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from supportbot.devstack import ROOT, base_env, rasa_executable

pytestmark = pytest.mark.rasa

PROBE = textwrap.dedent(
    """
    import json
    from unittest import mock

    import jsonschema
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    from bot.server import install_cached_action_validation

    action = RemoteAction("action_anything", EndpointConfig("http://127.0.0.1:1/webhook"))
    valid = {
        "events": [{"event": "slot", "name": "customer_name", "value": "Maya", "timestamp": None}],
        "responses": [{"text": "Hi Maya"}],
    }
    invalid = {"events": [{"event": "slot", "value": "no name"}], "responses": []}

    def outcome(result):
        try:
            return ["ok", action._validate_action_result(result)]
        except jsonschema.ValidationError as error:
            return ["error", error.message]

    before = [outcome(valid), outcome(invalid)]
    install_cached_action_validation()
    install_cached_action_validation()  # a second call changes nothing
    validator_class = validators.validator_for(RemoteAction.action_response_format_spec())
    with mock.patch.object(validator_class, "check_schema", wraps=validator_class.check_schema) as check:
        after_valid = [outcome(valid) for _ in range(5)]
        valid_schema_checks = check.call_count
        after_invalid = outcome(invalid)
    print(json.dumps({
        "before": before,
        "after_valid": after_valid,
        "valid_schema_checks": valid_schema_checks,
        "after_invalid": after_invalid,
    }))
    """
)


def test_cached_validation_accepts_and_rejects_exactly_as_rasa() -> None:
    done = subprocess.run(
        [str(rasa_executable().parent / "python"), "-c", PROBE],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"][0] == ["ok", True]
    assert seen["before"][1][0] == "error"
    assert "Failed to validate Action server response" in seen["before"][1][1]
    assert seen["after_valid"] == [["ok", True]] * 5
    assert seen["valid_schema_checks"] == 0, "the schema must not be checked again for each answer"
    assert seen["after_invalid"] == seen["before"][1], "an invalid answer must fail with Rasa's own error"
