"""Input bounds shared by every channel of ours (rasa environment, plain Python).

Measured by the security review: a 300 KB message took 14.6 s of NLU on the Rasa event
loop and stalled every other customer. Nothing a customer types is that long; the widget
limits its input to the same figure, so the limit never surprises a real customer.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Tuple

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 64
MAX_MESSAGE_ID_CHARS = 64
MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,%d}" % (MAX_MESSAGE_ID_CHARS - 1))
"""A client's message id (``bot.channels.rest``): a UUID, a ULID, ``<sender>-<n>``... fit."""
MAX_METADATA_BYTES = 2048
MAX_REQUEST_BYTES = 256 * 1024
"""The Rasa server's Sanic ``REQUEST_MAX_SIZE`` (bot/server.py): larger bodies get 413 before parsing."""
MAX_SOCKET_MESSAGE_BYTES = 64 * 1024
"""python-socketio / engine.io ``max_http_buffer_size`` of the widget's socket."""

ALLOWED_METADATA = {
    "locale": re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}"),
    "page": re.compile(r"https?://\S{1,500}"),
}
"""Client metadata kept in the tracker (everything else a client sends is dropped, never stored)."""


def message_problem(text: object) -> Optional[Tuple[str, str]]:
    """(code, text for the client) when ``text`` is not an acceptable customer message."""
    if not isinstance(text, str):
        return "message_not_text", "`message` must be a string"
    if not text.strip():
        return "empty_message", "That message was empty, so it was not sent."
    if len(text) > MAX_MESSAGE_CHARS:
        return (
            "message_too_long",
            f"That message is too long ({len(text)} characters; at most {MAX_MESSAGE_CHARS}). "
            "Please shorten it and send it again.",
        )
    return None


def message_id_problem(message_id: object) -> Optional[str]:
    """Text for the client when ``message_id`` (given) is not an acceptable message id."""
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        return (
            f"`message_id` must be a string of 1 to {MAX_MESSAGE_ID_CHARS} letters, digits and . _ : - "
            "(starting with a letter or digit), the same for every resend of one message"
        )
    return None


def allowed_metadata(metadata: object) -> Tuple[Dict[str, Any], Optional[str]]:
    """The allow-listed part of a client's metadata, or a problem for a body that must be refused."""
    if metadata is None:
        return {}, None
    if not isinstance(metadata, dict):
        return {}, "`metadata` must be an object"
    try:
        size = len(json.dumps(metadata, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return {}, "`metadata` must be plain JSON"
    if size > MAX_METADATA_BYTES:
        return {}, f"`metadata` is too large ({size} bytes; at most {MAX_METADATA_BYTES})"
    kept: Dict[str, Any] = {}
    for key, pattern in ALLOWED_METADATA.items():
        value = metadata.get(key)
        if isinstance(value, str) and pattern.fullmatch(value):
            kept[key] = value
    return kept, None
