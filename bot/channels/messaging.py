"""Messaging channels configured from environment variables (rasa environment).

``credentials.yml`` lists every channel once; each one reads its credentials from
the environment (``bot.channels.availability``) and is switched on only when
they are all set. A channel that is off answers ``GET /webhooks/<name>/`` with
what is missing and refuses webhook calls with 503, and makes no network call at
start-up.

Messaging users are anonymous until they link their account (``actions.linking``):
their sender id is the platform's user id, never a ``cust:`` or ``anon:`` id.

Every webhook proves that the platform sent it before anything reaches Rasa, and a
forged call is refused with 403 (Slack: 401) and changes nothing:

- ``telegram``: the ``X-Telegram-Bot-Api-Secret-Token`` header must equal
  ``TELEGRAM_SECRET_TOKEN``, which we register with Telegram (``setWebhook``'s
  ``secret_token``) when the server starts. Rasa's channel trusted any posted
  ``chat.id``, called ``getMe`` on every request and exposed ``/set_webhook`` to
  anybody; ours does none of that, and answers private chats only (in a group, every
  member would act as the linked customer);
- ``facebook``: ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with
  ``FACEBOOK_APP_SECRET``) only; Rasa's check took the hash algorithm from the header
  (SHA-1 allowed), compared with ``==`` and answered 200 to a bad signature. Every
  event of a batched delivery is handled (Rasa's handled the first one only);
- ``slack``: Rasa's own check (constant-time HMAC-SHA256 over ``v0:<timestamp>:<body>``,
  timestamp within five minutes) is kept, but a failure is answered 401 by us before
  Rasa's handler runs (Rasa answered 400). Direct messages only: Rasa also answered
  ``@mentions`` in channels, where a linked customer's data would be posted for all to see;
- ``twilio``: the ``X-Twilio-Signature`` header is verified against
  ``TWILIO_AUTH_TOKEN`` and the public ``TWILIO_WEBHOOK_URL`` (Rasa's channel checks
  nothing), so nobody can post as somebody else's phone number;
- ``callback`` (the generic gateway for any other platform): the gateway must
  send ``Authorization: Bearer $CALLBACK_TOKEN``; Rasa's callback channel accepts
  anybody's messages under any sender id.

Outbound calls go to the platform's API; for tests and local development only, the
``*_API_URL`` variables of ``bot.channels.availability.API_URLS`` send them to a
stand-in on this machine (a loopback address is required). The clients get timeouts:
Rasa's Messenger and Twilio clients make blocking calls on the server's event loop.

After each turn on these channels, ``purge_before_fresh_start`` deletes what an
earlier owner of the messaging account said (see ``bot.channels.fresh_start``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Text, Type
from urllib.parse import urlsplit

import requests
from aiogram.bot.api import TelegramAPIServer
from aiogram.types import Update
from fbmessenger import MessengerClient
from rasa.core.channels.callback import CallbackInput
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput, Messenger, MessengerBot
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.availability import API_URLS, credentials_for, missing_variables
from bot.channels.fresh_start import purge_before_fresh_start
from bot.conversation_ids import RESERVED_PREFIXES

logger = logging.getLogger(__name__)

PLATFORM_TIMEOUT_SECONDS = 15
"""Longest wait for one call to a platform's API."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")
"""Telegram allows 1-256 of these characters; we ask for 32 at least, like our other secrets."""

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


def _refused(message: str, status: int = 403) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class _Disabled(InputChannel):
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


def _disabled(channel: str) -> InputChannel:
    missing = missing_variables(channel)
    logger.info("channel %s is off; set %s to switch it on", channel, ", ".join(missing))
    cls: Type[_Disabled] = type(f"Disabled_{channel}", (_Disabled,), {"channel_name": channel, "missing": missing})
    return cls()


class _Turns:
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


# --- Telegram ---------------------------------------------------------------------------------


class _TelegramOutput(TelegramOutput):
    def __init__(self, access_token: Optional[Text], base_url: Optional[str]) -> None:
        server = TelegramAPIServer.from_base(base_url) if base_url else None
        extra = {"server": server} if server is not None else {}
        super(TelegramOutput, self).__init__(access_token, timeout=PLATFORM_TIMEOUT_SECONDS, **extra)


def _telegram_message(update: Update) -> Optional[tuple[str, str]]:
    """(chat id, text) of a private chat's message, edited message or button press; else None."""
    if update.callback_query is not None:
        message, text = update.callback_query.message, update.callback_query.data
    else:
        message = update.message or update.edited_message
        text = message.text if message is not None else None
    if message is None or message.chat is None or not text:
        return None
    if message.chat.type != "private":
        return None
    return str(message.chat.id), str(text)


