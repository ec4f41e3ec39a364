"""The channels' own rules, checked inside the rasa environment (one process for all of them):
the platform API override accepts loopback addresses only, a weak Telegram secret stops the
server, Messenger signatures are SHA-256 only."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from supportbot.devstack import ROOT, base_env, rasa_executable

pytestmark = pytest.mark.rasa

PROBE = textwrap.dedent(
    """
    import hashlib, hmac, json, os

    from rasa.shared.exceptions import RasaException

    from bot.channels.messaging import Facebook
    from bot.channels.telegram import Telegram
    from bot.channels.webhooks import api_url

    def refused(call):
        try:
            call()
        except RasaException as error:
            return str(error)
        return None

    seen = {}
    for value in ["", "http://127.0.0.1:8999/telegram/", "http://localhost:1", "https://api.example.com", "ftp://127.0.0.1"]:
        os.environ["TELEGRAM_API_URL"] = value
        try:
            seen[value] = ["ok", api_url("telegram")]
        except RasaException as error:
            seen[value] = ["refused", str(error)]
    os.environ.pop("TELEGRAM_API_URL")
    os.environ.update(TELEGRAM_ACCESS_TOKEN="123456:" + "A" * 35, TELEGRAM_WEBHOOK_URL="https://x.example/w")
    os.environ["TELEGRAM_SECRET_TOKEN"] = "short"
    weak = refused(lambda: Telegram.from_credentials(None))
    os.environ["TELEGRAM_SECRET_TOKEN"] = "has spaces and is long enough, but not allowed"
    odd = refused(lambda: Telegram.from_credentials(None))
    os.environ["TELEGRAM_SECRET_TOKEN"] = "s" * 40
    good = type(Telegram.from_credentials(None)).__name__

    body = b'{"object": "page"}'
    sha256 = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    sha1 = "sha1=" + hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    signatures = [
        Facebook.validate_hub_signature("app-secret", body, sha256),
        Facebook.validate_hub_signature("app-secret", body, sha1),
        Facebook.validate_hub_signature("other-secret", body, sha256),
        Facebook.validate_hub_signature("app-secret", body + b" ", sha256),
        Facebook.validate_hub_signature("app-secret", body, ""),
    ]
    print(json.dumps({"api_url": seen, "weak": weak, "odd": odd, "good": good, "signatures": signatures}))
    """
)


def test_the_channels_own_rules_inside_the_rasa_environment() -> None:
    result = subprocess.run(
        [str(rasa_executable().parent / "python"), "-c", PROBE],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["api_url"][""] == ["ok", None]  # unset: the platform itself
    assert seen["api_url"]["http://127.0.0.1:8999/telegram/"] == ["ok", "http://127.0.0.1:8999/telegram"]
    assert seen["api_url"]["http://localhost:1"] == ["ok", "http://localhost:1"]
    for remote in ("https://api.example.com", "ftp://127.0.0.1"):
        verdict, message = seen["api_url"][remote]
        assert verdict == "refused" and "TELEGRAM_API_URL" in message and "this machine" in message
    assert "TELEGRAM_SECRET_TOKEN must be 32 to 256 characters" in seen["weak"]
    assert "TELEGRAM_SECRET_TOKEN" in seen["odd"]
    assert seen["good"] == "Telegram"
    assert seen["signatures"] == [True, False, False, False, False]
