"""Customer-token and secret rules, the same in both environments (issue 14 finding 13).

Before: the Rasa process accepted any non-empty secret (the 32-character and no-placeholder
rules applied only in the app env), tokens had no audience and no maximum lifetime, and the
customer-id pattern (``match`` with ``$``) accepted a trailing newline.
"""

from __future__ import annotations

import subprocess
import time

import jwt
import pytest

from bot.identity import MAX_TOKEN_LIFETIME_SECONDS, verify_token
from bot.secret_rules import secret_problem
from supportbot.devstack import ROOT, base_env, rasa_executable
from supportbot.errors import IdentityError
from supportbot.identity import mint_customer_token

SECRET = "identity-rules-secret-0123456789abcdef"
NOW = 1_800_000_000.0


def token(**claims: object) -> str:
    base: dict[str, object] = {"sub": "C000001", "aud": "lumen-support-chat", "iat": int(NOW), "exp": int(NOW) + 900}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, algorithm="HS256")


def test_a_well_formed_token_verifies_with_its_expiry() -> None:
    identity = verify_token(token(), SECRET, audience="lumen-support-chat", now=NOW)
    assert identity.customer_id == "C000001" and identity.expires_at == int(NOW) + 900


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"aud": None}, "invalid"),
        ({"aud": "another-product"}, "invalid"),
        ({"iat": None}, "invalid"),
        ({"exp": None}, "invalid"),
        ({"exp": int(NOW) + MAX_TOKEN_LIFETIME_SECONDS + 60}, "invalid"),
        ({"iat": int(NOW) - 10 * 86400, "exp": int(NOW) + 60}, "invalid"),  # minted for 10 days
        ({"iat": int(NOW) + 3600, "exp": int(NOW) + 4000}, "invalid"),  # issued in the future
        ({"exp": int(NOW) - 120}, "expired"),
        ({"exp": True}, "invalid"),
        ({"sub": "C000001\n"}, "invalid"),
        ({"sub": "C000001:web"}, "invalid"),
        ({"sub": ""}, "invalid"),
        ({"sub": 1}, "invalid"),
    ],
)
def test_tokens_outside_the_rules_do_not_verify(claims: dict[str, object], problem: str) -> None:
    identity = verify_token(token(**claims), SECRET, audience="lumen-support-chat", now=NOW)
    assert identity.customer_id is None
    assert identity.problem == problem


def test_minting_follows_the_same_rules() -> None:
    with pytest.raises(IdentityError):
        mint_customer_token(customer_id="C000001", secret=SECRET, ttl_seconds=MAX_TOKEN_LIFETIME_SECONDS + 1)
    with pytest.raises(IdentityError):
        mint_customer_token(customer_id="C000001\n", secret=SECRET)
    minted = mint_customer_token(customer_id="C000001", secret=SECRET)
    assert verify_token(minted, SECRET, audience="lumen-support-chat", now=time.time()).customer_id == "C000001"


@pytest.mark.parametrize("value", [None, "", "secret", "change-me", "short-but-not-empty", " " * 40])
def test_secrets_that_are_refused(value: str | None) -> None:
    assert secret_problem("CUSTOMER_TOKEN_SECRET", value) is not None


def test_the_rasa_process_refuses_a_weak_secret_as_the_app_env_does() -> None:
    """The channels are built by Rasa at start-up: a short secret must stop them there."""
    probe = (
        "import os\n"
        "from bot.channels.rest import VerifiedRestInput\n"
        "for value in ('short', 'secret', 'x' * 40):\n"
        "    os.environ['CUSTOMER_TOKEN_SECRET'] = value\n"
        "    try:\n"
        "        VerifiedRestInput.from_credentials({})\n"
        "        print(value[:8], 'accepted')\n"
        "    except Exception as exc:\n"
        "        print(value[:8], 'refused', type(exc).__name__)\n"
    )
    done = subprocess.run(
        [str(rasa_executable().parent / "python"), "-c", probe],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("short refused") and lines[1].startswith("secret refused")
    assert lines[2] == "xxxxxxxx accepted"