class Telegram(_Turns, TelegramInput):
    """Telegram, authenticated by the secret token Telegram sends with every webhook call."""

    secret_token = ""
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("telegram")
        if values is None:
            return _disabled("telegram")
        if not TELEGRAM_SECRET.fullmatch(values["secret_token"]):
            raise RasaException(
                "TELEGRAM_SECRET_TOKEN must be 32 to 256 characters of A-Z, a-z, 0-9, _ and - "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        channel = cls(values["access_token"], None, values["webhook_url"], debug_mode=False)
        channel.secret_token = values["secret_token"]
        channel.base_url = api_url("telegram")
        return channel

    _output: Optional[_TelegramOutput] = None

    def get_output_channel(self) -> TelegramOutput:
        """One client for every message; unlike Rasa's, it does not register the webhook again
        (Rasa's did, with ``asyncio.run``, which fails inside the running server: no proactive
        message could reach Telegram)."""
        if self._output is None:
            self._output = _TelegramOutput(self.access_token, self.base_url)
        return self._output

    def _authentic(self, request: Request) -> bool:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return hmac.compare_digest(given.encode(), self.secret_token.encode())

    async def _button_pressed(self, callback_query_id: str) -> None:
        """Telegram shows a pressed button as loading until it is answered (Rasa never did)."""
        try:
            await self.get_output_channel().answer_callback_query(callback_query_id)
        except Exception:
            logger.warning("could not answer a Telegram button press", exc_info=True)

    async def register_webhook(self) -> None:
        """Tell Telegram where to post and which secret to send (``setWebhook``).

        aiogram 2.15 predates ``secret_token``, hence the plain API call."""
        try:
            await self.get_output_channel().request(
                "setWebhook",
                {
                    "url": self.webhook_url,
                    "secret_token": self.secret_token,
                    "allowed_updates": json.dumps(["message", "edited_message", "callback_query"]),
                },
            )
        except Exception:  # Telegram unreachable: its earlier registration may still hold
            logger.exception("could not register the Telegram webhook; Telegram may refuse or misroute messages")
        else:
            logger.info("Telegram webhook registered: %s", self.webhook_url)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = self._remember_app(Blueprint("telegram_webhook", __name__))
        handle = self._wrap(on_new_message)

        @webhook.listener("after_server_start")
        async def register(_: Sanic, __: Any) -> None:
            await self.register_webhook()

        @webhook.listener("before_server_stop")
        async def close(_: Sanic, __: Any) -> None:
            if self._output is not None:
                await self._output.close()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authentic(request):
                return _refused("missing or wrong X-Telegram-Bot-Api-Secret-Token")
            body = request.json
            if not isinstance(body, dict):
                return _refused("the body must be a Telegram Update (a JSON object)", 400)
            try:
                update = Update.to_object(body)
                found = _telegram_message(update)
            except (TypeError, ValueError, AttributeError):
                return _refused("the body is not a Telegram Update", 400)
            if found is None:  # 200: Telegram would resend an update we answered with an error
                return response.json({"status": "ignored"})
            chat_id, text = found
            if update.callback_query is not None:
                await self._button_pressed(update.callback_query.id)
            await handle(
                UserMessage(text, self.get_output_channel(), chat_id, input_channel=self.name(), metadata=None)
            )
            return response.json({"status": "accepted"})

        return webhook


# --- Slack ------------------------------------------------------------------------------------


class _SlackBot(SlackBot):
    def __init__(self, token: Text, channel: Optional[Text], thread_id: Optional[Text], base_url: Optional[str]):
        super().__init__(token, channel, thread_id)
        if base_url:
            self.client.base_url = f"{base_url}/"
        self.client.timeout = PLATFORM_TIMEOUT_SECONDS


class Slack(_Turns, SlackInput):
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("slack")
        if values is None:
            return _disabled("slack")
        channel = cls(
            values["slack_token"],
            slack_retry_reason_header="x-slack-retry-reason",
            slack_retry_number_header="x-slack-retry-num",
            slack_signing_secret=values["slack_signing_secret"],
        )
        channel.base_url = api_url("slack")
        return channel

    def _is_supported_channel(self, slack_event: Dict, metadata: Dict) -> bool:
        """Direct messages only: answers carry the linked customer's data."""
        return self._is_direct_message(slack_event)

    def get_output_channel(self, channel: Optional[Text] = None, thread_id: Optional[Text] = None) -> OutputChannel:
        return _SlackBot(self.slack_token, channel, thread_id, self.base_url)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = self._remember_app(super().blueprint(self._wrap(on_new_message)))

        @webhook.middleware("request")
        async def verify_signature(request: Request) -> Optional[HTTPResponse]:
            if request.path.rstrip("/").endswith("/webhook") and not self.is_request_from_slack_authentic(request):
                return _refused("missing, wrong or expired X-Slack-Signature", 401)
            return None

        return webhook


# --- Facebook Messenger -----------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = PLATFORM_TIMEOUT_SECONDS
        return super().request(*args, **kwargs)


class Facebook(_Turns, FacebookInput):
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("facebook")
        if values is None:
            return _disabled("facebook")
        channel = cls(values["verify"], values["secret"], values["page-access-token"])
        channel.base_url = api_url("facebook")
        return channel

    @staticmethod
    def validate_hub_signature(app_secret: Text, request_payload: bytes, hub_signature_header: Text) -> bool:
        """``X-Hub-Signature-256`` only: ``sha256=`` + HMAC-SHA256(app secret, raw body), compared in
        constant time."""
        expected = "sha256=" + hmac.new(app_secret.encode(), request_payload, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), (hub_signature_header or "").encode())

    def _client(self) -> MessengerClient:
        client = MessengerClient(self.fb_access_token, session=_TimeoutSession())
        if self.base_url:
            client.graph_url = self.base_url
        return client

    def get_output_channel(self) -> OutputChannel:
        return MessengerBot(self._client())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = self._remember_app(Blueprint("fb_webhook", __name__))
        handle = self._wrap(on_new_message)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify_subscription(request: Request) -> HTTPResponse:
            given = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") != "subscribe" or not hmac.compare_digest(
                given.encode(), self.fb_verify.encode()
            ):
                return _refused("wrong hub.verify_token")
            return response.text(request.args.get("hub.challenge") or "")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.validate_hub_signature(
                self.fb_secret, request.body, request.headers.get("X-Hub-Signature-256", "")
            ):
                return _refused("missing or wrong X-Hub-Signature-256")
            body = request.json
            if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
                return _refused("the body must be a Messenger webhook event with an `entry` list", 400)
            messenger = Messenger(self.fb_access_token, handle)
            messenger.client = self._client()
            for event in _messaging_events(body["entry"]):
                messenger.last_message = event
                if event.get("message"):
                    await messenger.message(event, None)
                elif event.get("postback"):
                    await messenger.postback(event, None)
            return response.json({"status": "accepted"})

        return webhook


