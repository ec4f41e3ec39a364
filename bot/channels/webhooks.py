"""What every messaging channel shares (rasa environment): switched-off stand-ins, the
loopback-only API address override for tests, and what happens around each turn.

See ``bot.channels.messaging`` for the channels themselves.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, ClassVar, List, Optional, Text, Type
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.availability import API_URLS, missing_variables
from bot.channels.fresh_start import purge_before_fresh_start
from bot.conversation_ids import RESERVED_PREFIXES

logger = logging.getLogger(__name__)

PLATFORM_TIMEOUT_SECONDS = 15
"""Longest wait for one call to a platform's API."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def api_url(channel: str) -> Optional[str]:
    """The stand-in API address for ``channel`` (tests, local development), or None: the platform."""
    name = API_URLS[channel]
    value = os.environ.get(name, "").strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise RasaException(
            f"{name}={value!r}: only a stand-in of the platform's API on this machine may replace it "
            "(http://127.0.0.1:<port>/...; tests and local development only). Unset it to reach the platform."
        )
    logger.warning("channel %s sends its platform calls to %s (%s), not to the platform", channel, value, name)
    return value


def refused(message: str, status: int = 403) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class Disabled(InputChannel):
    """Stands in for a channel whose environment variables are not set."""

    channel_name = "disabled"
    missing: ClassVar[List[str]] = []

    @classmethod
    def name(cls) -> Text:
        return cls.channel_name

    def get_output_channel(self) -> Optional[OutputChannel]:
        return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"{self.channel_name}_disabled_webhook", __name__)
        details = {"status": "off", "channel": self.channel_name, "missing_environment_variables": self.missing}

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json(details)

        @webhook.route("/webhook", methods=["GET", "POST"])
        async def refuse(_: Request) -> HTTPResponse:
            return response.json({**details, "error": "this channel is not configured"}, status=503)

        return webhook


def disabled(channel: str) -> InputChannel:
    missing = missing_variables(channel)
    logger.info("channel %s is off; set %s to switch it on", channel, ", ".join(missing))
    cls: Type[Disabled] = type(f"Disabled_{channel}", (Disabled,), {"channel_name": channel, "missing": missing})
    return cls()


class Turns:
    """What every messaging channel does around Rasa's handling of a message.

    Before: a sender id in our reserved namespaces (``cust:``, ``anon:``) is dropped.
    After: an earlier owner's part of the conversation is purged once the action server
    has marked a fresh start (linking, unlinking). ``on_new_message`` carries no
    reference to the app, so the blueprint remembers it when the server starts.
    """

    _app: Optional[Sanic] = None

    def _wrap(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> None:
            sender = str(message.sender_id or "")
            if not sender or sender.startswith(RESERVED_PREFIXES):
                logger.warning("dropped a %s message with a reserved sender id", message.input_channel)
                return
            await on_new_message(message)
            agent = getattr(self._app.ctx, "agent", None) if self._app is not None else None
            if agent is not None:
                await purge_before_fresh_start(agent, sender)

        return handle

    def _remember_app(self, webhook: Blueprint) -> Blueprint:
        @webhook.listener("before_server_start")
        async def remember(app: Sanic, _: Any) -> None:
            self._app = app

        return webhook
