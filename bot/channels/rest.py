"""REST channel with verified identity and bounded input (rasa environment).

Same request and response format as Rasa's built-in ``rest`` channel
(``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``, answered
with the list of bot messages), which it replaces. The differences are the point:

- ``metadata.customer_token`` is verified here; the conversation id becomes
  ``cust:<customer id>:<sender>`` only when it is valid, else ``anon:rest:<sender>``
  (``bot.conversation_ids``). A client can therefore never address a verified
  conversation by choosing a sender id, and an anonymous client's conversation never
  carries profile data, nor shares a namespace with the widget's anonymous visitors.
- The token is removed before anything reaches the tracker store (it is a credential,
  and transcripts are read by people); other client metadata is allow-listed and
  size-capped (``bot.channels.limits``).
- A body that is not a JSON object, a ``message`` that is not a non-empty string or is
  longer than the widget's limit, a ``sender`` that is not a short string: 400 with a
  message saying what is wrong, before Rasa sees anything. (Rasa's own channel answered
  an array body with 500 and spent 14.6 s of NLU on a 300 KB message.)
- When handling the message fails, the client gets 503 with a message instead of an
  empty 200 (which looked like "the bot had nothing to say").
- The client cannot choose the ``input_channel`` (linked messaging identities are
  looked up per channel, so a claimed channel name must not be trusted).
- An optional ``message_id`` (1-64 letters, digits and ``._:-``; 400 otherwise) makes a resend
  safe: a client whose request failed (502 from nginx when a replica died under it, a timeout)
  sends the message again with the same id, and if the conversation already holds it, it is not
  handled again; the client gets the answer recorded for it, in the same format
  (``bot.channels.exactly_once``, which checks under the conversation's lock). The same id with
  another text is refused with 409. Without an id, a message is handled as it comes: a client
  that retries must send one.
"""

from __future__ import annotations

import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, NamedTuple, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.exactly_once import MessageIdReused, handle_once
from bot.channels.limits import MAX_SENDER_CHARS, allowed_metadata, message_id_problem, message_problem
from bot.conversation_ids import ANONYMOUS_REST_PREFIX
from bot.identity import Identity, audience_from_environment, conversation_id_for, secret_from_environment, verify_token

logger = logging.getLogger(__name__)

__all__ = ["VerifiedRestInput", "secret_from_environment"]

SERVER_PROBLEM = "Sorry, something went wrong on our side and your message was not answered. Please send it again."


class BadRequest(ValueError):
    """A request this channel refuses with 400; the message is shown to the client."""


class Parsed(NamedTuple):
    conversation_id: str
    text: str
    metadata: Dict[Text, Any]
    message_id: Optional[str]
    """The client's id of this message (the same on every resend), if it sent one."""


class VerifiedRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "VerifiedRestInput":
        return cls(secret=secret_from_environment(), audience=audience_from_environment())

    def __init__(self, secret: str, audience: Optional[str] = None) -> None:
        self._secret = secret
        self._audience = audience

    def parse(self, request: Request) -> Parsed:
        """What a valid request asks for, else BadRequest."""
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest('the body must be JSON: {"sender": ..., "message": ..., "metadata": {...}}') from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object with `sender` and `message`")
        problem = message_problem(body.get("message"))
        if problem:
            raise BadRequest(problem[1])
        sender = body.get("sender")
        if sender is not None and (not isinstance(sender, str) or len(sender) > MAX_SENDER_CHARS):
            raise BadRequest(f"`sender` must be a string of at most {MAX_SENDER_CHARS} characters")
        message_id = body.get("message_id")
        if message_id is not None and (problem_text := message_id_problem(message_id)):
            raise BadRequest(problem_text)
        raw_metadata = body.get("metadata")
        token = raw_metadata.get("customer_token") if isinstance(raw_metadata, dict) else None
        identity: Identity = verify_token(token, self._secret, audience=self._audience)
        if isinstance(raw_metadata, dict):
            raw_metadata = {k: v for k, v in raw_metadata.items() if k != "customer_token"}
        metadata, metadata_problem = allowed_metadata(raw_metadata)
        if metadata_problem:
            raise BadRequest(metadata_problem)
        metadata["verified"] = identity.customer_id is not None
        if identity.problem:
            metadata["token_problem"] = identity.problem
        conversation_id = conversation_id_for(identity, sender, anonymous_prefix=ANONYMOUS_REST_PREFIX)
        return Parsed(conversation_id, str(body["message"]), metadata, message_id)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("verified_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                parsed = self.parse(request)
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=400)
            collector = CollectingOutputChannel()
            message = UserMessage(
                parsed.text,
                collector,
                parsed.conversation_id,
                input_channel=self.name(),
                message_id=parsed.message_id,
                metadata=parsed.metadata,
            )
            try:
                if parsed.message_id is None:
                    await on_new_message(message)
                else:
                    await handle_once(request.app.ctx.agent, message)
            except MessageIdReused as exc:
                return response.json({"error": str(exc)}, status=409)
            except (CancelledError, Exception):
                logger.exception("handling a REST message failed (conversation %s)", parsed.conversation_id)
                return response.json({"error": SERVER_PROBLEM, "messages": collector.messages}, status=503)
            return response.json(collector.messages)

        return webhook
