"""Socket.io channel with verified identity, for the website widget (rasa environment).

Rasa's own ``socketio`` channel lets the client pick its ``session_id`` and joins
that room: anybody who guesses another visitor's session id receives their
messages. Here the server decides the conversation, once, when the socket
connects, and nothing the client sends later can change it:

- ``auth.customer_token`` (the host site's signed JWT, see ``bot.identity``) makes
  the conversation ``cust:<customer id>:web``: one conversation per customer, on
  every tab and device, the one the scheduler writes proactive messages to;
- without a valid token the visitor is anonymous: ``anon:web:<session>``, where the
  session is a random id this server handed out earlier, *signed* with a key derived
  from the token secret (sent back as ``auth.session``), or a fresh one. A label the
  server did not sign (say, a REST client's sender id) never resumes anything.

The socket joins exactly that room. Bot messages, including proactive ones sent
through ``trigger_intent?output_channel=socketio``, are emitted to the room; with several
Rasa replicas, through Redis to the room on every replica (``client_manager_from_environment``).

A verified identity lasts as long as its token: every event re-checks the token's
``exp``. After it, a message is refused with ``reauth_required`` and the widget
sends ``refresh`` with a fresh token from the host page; a token for another
customer, or none (the customer signed out), ends the verified connection.

Events (server side of the protocol in docs/WIDGET.md):
``session_request`` → ``session_confirm`` ``{session_id, verified, token_problem,
expires_at}`` then ``history`` ``{messages}``; ``user_uttered`` ``{message, message_id?}`` →
``bot_uttered`` (Rasa's format; a person's message also carries ``agent`` ``{name, event}``),
``user_echo`` to the customer's other tabs, and the acknowledgement (below);
``refresh`` ``{customer_token}`` → ``refresh_result`` ``{ok, expires_at}``; problems →
``error_message`` ``{code, text, message_id?}``, never a stack trace.

At-least-once from the widget, exactly-once here. The widget gives every message an id
(``message_id``, the ``bot.channels.limits`` pattern; a UUID), keeps it until the server
acknowledges it and sends it again, with the same id, after a reconnect. The acknowledgement is
the return value of ``user_uttered`` (socket.io's ack), sent only once the turn is over and in the
tracker store: ``{status: "handled" | "duplicate", message_id}``, ``{status: "refused", code,
text}`` (bad input, or the id reused with another text: ``message_id_reused``), ``{status:
"reauth_required"}`` (nothing handled; ``reauth_required`` carries the message and its id), or
``{status: "failed", code: "server_problem", text}`` (handling failed; a resend with the same id
is safe). A message with an id goes through ``bot.channels.exactly_once.handle_once`` (under the
conversation's lock, as on the REST channel): a resend of an id the conversation holds is not
handled again. Its recorded answer is sent to the resending socket only, each message marked
``replayed: true``: the widget drops a queued message whose id it finds in the history it loads
on connect, so a resend reaches us only when that history did not have it yet (the first attempt
was still being handled) and the widget may have missed the answer; it ignores a replay for an id
it already saw answered. Every answer to a message with an id carries ``reply_to`` (the id), and
``user_echo`` and history user messages carry the id too, so other tabs show a message once.
A message without an id (an older widget) is handled as it comes, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.channels.exactly_once import MessageIdReused, handle_once
from bot.channels.limits import MAX_SOCKET_MESSAGE_BYTES, allowed_metadata, message_id_problem, message_problem
from bot.channels.widget_messages import WidgetOutput, history_messages
from bot.conversation_ids import ANONYMOUS_WEB_PREFIX
from bot.identity import (
    Identity,
    audience_from_environment,
    conversation_id_for,
    secret_from_environment,
    verify_token,
)

logger = logging.getLogger(__name__)

WEB_SESSION = "web"
"""Every verified widget connection of a customer shares ``cust:<id>:web``."""
_ANON_SESSION = re.compile(r"(?P<id>[a-f0-9]{32})\.(?P<mac>[a-f0-9]{32})")

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


class AnonymousSessions:
    """Anonymous widget sessions: 128-bit random ids, signed by this server.

    Knowing an id this server handed out is what proves a session is yours; the signature
    (HMAC-SHA256 under a key derived from the token secret) makes sure the id was handed
    out by this server to a widget, so no other channel's conversation can be resumed.
    """

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"supportbot anonymous widget session v1", hashlib.sha256).digest()

    def _mac(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        session_id = secrets.token_hex(16)
        return f"{session_id}.{self._mac(session_id)}"

    def resume(self, requested: object) -> str:
        """The signed label a client asked to resume, if this server signed it; else a fresh one."""
        if isinstance(requested, str):
            match = _ANON_SESSION.fullmatch(requested)
            if match and hmac.compare_digest(match.group("mac"), self._mac(match.group("id"))):
                return requested
        return self.issue()

    @staticmethod
    def conversation_id(label: str) -> str:
        return f"{ANONYMOUS_WEB_PREFIX}{label.split('.', 1)[0]}"


REDIS_URL_VARIABLE = "SUPPORTBOT_SOCKETIO_REDIS_URL"
"""Set (``redis://:password@host:port/db``) when several Rasa replicas serve the widget."""
REDIS_CHANNEL = "lumen-socketio"


def client_manager_from_environment() -> Optional[AsyncRedisManager]:
    """python-socketio's Redis message queue when ``SUPPORTBOT_SOCKETIO_REDIS_URL`` is set.

    A socket's room lives in the replica it is connected to. With the queue, an emit to a room
    is delivered to that replica's sockets at once and published to every other replica, which
    delivers it to theirs: a proactive message or an answer handled by one replica reaches the
    customer's tabs on all of them. Without it (one Rasa process) rooms stay in this process.
    While Redis is away, this replica's own sockets still get everything; the others catch up
    from the history when they reconnect, and the queue reconnects by itself.
    """
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        return None
    options = {"socket_connect_timeout": 5, "socket_keepalive": True, "health_check_interval": 15}
    return AsyncRedisManager(url, channel=REDIS_CHANNEL, redis_options=options)


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
            audience=audience_from_environment(),
        )

    def __init__(
        self,
        secret: str,
        socketio_path: str = "/socket.io",
        cors_allowed_origins: Any = "*",
        audience: Optional[str] = None,
    ) -> None:
        self._secret = secret
        self._audience = audience
        self._anonymous = AnonymousSessions(secret)
        self.socketio_path = socketio_path
        self.cors_allowed_origins = cors_allowed_origins
        self.sio: Optional[AsyncServer] = None
        self.app: Optional[Sanic] = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For ``trigger_intent?output_channel=socketio`` and the console's agent messages
        (``tracker/events?output_channel=socketio``): emits to the conversation's room."""
        if self.sio is None:
            return None
        return WidgetOutput(self.sio, "bot_uttered")

    async def _history(self, conversation_id: str) -> List[Dict[Text, Any]]:
        if self.app is None:
            return []
        tracker = await self.app.ctx.agent.tracker_store.retrieve_full_tracker(conversation_id)
        if tracker is None:
            return []
        return history_messages([event.as_dict() for event in tracker.events])

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.cors_allowed_origins,
            max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES,
            client_manager=client_manager_from_environment(),
        )
        blueprint = _AppAwareBlueprint(self, sio, self.socketio_path, "verified_socketio_webhook", __name__)
        self.sio = sio

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            auth = auth if isinstance(auth, dict) else {}
            identity: Identity = verify_token(auth.get("customer_token"), self._secret, audience=self._audience)
            if identity.customer_id:
                session = WEB_SESSION
                conversation_id = conversation_id_for(identity, session)
            else:
                session = self._anonymous.resume(auth.get("session"))
                conversation_id = self._anonymous.conversation_id(session)
            await sio.save_session(
                sid,
                {
                    "conversation_id": conversation_id,
                    "session": session,
                    "verified": identity.customer_id is not None,
                    "customer_id": identity.customer_id,
                    "expires_at": identity.expires_at,
                    "token_problem": identity.problem,
                },
            )
            await sio.enter_room(sid, conversation_id)
            return True

        def expired(state: Dict[str, Any]) -> bool:
            """A verified connection whose token has expired may not act as that customer any more."""
            return bool(state.get("verified")) and (state.get("expires_at") or 0) <= time.time()

        async def end_verified(sid: Text, state: Dict[str, Any], reason: str) -> None:
            await sio.leave_room(sid, state["conversation_id"])
            await _problem(sid, reason, "You are no longer signed in to the chat.")
            await sio.disconnect(sid)

        @sio.on("refresh")
        async def refresh(sid: Text, data: Any = None) -> None:
            """A fresh token for the same customer extends the connection; anything else ends it."""
            state = await sio.get_session(sid)
            if not state.get("verified"):
                await sio.emit("refresh_result", {"ok": False, "reason": "not_signed_in"}, room=sid)
                return
            token = data.get("customer_token") if isinstance(data, dict) else None
            identity = verify_token(token, self._secret, audience=self._audience)
            if identity.customer_id is None or identity.customer_id != state.get("customer_id"):
                await sio.emit(
                    "refresh_result", {"ok": False, "reason": identity.problem or "other_customer"}, room=sid
                )
                await end_verified(sid, state, "signed_out")
                return
            state["expires_at"] = identity.expires_at
            await sio.save_session(sid, state)
            await sio.emit("refresh_result", {"ok": True, "expires_at": identity.expires_at}, room=sid)

        @sio.on("session_request")
        async def session_request(sid: Text, _data: Any = None) -> None:
            state = await sio.get_session(sid)
            if expired(state):
                await sio.emit("reauth_required", {"reason": "expired"}, room=sid)
                return
            await sio.emit(
                "session_confirm",
                {
                    "session_id": state["session"],
                    "verified": state["verified"],
                    "token_problem": state["token_problem"],
                    "expires_at": state.get("expires_at"),
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

        async def _problem(sid: Text, code: str, text: str, message_id: Optional[str] = None) -> None:
            data = {"code": code, "text": text}
            if message_id is not None:
                data["message_id"] = message_id
            await sio.emit("error_message", data, room=sid)

        @sio.on("user_uttered")
        async def handle_message(sid: Text, data: Any) -> Dict[Text, Any]:
            """Handles one customer message; the return value is the acknowledgement (module doc)."""
            state = await sio.get_session(sid)
            text = data.get("message") if isinstance(data, dict) else None
            message_id = data.get("message_id") if isinstance(data, dict) else None
            problem = message_problem(text)
            if problem is None and message_id is not None and (id_problem := message_id_problem(message_id)):
                problem = ("bad_message_id", id_problem)
            if problem:
                await _problem(sid, *problem, message_id=message_id if isinstance(message_id, str) else None)
                return {"status": "refused", "code": problem[0], "text": problem[1]}
            assert isinstance(data, dict) and isinstance(text, str)
            if expired(state):
                # Not handled as this customer, not dropped: the widget refreshes its token and resends.
                again = {"reason": "expired", "message": text, **({"message_id": message_id} if message_id else {})}
                await sio.emit("reauth_required", again, room=sid)
                return {"status": "reauth_required"}
            metadata, metadata_problem = allowed_metadata(data.get("metadata"))
            if metadata_problem:
                metadata = {}
            metadata["verified"] = state["verified"]
            if state["token_problem"]:
                metadata["token_problem"] = state["token_problem"]
            conversation_id = state["conversation_id"]
            echo = {"text": text, **({"message_id": message_id} if message_id else {})}
            await sio.emit("user_echo", echo, room=conversation_id, skip_sid=sid)
            message = UserMessage(
                text,
                WidgetOutput(sio, "bot_uttered", reply_to=message_id),
                conversation_id,
                input_channel=self.name(),
                message_id=message_id,
                metadata=metadata,
            )
            return await handle(sid, message, client_id=message_id)

        async def handle(sid: Text, message: UserMessage, client_id: Optional[str]) -> Dict[Text, Any]:
            """Hands the message to Rasa: once per ``client_id`` when the client sent one."""
            conversation_id = message.sender_id
            try:
                if client_id is None:
                    await on_new_message(message)
                    return {"status": "handled"}
                assert self.app is not None
                replay = WidgetOutput(sio, "bot_uttered", reply_to=client_id, to=sid)
                fresh = await handle_once(self.app.ctx.agent, message, replay=replay)
                return {"status": "handled" if fresh else "duplicate", "message_id": client_id}
            except MessageIdReused as exc:
                await _problem(sid, "message_id_reused", str(exc), message_id=client_id)
                return {"status": "refused", "code": "message_id_reused", "text": str(exc)}
            except Exception:
                logger.exception("handling a widget message failed (conversation %s)", conversation_id)
                await sio.emit("bot_uttered", {"text": SERVER_PROBLEM_TEXT}, room=conversation_id)
                return {"status": "failed", "code": "server_problem", "text": SERVER_PROBLEM_TEXT}

        return blueprint
