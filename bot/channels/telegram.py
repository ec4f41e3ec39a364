"""Telegram (rasa environment), authenticated by the secret token Telegram sends with
every webhook call (security review, issue 14 finding 2).

- The ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``TELEGRAM_SECRET_TOKEN``
  (constant-time compare, 403 otherwise); we register the secret with ``setWebhook``'s
  ``secret_token`` once the server listens. Rasa's channel trusted any posted ``chat.id``.
- No Bot API call per message (Rasa's called ``getMe`` on every request), no
  ``/set_webhook`` route (Rasa's let anybody re-register the webhook).
- Private chats only: in a group every member would act as the customer who linked it.
- One Bot API client, made in the server's event loop. Rasa's made its client inside an
  ``asyncio.run()`` at start-up (the client then failed with "Event loop is closed" on every
  message) and another one per proactive message (``asyncio.run()`` inside the running
  server fails): Rasa's Telegram channel could neither answer nor send reminders here.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any, Dict, Optional, Text

from aiogram.bot.api import TelegramAPIServer
from aiogram.types import Update
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.availability import credentials_for
from bot.channels.webhooks import PLATFORM_TIMEOUT_SECONDS, OnNewMessage, Turns, api_url, disabled, refused

logger = logging.getLogger(__name__)

TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")
"""Telegram allows 1-256 of these characters; we ask for 32 at least, like our other secrets."""


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


class Telegram(Turns, TelegramInput):
    """Telegram, authenticated by the secret token Telegram sends with every webhook call."""

    secret_token = ""
    base_url: Optional[str] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        values = credentials_for("telegram")
        if values is None:
            return disabled("telegram")
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
                return refused("missing or wrong X-Telegram-Bot-Api-Secret-Token")
            body = request.json
            if not isinstance(body, dict):
                return refused("the body must be a Telegram Update (a JSON object)", 400)
            try:
                update = Update.to_object(body)
                found = _telegram_message(update)
            except (TypeError, ValueError, AttributeError):
                return refused("the body is not a Telegram Update", 400)
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