def _messaging_events(entries: List[Any]) -> List[Dict[str, Any]]:
    """Every messaging event of a (possibly batched) delivery, in order."""
    return [
        event
        for entry in entries
        if isinstance(entry, dict)
        for event in entry.get("messaging") or []
        if isinstance(event, dict)
    ]


# --- Twilio (SMS, WhatsApp) -------------------------------------------------------------------


def _twilio_http_client(base_url: Optional[str]) -> Any:
    from twilio.http.http_client import TwilioHttpClient

    class Client(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if base_url:
                parts = urlsplit(url)
                url = f"{base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
            return super().request(method, url, *args, **kwargs)

    return Client(timeout=PLATFORM_TIMEOUT_SECONDS)


class _TwilioOutput(TwilioOutput):
    """Answers a WhatsApp user from the WhatsApp sender (``whatsapp:<number>``) and an SMS user
    from the plain number, with one ``TWILIO_NUMBER`` for both (Rasa's used it as given)."""

    async def _send_message(self, message_data: Dict[Text, Any]) -> Any:
        if message_data.get("from_"):
            number = str(self.twilio_number or "").removeprefix("whatsapp:")
            on_whatsapp = str(message_data.get("to", "")).startswith("whatsapp:")
            message_data = {**message_data, "from_": f"whatsapp:{number}" if on_whatsapp else number}
        return await super()._send_message(message_data)


class Twilio(_Turns, TwilioInput):
    """SMS and WhatsApp through Twilio; ``From`` is ``+<number>`` or ``whatsapp:+<number>``."""

    webhook_url = ""
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("twilio")
        if values is None:
            return _disabled("twilio")
        channel = cls(values["account_sid"], values["auth_token"], values["twilio_number"], debug_mode=False)
        channel.webhook_url = values["webhook_url"]
        channel.base_url = api_url("twilio")
        return channel

    def get_output_channel(self) -> OutputChannel:
        output = _TwilioOutput(self.account_sid, self.auth_token, self.twilio_number)
        output.http_client = _twilio_http_client(self.base_url)
        return output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        from twilio.request_validator import RequestValidator

        webhook = self._remember_app(super().blueprint(self._wrap(on_new_message)))
        validator = RequestValidator(self.auth_token)

        @webhook.middleware("request")
        async def verify_signature(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            params = {key: request.form.get(key) for key in request.form} if request.form else {}
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(self.webhook_url, params, signature):
                return _refused("invalid Twilio signature")
            return None

        return webhook


# --- Callback (any other platform, through your gateway) --------------------------------------


class Callback(_Turns, CallbackInput):
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

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = self._remember_app(Blueprint("callback_webhook", __name__))
        handle = self._wrap(on_new_message)

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
            if sender.startswith(RESERVED_PREFIXES):
                return response.json({"error": "`sender` must not start with cust: or anon:"}, status=400)
            await handle(UserMessage(text, self.get_output_channel(), sender, input_channel=self.name()))
            return response.json({"status": "accepted"})

        return webhook
