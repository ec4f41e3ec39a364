"""Messaging channels configured from environment variables (rasa environment).

``credentials.yml`` lists every channel once; each one reads its credentials from
the environment (``bot.channels.availability``) and is switched on only when
they are all set. A channel that is off answers ``GET /webhooks/<name>/`` with
what is missing and refuses webhook calls with 503, and makes no network call at
start-up (Rasa's Telegram channel registers its webhook with Telegram when
built, so building it without a token would fail the whole server).

Messaging users are anonymous until they link their account (``actions.linking``):
their sender id is the platform's user id, never a ``cust:`` id.

Two channels get a check Rasa does not make:
- ``twilio``: the ``X-Twilio-Signature`` header is verified against
  ``TWILIO_AUTH_TOKEN`` and the public ``TWILIO_WEBHOOK_URL``, so nobody can post
  as somebody else's phone number;
- ``callback`` (the generic gateway for any other platform): the gateway must
  send ``Authorization: Bearer $CALLBACK_TOKEN``; Rasa's callback channel accepts
  anybody's messages under any sender id.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Text, Type

from rasa.core.channels.callback import CallbackInput
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput
from rasa.core.channels.slack import SlackInput
from rasa.core.channels.telegram import TelegramInput
from rasa.core.channels.twilio import TwilioInput
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.availability import credentials_for, missing_variables

logger = logging.getLogger(__name__)


class _Disabled(InputChannel):
    """Stands in for a channel whose environment variables are not set."""

    channel_name = "disabled"
    missing: ClassVar[List[str]] = []

    @classmethod
    def name(cls) -> Text:
        return cls.channel_name

    def get_output_channel(self) -> Optional[OutputChannel]:
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"{self.channel_name}_disabled_webhook", __name__)
        details = {"status": "off", "channel": self.channel_name, "missing_environment_variables": self.missing}

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json(details)

        @webhook.route("/webhook", methods=["GET", "POST"])
        async def refuse(_: Request) -> HTTPResponse:
            return response.json({**details, "error": "this channel is not configured"}, status=503)

        return webhook


def _disabled(channel: str) -> InputChannel:
    missing = missing_variables(channel)
    logger.info("channel %s is off; set %s to switch it on", channel, ", ".join(missing))
    cls: Type[_Disabled] = type(f"Disabled_{channel}", (_Disabled,), {"channel_name": channel, "missing": missing})
    return cls()


class Telegram(TelegramInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("telegram")
        if values is None:
            return _disabled("telegram")
        return cls(values["access_token"], values["verify"], values["webhook_url"])


class Slack(SlackInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("slack")
        if values is None:
            return _disabled("slack")
        return super().from_credentials(values)


class Facebook(FacebookInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("facebook")
        if values is None:
            return _disabled("facebook")
        return super().from_credentials(values)


class Twilio(TwilioInput):
    """SMS and WhatsApp through Twilio; ``From`` is ``+<number>`` or ``whatsapp:+<number>``."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("twilio")
        if values is None:
            return _disabled("twilio")
        channel = cls(values["account_sid"], values["auth_token"], values["twilio_number"], debug_mode=False)
        channel.webhook_url = values["webhook_url"]
        return channel

    webhook_url = ""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        from twilio.request_validator import RequestValidator

        webhook = super().blueprint(on_new_message)
        validator = RequestValidator(self.auth_token)

        @webhook.middleware("request")
        async def verify_signature(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            params = {key: request.form.get(key) for key in request.form} if request.form else {}
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(self.webhook_url, params, signature):
                return response.json({"error": "invalid Twilio signature"}, status=403)
            return None

        return webhook


class Callback(CallbackInput):
    """Rasa's callback channel with a shared token: the gateway for any other platform.

    In: ``POST /webhooks/callback/webhook`` ``{"sender", "message"}`` with
    ``Authorization: Bearer $CALLBACK_TOKEN``. Out: every bot message (answers and
    proactive ones) is POSTed as JSON to ``$CALLBACK_URL`` with the same token.
    """

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("callback")
        if values is None:
            return _disabled("callback")
        endpoint = EndpointConfig(values["url"], headers={"Authorization": f"Bearer {values['token']}"})
        channel = cls(endpoint)
        channel.token = values["token"]
        return channel

    token = ""

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return bool(self.token) and hmac.compare_digest(header.encode(), f"Bearer {self.token}".encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("callback_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "missing or wrong bearer token"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > 255:
                return response.json({"error": "`sender` must be a non-empty string (at most 255 characters)"}, 400)
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "`message` must be a non-empty string"}, status=400)
            if sender.startswith(("cust:", "anon:")):
                return response.json({"error": "`sender` must not start with cust: or anon:"}, status=400)
            await on_new_message(UserMessage(text, self.get_output_channel(), sender, input_channel=self.name()))
            return response.json({"status": "accepted"})

        return webhook
