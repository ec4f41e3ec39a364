"""Link buttons for the widget: a button that opens a page instead of sending a message (rasa env).

A custom action marks a button as a link with ``{"title": ..., "type": "web_url", "url": ...}``
(the help centre's "Open the article", ``actions/helpcentre.py``). Rasa's own socket.io output
keeps only ``title`` and ``payload`` of a button (and fails on a button without a payload), so
the widget could not tell a link from a reply. ``quick_reply`` turns one button into the
widget's quick reply: ``{"content_type": "web_url", "title", "url"}`` for a link whose URL is
``http(s)``, ``{"content_type": "text", "title", "payload"}`` otherwise; a link with any other
scheme is dropped here (and the widget checks the scheme again with ``new URL()`` before it
builds the ``<a>``). The same function shapes the live message (``LinkButtonOutput``) and the
history (``bot.channels.widget_messages.history_messages``), so both look alike.

Only the socket.io channel gets link buttons; on messaging channels the URL stays in the text.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text
from urllib.parse import urlsplit

from rasa.core.channels.socketio import SocketIOOutput

LINK_TYPE = "web_url"
LINK_SCHEMES = ("http", "https")


def is_link(button: Dict[Text, Any]) -> bool:
    return button.get("type") == LINK_TYPE or (bool(button.get("url")) and not button.get("payload"))


def safe_url(candidate: object) -> Optional[str]:
    """The URL if it is an absolute http(s) URL with a host; else None."""
    if not isinstance(candidate, str) or not candidate or any(c.isspace() for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    return candidate if parts.scheme.lower() in LINK_SCHEMES and parts.netloc else None


def quick_reply(button: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """The widget's form of one button; None for a link that must not be shown."""
    title = str(button.get("title", ""))
    if is_link(button):
        url = safe_url(button.get("url"))
        return {"content_type": LINK_TYPE, "title": title, "url": url} if url else None
    return {"content_type": "text", "title": title, "payload": str(button.get("payload", ""))}


def quick_replies(buttons: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    return [reply for reply in (quick_reply(b) for b in buttons) if reply is not None]


class LinkButtonOutput(SocketIOOutput):
    """Rasa's socket.io output (text split at blank lines, buttons on the last part), keeping link buttons."""

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        parts = text.strip().split("\n\n") or [text]
        messages: List[Dict[Text, Any]] = [{"text": part, "quick_replies": []} for part in parts]
        messages[-1]["quick_replies"] = quick_replies(buttons)
        for message in messages:
            await self._send_message(recipient_id, message)
