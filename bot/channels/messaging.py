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

- ``telegram``: the secret token Telegram sends (``bot.channels.telegram``);
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

What all of them share (the switched-off stand-in, the API address override, what runs
around each turn: an earlier owner's messages purged after a re-link, see
``bot.channels.fresh_start``) is in ``bot.channels.webhooks``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Dict, List, Optional, Text
from urllib.parse import urlsplit

import requests
from fbmessenger import MessengerClient
from rasa.core.channels.callback import CallbackInput
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput, Messenger, MessengerBot
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.availability import credentials_for
from bot.channels.webhooks import PLATFORM_TIMEOUT_SECONDS, OnNewMessage, Turns, api_url, disabled, refused
from bot.conversation_ids import RESERVED_PREFIXES

# --- Slack ------------------------------------------------------------------------------------


class _SlackBot(SlackBot):
    def __init__(self, token: Text, channel: Optional[Text], thread_id: Optional[Text], base_url: Optional[str]):
        super().__init__(token, channel, thread_id)
        if base_url:
            self.client.base_url = f"{base_url}/"
        self.client.timeout = PLATFORM_TIMEOUT_SECONDS


class Slack(Turns, SlackInput):
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("slack")
        if values is None:
            return disabled("slack")
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
                return refused("missing, wrong or expired X-Slack-Signature", 401)
            return None

        return webhook


# --- Facebook Messenger -----------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = PLATFORM_TIMEOUT_SECONDS
        return super().request(*args, **kwargs)


class Facebook(Turns, FacebookInput):
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("facebook")
        if values is None:
            return disabled("facebook")
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
                return refused("wrong hub.verify_token")
            return response.text(request.args.get("hub.challenge") or "")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.validate_hub_signature(
                self.fb_secret, request.body, request.headers.get("X-Hub-Signature-256", "")
            ):
                return refused("missing or wrong X-Hub-Signature-256")
            body = request.json
            if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
                return refused("the body must be a Messenger webhook event with an `entry` list", 400)
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


class Twilio(Turns, TwilioInput):
    """SMS and WhatsApp through Twilio; ``From`` is ``+<number>`` or ``whatsapp:+<number>``."""

    webhook_url = ""
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("twilio")
        if values is None:
            return disabled("twilio")
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
                return refused("invalid Twilio signature")
            return None

        return webhook


# --- Callback (any other platform, through your gateway) --------------------------------------


class Callback(Turns, CallbackInput):
    """Rasa's callback channel with a shared token: the gateway for any other platform.

    In: ``POST /webhooks/callback/webhook`` ``{"sender", "message"}`` with
    ``Authorization: Bearer $CALLBACK_TOKEN``. Out: every bot message (answers and
    proactive ones) is POSTed as JSON to ``$CALLBACK_URL`` with the same token.
    """

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("callback")
        if values is None:
            return disabled("callback")
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
