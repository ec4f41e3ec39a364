"""Customer ids and conversation ids: one pattern, one builder, one parser (plain Python).

No Rasa import: the Rasa server (``bot.identity``, the channels), the action server
(``actions.context``), the console, the importer and the scheduler all read ids through
this module, so a conversation id means the same customer everywhere (security review,
issue 14 finding 10: the console once parsed ``cust:C77:b`` differently from the actions).

Shapes:

- customer id: 1-64 characters of letters, digits, ``_ . -``, starting with a letter or
  digit; never a ``:`` (the separator of conversation ids) and never a newline
  (``fullmatch``, not ``match``: ``$`` would accept a trailing ``\\n``);
- ``cust:<customer id>:<session>``: a verified customer (only our channels build these,
  after verifying the customer token);
- ``anon:rest:<session>``: an anonymous REST client; ``anon:web:<session>``: an anonymous
  widget visitor. Separate namespaces so that knowing a REST client's label never opens a
  widget conversation, and the other way round (finding 15);
- anything else: a messaging platform's user id (Telegram chat id, ``whatsapp:+4930…``),
  anonymous until linked (``channel_identities``).

Sessions are 1-64 characters of letters, digits, ``_ -``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

VERIFIED_PREFIX = "cust:"
ANONYMOUS_PREFIX = "anon:"
ANONYMOUS_REST_PREFIX = "anon:rest:"
ANONYMOUS_WEB_PREFIX = "anon:web:"
RESERVED_PREFIXES = (VERIFIED_PREFIX, ANONYMOUS_PREFIX)
"""A messaging sender id never starts with these: only our channels create them."""

CUSTOMER_ID_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
SESSION_RE = r"[A-Za-z0-9_-]{1,64}"
CUSTOMER_ID = re.compile(CUSTOMER_ID_RE)
SESSION = re.compile(SESSION_RE)
_VERIFIED = re.compile(rf"cust:(?P<customer>{CUSTOMER_ID_RE}):(?P<session>{SESSION_RE})")
_UNSAFE_SESSION = re.compile(r"[^A-Za-z0-9_-]")
CUSTOMER_ID_RULE = "up to 64 letters, digits or . _ - (starting with a letter or digit)"


def is_customer_id(value: object) -> bool:
    return isinstance(value, str) and CUSTOMER_ID.fullmatch(value) is not None


def clean_session(value: object) -> str:
    """A client-supplied session label made safe (unsafe characters dropped, 64 at most); may be ''."""
    return _UNSAFE_SESSION.sub("", str(value or ""))[:64]


def verified_conversation(customer_id: str, session: str) -> str:
    if not is_customer_id(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    if not SESSION.fullmatch(session):
        raise ValueError(f"not a session label: {session!r}")
    return f"{VERIFIED_PREFIX}{customer_id}:{session}"


@dataclass(frozen=True)
class ConversationKind:
    """What a conversation id says about who is on the other side."""

    kind: str
    """``verified`` | ``anonymous`` | ``messaging`` | ``invalid`` (a reserved prefix in a wrong shape)."""
    customer_id: Optional[str] = None
    """Set for ``verified`` only; a messaging id's customer comes from its link, not from the id."""


def parse_conversation_id(conversation_id: str) -> ConversationKind:
    if conversation_id.startswith(VERIFIED_PREFIX):
        match = _VERIFIED.fullmatch(conversation_id)
        if match is None:
            return ConversationKind("invalid")
        return ConversationKind("verified", match.group("customer"))
    if conversation_id.startswith(ANONYMOUS_PREFIX):
        return ConversationKind("anonymous")
    if not conversation_id:
        return ConversationKind("invalid")
    return ConversationKind("messaging")


def customer_of_conversation(conversation_id: str) -> Optional[str]:
    """The verified customer a ``cust:`` conversation id names, else None."""
    return parse_conversation_id(conversation_id).customer_id
