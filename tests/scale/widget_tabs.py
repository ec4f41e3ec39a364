"""Widget tabs that keep talking through a replica kill, delivering as widget/src/widget.js does.

Each message has its id and is sent one at a time, kept until the server acknowledges it. When
the connection is lost, the tab connects again (to the other replica, where nginx would send it)
and sends every unacknowledged message again with its id, unless the history that came with the
new connection holds that id. Counted afterwards in the tracker store (``tests/scale/traffic.py``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.sio_client import SocketIOClient

QUESTIONS = (
    "how many loyalty points do I have?",
    "when does my subscription renew?",
    "what plan am I on?",
    "thanks",
)


@dataclass
class WidgetTab:
    customer: str
    sent: list[tuple[str, str]] = field(default_factory=list)
    """(message id, text) in the order the customer typed them."""
    acks: dict[str, Any] = field(default_factory=dict)
    resent: list[str] = field(default_factory=list)
    """Ids sent again after a lost connection."""
    dropped: list[str] = field(default_factory=list)
    """Ids not sent again because the history held them."""
    reconnects: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def conversation_id(self) -> str:
        return f"cust:{self.customer}:web"


def talk(
    tab: WidgetTab,
    urls: list[str],
    token: Callable[[], str],
    *,
    keep_on: Callable[[], bool],
    progress: list[int],
    lock: threading.Lock,
    timeout: float = 900,
) -> None:
    """Types messages while ``keep_on()`` holds, and delivers every one of them before returning.
    ``urls``: the replicas, the first one tried first; a lost connection moves to the next."""
    deadline = time.monotonic() + timeout
    replica = 0
    delivered = 0  # tab.sent[:delivered] are acknowledged or found in a history
    tried: set[str] = set()
    while keep_on() or delivered < len(tab.sent):
        if time.monotonic() > deadline:
            tab.problems.append(f"{tab.customer}: {len(tab.sent) - delivered} messages undelivered after {timeout} s")
            return
        try:
            client = SocketIOClient(urls[replica], auth={"customer_token": token()})
            client.emit("session_request")
            held = {m.get("message_id") for m in client.wait_for("history", timeout=120)["messages"]}
        except Exception:  # refused, reset, closed: this replica is gone; the widget tries again
            replica = (replica + 1) % len(urls)
            time.sleep(0.5)
            continue
        with client:
            while keep_on() or delivered < len(tab.sent):
                if delivered == len(tab.sent):
                    n = len(tab.sent)
                    tab.sent.append((str(uuid.uuid4()), f"{QUESTIONS[n % len(QUESTIONS)]} #{n}"))
                message_id, text = tab.sent[delivered]
                if message_id in held:
                    tab.dropped.append(message_id)
                    delivered += 1
                    continue
                if message_id in tried:
                    tab.resent.append(message_id)
                tried.add(message_id)
                try:
                    ack_id = client.emit("user_uttered", {"message": text, "message_id": message_id}, ack=True)
                    assert ack_id is not None
                    tab.acks[message_id] = client.wait_for_ack(ack_id, timeout=120)
                except Exception:  # the connection died under the message: it stays unacknowledged
                    tab.reconnects += 1
                    replica = (replica + 1) % len(urls)
                    break
                delivered += 1
                with lock:
                    progress[0] += 1
