"""The ``rasa`` command with one fix to the server's hot path (rasa environment).

    .venvs/rasa/bin/python -m bot.server run --enable-api ...    # same arguments as `rasa`

Why: profiling the Rasa server under load (docs/BENCHMARKS.md, "Conversation latency")
showed close to half of its CPU in ``jsonschema``, validating the action server's answer
to every custom-action call. Rasa 3.6 calls ``jsonschema.validate(result, schema)``, which
first checks the *schema* against its meta-schema, every time: about 29 ms per call on
these machines against 0.5 ms for the validation itself. A form turn calls the action
server two or three times.

It also applies our server defaults (``apply_server_defaults``: a request size cap,
telemetry off) before Rasa builds its Sanic app, and makes ``run`` listen on loopback unless
an interface is named (``loopback_by_default``).

The fix builds the validator for that schema once. A response it finds valid is accepted;
any other response goes through Rasa's own check unchanged, so an invalid response fails
with exactly Rasa's error and message. Nothing else about Rasa changes, and ``rasa run``
keeps working without it (only slower). ``scripts/run.sh`` and ``supportbot.devstack``
start the server through this module.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, List, Mapping, Text

_ORIGINAL = "_supportbot_original_validate"


def install_cached_action_validation() -> None:
    """Replace ``RemoteAction._validate_action_result`` by a cached validator (idempotent)."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    if hasattr(RemoteAction, _ORIGINAL):
        return
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of on every call
    validator = validator_class(schema)
    original: Callable[[Any, Dict[Text, Any]], bool] = RemoteAction._validate_action_result

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        if type(self).action_response_format_spec is RemoteAction.action_response_format_spec and validator.is_valid(
            result
        ):
            return True
        return original(self, result)  # Rasa's own check: its error and message for a bad response

    setattr(RemoteAction, _ORIGINAL, original)
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def apply_server_defaults(environ: Dict[str, str]) -> None:
    """Settings every Rasa process of ours runs with, unless the environment says otherwise.

    - Sanic's ``REQUEST_MAX_SIZE`` (read from ``SANIC_REQUEST_MAX_SIZE`` when Rasa builds its
      app): Sanic's default of 100 MB let a client stall NLU with a huge body; no message of
      ours is near ``bot.channels.limits.MAX_REQUEST_BYTES``.
    - Rasa's telemetry off: nothing leaves the machine on its own.
    """
    from bot.channels.limits import MAX_REQUEST_BYTES

    environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_REQUEST_BYTES))
    environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def loopback_by_default(argv: List[str], environ: Mapping[str, str]) -> List[str]:
    """``rasa run`` listens on every interface (``0.0.0.0``) unless told otherwise; ours listens
    on loopback (``SUPPORTBOT_RASA_HOST`` or ``-i``/``--interface`` for another interface)."""
    if len(argv) < 2 or argv[1] != "run":
        return argv
    if any(arg in ("-i", "--interface") or arg.startswith("--interface=") for arg in argv[2:]):
        return argv
    return [*argv, "--interface", environ.get("SUPPORTBOT_RASA_HOST") or "127.0.0.1"]


def main() -> None:
    import os

    apply_server_defaults(os.environ)  # type: ignore[arg-type]
    install_cached_action_validation()
    from rasa.__main__ import main as rasa_main

    sys.argv = loopback_by_default(["rasa", *sys.argv[1:]], os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
