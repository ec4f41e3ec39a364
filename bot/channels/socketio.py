"""Socket.io channel with verified identity, for the website widget (rasa environment).

Rasa's own ``socketio`` channel lets the client pick its ``session_id`` and joins
that room: anybody who guesses another visitor's session id receives their
messages. Here the server decides the conversation, once, when the socket
connects, and nothing the client sends later can change it:

- ``auth.customer_token`` (the host site's signed JWT, see ``bot.identity``) makes
  the conversation ``cust:<customer id>:web``: one conversation per customer, on
  every tab and device, the one the scheduler writes proactive messages to;
- without a valid token the visitor is anonymous: ``anon:<session>``, where the
  session is the random id this server handed out earlier (sent back as
  ``auth.session``) or a fresh one.

The socket joins exactly that room. Bot messages, including proactive ones sent
through ``trigger_intent?output_channel=socketio``, are emitted to the room.

Events (server side of the protocol in docs/WIDGET.md):
``session_request`` → ``session_confirm`` ``{session_id, verified, token_problem}``
then ``history`` ``{messages}``; ``user_uttered`` ``{message}`` → ``bot_uttered``
(Rasa's format), ``user_echo`` to the customer's other tabs; problems →
``error_message`` ``{code, text}``, never a stack trace.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.rest import secret_from_environment
from bot.identity import Identity, conversation_id_for, verify_token

logger = logging.getLogger(__name__)

WEB_SESSION = "web"
"""Every verified widget connection of a customer shares ``cust:<id>:web``."""
MAX_MESSAGE_CHARS = 2000
HISTORY_MESSAGES = 100
_ANON_SESSION = re.compile(r"^[a-f0-9]{32}$")

SERVER_PROBLEM_TEXT = (
    "Sorry, something went wrong on our side and I could not answer that. "
    "Please try again in a moment; if it keeps happening, ask for a person."
)


class _AppAwareBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, remembering the Sanic app (the agent lives on it)."""

    def __init__(self, channel: "VerifiedSocketIOInput", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel  # Sanic blueprints refuse plain attributes

    def register(self, app: Sanic, options: Dict[Text, Any]) -> None:
        self.ctx.channel.app = app
        super().register(app, options)


def anonymous_session(requested: object) -> str:
    """The anonymous session a client asked to resume, if it has our shape; else a fresh one.

    Anonymous sessions are 128-bit random ids this server handed out: knowing one is
    what proves it is yours. Verified customers never reach this.
    """
    if isinstance(requested, str) and _ANON_SESSION.match(requested):
        return requested
    return secrets.token_hex(16)


def history_messages(events: List[Dict[Text, Any]], limit: int = HISTORY_MESSAGES) -> List[Dict[Text, Any]]:
    """What the customer saw: their messages and the bot's, oldest first, the last ``limit``.

    A proactive message is a bot message that answered an ``EXTERNAL_*`` intent (the
    scheduler's trigger, which the customer never typed); the trigger itself is not shown.
    """
    messages: List[Dict[Text, Any]] = []
    proactive = False
    button_titles: Dict[str, str] = {}
    """payload → title of the buttons last shown: a click is stored as its payload, shown as its title."""
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            proactive = str(intent).startswith("EXTERNAL_")
            text = str(event.get("text") or "")
            if text.startswith("/"):
                text = button_titles.get(text, "")
            if not proactive and text:
                messages.append({"sender": "user", "text": text, "timestamp": event.get("timestamp")})
        elif kind == "bot":
            data = event.get("data") or {}
            message: Dict[Text, Any] = {
                "sender": "bot",
                "text": str(event.get("text") or ""),
                "timestamp": event.get("timestamp"),
                "proactive": proactive,
            }
            buttons = data.get("buttons") or []
            if buttons:
                button_titles = {str(b.get("payload", "")): str(b.get("title", "")) for b in buttons}
                message["quick_replies"] = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in buttons
                ]
            if message["text"] or buttons:
                messages.append(message)
    # Buttons only make sense on the newest message: older ones were answered already.
    for message in messages[:-1]:
        message.pop("quick_replies", None)
    return messages[-limit:]


class VerifiedSocketIOInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "VerifiedSocketIOInput":
        credentials = credentials or {}
        origins = credentials.get("cors_allowed_origins", "*")
        return cls(
            secret=secret_from_environment(),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            cors_allowed_origins=origins,
        )

    def __init__(self, secret: str, socketio_path: str = "/socket.io", cors_allowed_origins: Any = "*") -> None:
        self._secret = secret
        self.socketio_path = socketio_path
        self.cors_allowed_origins = cors_allowed_origins
        self.sio: Optional[AsyncServer] = None
        self.app: Optional[Sanic] = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For ``trigger_intent?output_channel=socketio``: emits to the conversation's room."""
        if self.sio is None:
            return None
        return SocketIOOutput(self.sio, "bot_uttered")

    async def _history(self, conversation_id: str) -> List[Dict[Text, Any]]:
        if self.app is None:
            return []
        tracker = await self.app.ctx.agent.tracker_store.retrieve_full_tracker(conversation_id)
        if tracker is None:
            return []
        return history_messages([event.as_dict() for event in tracker.events])

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins)
        blueprint = _AppAwareBlueprint(self, sio, self.socketio_path, "verified_socketio_webhook", __name__)
        self.sio = sio

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            auth = auth if isinstance(auth, dict) else {}
            identity: Identity = verify_token(auth.get("customer_token"), self._secret)
            session = WEB_SESSION if identity.customer_id else anonymous_session(auth.get("session"))
            conversation_id = conversation_id_for(identity, session)
            await sio.save_session(
                sid,
                {
                    "conversation_id": conversation_id,
                    "session": session,
                    "verified": identity.customer_id is not None,
                    "token_problem": identity.problem,
                },
            )
            await sio.enter_room(sid, conversation_id)
            return True

        @sio.on("session_request")
        async def session_request(sid: Text, _data: Any = None) -> None:
            state = await sio.get_session(sid)
            await sio.emit(
                "session_confirm",
                {
                    "session_id": state["session"],
                    "verified": state["verified"],
                    "token_problem": state["token_problem"],
                },
                room=sid,
            )
            try:
                messages = await self._history(state["conversation_id"])
            except Exception:  # the tracker store is down: the chat still works
                logger.exception("could not load the history of a widget conversation")
                messages = []
                await _problem(sid, "history_unavailable", "Your earlier messages could not be loaded just now.")
            await sio.emit("history", {"messages": messages}, room=sid)

        async def _problem(sid: Text, code: str, text: str) -> None:
            await sio.emit("error_message", {"code": code, "text": text}, room=sid)

        @sio.on("user_uttered")
        async def handle_message(sid: Text, data: Any) -> None:
            state = await sio.get_session(sid)
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str) or not text.strip():
                await _problem(sid, "empty_message", "That message was empty, so it was not sent.")
                return
            if len(text) > MAX_MESSAGE_CHARS:
                await _problem(
                    sid,
                    "message_too_long",
                    f"That message is too long ({len(text)} characters; at most {MAX_MESSAGE_CHARS}). "
                    "Please shorten it and send it again.",
                )
                return
            client_metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            metadata = {k: v for k, v in client_metadata.items() if k != "customer_token"}
            metadata["verified"] = state["verified"]
            if state["token_problem"]:
                metadata["token_problem"] = state["token_problem"]
            conversation_id = state["conversation_id"]
            await sio.emit("user_echo", {"text": text}, room=conversation_id, skip_sid=sid)
            message = UserMessage(
                text,
                SocketIOOutput(sio, "bot_uttered"),
                conversation_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("handling a widget message failed (conversation %s)", conversation_id)
                await sio.emit("bot_uttered", {"text": SERVER_PROBLEM_TEXT}, room=conversation_id)

        return blueprint
