"""What the widget is sent: live bot messages (``WidgetOutput``) and the history (rasa environment).

Both show who wrote a message (a person from support's name, ``agent_of``) and link buttons
(``bot.channels.link_buttons``) alike. Used by the widget's channel, ``bot.channels.socketio``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from socketio import AsyncServer

from bot.channels.link_buttons import LinkButtonOutput, quick_replies

HISTORY_MESSAGES = 100


def agent_of(metadata: Any) -> Optional[Dict[Text, Any]]:
    """Who wrote a bot message, if a person did: ``{"name", "event"}`` for the widget.

    The console appends an agent's message as a bot event whose metadata holds ``agent``
    (``supportbot.console.takeover``); only the name and the kind of message (``joined``,
    ``message``, ``left``) go to the customer, never the staff account's id.
    """
    agent = metadata.get("agent") if isinstance(metadata, dict) else None
    if not isinstance(agent, dict) or not isinstance(agent.get("name"), str):
        return None
    event = agent.get("event")
    return {"name": agent["name"][:80], "event": event if event in ("joined", "message", "left") else "message"}


class WidgetOutput(LinkButtonOutput):
    """Rasa's socket.io output, keeping who wrote a message (an agent's name travels with it)
    and link buttons (``bot.channels.link_buttons``).

    Rasa passes a bot event's metadata to ``send_text_message`` as keyword arguments
    (``BotUttered.message()``), which Rasa's own socket.io output drops.

    The answer to a message the widget sent with its ``message_id`` carries ``reply_to`` (that id),
    so the widget knows which of its messages was answered. ``to``: a socket id to emit to instead
    of the conversation's room, with ``replayed: true`` on each message (the recorded answer to a
    resend, for the resending socket only: the other tabs had it when it was new).
    """

    def __init__(
        self, sio: AsyncServer, bot_message_evt: Text, *, reply_to: Optional[str] = None, to: Optional[str] = None
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.reply_to = reply_to
        self.to = to

    def _marked(self, message: Dict[Text, Any]) -> Dict[Text, Any]:
        if self.reply_to is None:
            return message
        marked = {**message, "reply_to": self.reply_to}
        if self.to is not None:
            marked["replayed"] = True
        return marked

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        message = self._marked(response) if isinstance(response, dict) else response
        await self.sio.emit(self.bot_message_evt, message, room=self.to or socket_id)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """Rasa emits a custom payload's keys as ``emit`` arguments (``data``, ``room``...); the same
        here, with the reply marks on ``data`` and a replay always to its socket."""
        arguments = dict(json_message)
        if isinstance(arguments.get("data"), dict):
            arguments["data"] = self._marked(arguments["data"])
        arguments["room"] = self.to or arguments.get("room", recipient_id)
        await self.sio.emit(self.bot_message_evt, **arguments)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        agent = agent_of(kwargs)
        for part in text.strip().split("\n\n"):
            message: Dict[Text, Any] = {"text": part}
            if agent:
                message["agent"] = agent
            await self._send_message(recipient_id, message)


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
                shown: Dict[Text, Any] = {"sender": "user", "text": text, "timestamp": event.get("timestamp")}
                if event.get("message_id"):
                    shown["message_id"] = str(event["message_id"])  # the widget drops a queued resend of it
                messages.append(shown)
        elif kind == "bot":
            data = event.get("data") or {}
            message: Dict[Text, Any] = {
                "sender": "bot",
                "text": str(event.get("text") or ""),
                "timestamp": event.get("timestamp"),
                "proactive": proactive,
            }
            agent = agent_of(event.get("metadata"))
            if agent:
                message["agent"] = agent
                message["proactive"] = False  # a person writing, not the scheduler
            buttons = data.get("buttons") or []
            if buttons:
                button_titles = {
                    str(b.get("payload", "")): str(b.get("title", "")) for b in buttons if b.get("payload")
                }
                message["quick_replies"] = quick_replies(buttons)
            if message["text"] or buttons:
                messages.append(message)
    # Buttons only make sense on the newest message: older ones were answered already.
    for message in messages[:-1]:
        message.pop("quick_replies", None)
    return messages[-limit:]
