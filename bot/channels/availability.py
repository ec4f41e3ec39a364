"""Which messaging channels are configured, from environment variables only.

Pure Python, no Rasa import: the Rasa server (``bot.channels.messaging``) reads it
to decide which channels to switch on, and the scheduler (app environment) reads
it so it never routes a proactive message to a channel that is switched off.

Each channel maps Rasa's credential keys to the environment variables that
supply them. A channel is on only when every required variable is set and not
empty; docs/CHANNELS.md says where each value comes from.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional

REQUIRED: Dict[str, Dict[str, str]] = {
    "telegram": {
        "access_token": "TELEGRAM_ACCESS_TOKEN",
        "secret_token": "TELEGRAM_SECRET_TOKEN",
        "webhook_url": "TELEGRAM_WEBHOOK_URL",
    },
    "slack": {
        "slack_token": "SLACK_BOT_TOKEN",
        "slack_signing_secret": "SLACK_SIGNING_SECRET",
    },
    "facebook": {
        "verify": "FACEBOOK_VERIFY_TOKEN",
        "secret": "FACEBOOK_APP_SECRET",
        "page-access-token": "FACEBOOK_PAGE_ACCESS_TOKEN",
    },
    "twilio": {
        "account_sid": "TWILIO_ACCOUNT_SID",
        "auth_token": "TWILIO_AUTH_TOKEN",
        "twilio_number": "TWILIO_NUMBER",
        "webhook_url": "TWILIO_WEBHOOK_URL",
    },
    "callback": {
        "url": "CALLBACK_URL",
        "token": "CALLBACK_TOKEN",
    },
}
"""Channel name (Rasa's input channel name) → credential key → environment variable."""

OPTIONAL: Dict[str, Dict[str, str]] = {}
"""Channel → credential key → variable, for settings a channel can do without (none today:
Slack's ``SLACK_CHANNEL``, which sent every answer into one channel, is gone)."""

API_URLS: Dict[str, str] = {
    "telegram": "TELEGRAM_API_URL",
    "slack": "SLACK_API_URL",
    "facebook": "FACEBOOK_API_URL",
    "twilio": "TWILIO_API_URL",
}
"""Tests and local development only: send a channel's outbound calls to a stand-in of the
platform's API on this machine instead of the platform (``bot.channels.messaging`` refuses
any address but a loopback one). Unset, each channel talks to its platform."""

MESSAGING_CHANNELS = tuple(REQUIRED)


def missing_variables(channel: str, environ: Optional[Mapping[str, str]] = None) -> List[str]:
    env = os.environ if environ is None else environ
    return [name for name in REQUIRED[channel].values() if not env.get(name, "").strip()]


def credentials_for(channel: str, environ: Optional[Mapping[str, str]] = None) -> Optional[Dict[str, str]]:
    """The channel's credentials from the environment, or None when any required one is missing."""
    env = os.environ if environ is None else environ
    if missing_variables(channel, env):
        return None
    values = {key: env[name].strip() for key, name in REQUIRED[channel].items()}
    for key, name in OPTIONAL.get(channel, {}).items():
        if env.get(name, "").strip():
            values[key] = env[name].strip()
    return values


def configured_channels(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    return [channel for channel in MESSAGING_CHANNELS if credentials_for(channel, environ) is not None]
