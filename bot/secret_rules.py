"""What counts as a real shared secret, for both Python environments (plain Python).

The Rasa server (which verifies customer tokens and is called by the scheduler with its API
token) and the app environment (which mints tokens, calls the action server and signs the
console's forms) apply exactly these rules, in every mode: a secret that a process would
refuse in production is refused in development too, so a short or placeholder secret never
reaches a deployment by accident (security review, issue 14 finding 13). ``make run``
generates real ones into ``var/secrets.env``.
"""

from __future__ import annotations

from typing import Optional

MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "test", "password", "xxx"})


def secret_problem(name: str, value: Optional[str]) -> Optional[str]:
    """Why ``value`` is not an acceptable secret for the variable ``name``, or None if it is."""
    if value is None or not value.strip():
        return f"{name} is not set; `make run` creates one in var/secrets.env (see docs/SECURITY.md)"
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        return f"{name} is a placeholder; set it to a random secret (see docs/SECURITY.md)"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} must be at least {MIN_SECRET_LENGTH} characters (it has {len(value)})"
    if value != value.strip():
        return f"{name} has leading or trailing whitespace"
    return None
