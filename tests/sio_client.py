"""A minimal socket.io (protocol 5, engine.io 4) client over one websocket, for tests that
talk to the widget's channel as an outside program would: with chosen ``auth`` data, a
replayed session id, an expired token. The browser tests use the real widget instead.

Only what the tests need: connect to the default namespace with ``auth``, emit events (asking
for an acknowledgement if told), wait for events and acknowledgements, answer the server's
pings. Packets: engine.io ``0`` open, ``2`` ping, ``3`` pong, ``4`` message; socket.io (inside
``4``) ``0`` connect, ``1`` disconnect, ``2`` event (``2<ack id>[...]`` asks for an ack), ``3``
ack (``3<ack id>[...]``), ``4`` connect error.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
from typing import Any
from urllib.parse import urlparse

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

_ACK = re.compile(r"3(\d+)")


class SocketIOError(AssertionError):
    pass


class SocketIOClient:
    def __init__(self, url: str, *, auth: dict[str, Any] | None = None, path: str = "/socket.io") -> None:
        parsed = urlparse(url)
        scheme = "wss" if parsed.scheme == "https" else "ws"
        self._ws: ClientConnection = connect(
            f"{scheme}://{parsed.netloc}{path}/?EIO=4&transport=websocket", open_timeout=30, max_size=2**22
        )
        self.events: list[tuple[str, Any]] = []
        self.acks: dict[int, list[Any]] = {}
        """ack id → the arguments the server acknowledged with."""
        self._ack_ids = itertools.count(1)
        self.disconnected = False
        opening = self._ws.recv(timeout=30)
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise SocketIOError(f"no engine.io open packet: {opening!r}")
        self._ws.send("40" + json.dumps(auth or {}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            packet = self._recv(deadline - time.monotonic())
            if packet is None:
                continue
            if packet.startswith("0"):
                return
            if packet.startswith("4"):
                raise SocketIOError(f"connection refused: {packet[1:]}")
        raise SocketIOError("no socket.io connect answer")

    def _recv(self, timeout: float) -> str | None:
        """One socket.io packet (engine.io framing removed), answering pings; None on a ping."""
        try:
            packet = self._ws.recv(timeout=max(timeout, 0.01))
        except TimeoutError:
            return None
        except ConnectionClosed:
            self.disconnected = True
            raise
        assert isinstance(packet, str)
        if packet == "2":
            self._ws.send("3")
            return None
        if not packet.startswith("4"):
            return None
        body = packet[1:]
        if body.startswith("1"):
            self.disconnected = True
        if body.startswith("2"):
            name, *args = json.loads(body[1:])
            self.events.append((name, args[0] if args else None))
        if ack := _ACK.match(body):
            self.acks[int(ack.group(1))] = json.loads(body[ack.end() :])
        return body

    def emit(self, event: str, data: Any = None, *, ack: bool = False) -> int | None:
        """Send ``event``; with ``ack``, ask for an acknowledgement and return its id."""
        ack_id = next(self._ack_ids) if ack else None
        packet = json.dumps([event, data if data is not None else {}])
        self._ws.send(f"42{ack_id if ack_id is not None else ''}{packet}")
        return ack_id

    def wait_for_ack(self, ack_id: int, *, timeout: float = 120) -> Any:
        """The first argument of the server's acknowledgement ``ack_id`` (None if it sent none)."""
        deadline = time.monotonic() + timeout
        while ack_id not in self.acks:
            if self.disconnected:
                raise SocketIOError(f"disconnected while waiting for ack {ack_id}; got {self.events}")
            if time.monotonic() > deadline:
                raise SocketIOError(f"no ack {ack_id} within {timeout} s; got {self.events}")
            try:
                self._recv(min(1.0, deadline - time.monotonic()))
            except ConnectionClosed:
                self.disconnected = True
        args = self.acks[ack_id]
        return args[0] if args else None

    def wait_for(self, event: str, *, timeout: float = 120, after: int = 0) -> Any:
        """The data of the first ``event`` received at or after index ``after`` of ``events``."""
        deadline = time.monotonic() + timeout
        while True:
            for name, data in self.events[after:]:
                if name == event:
                    return data
            if self.disconnected:
                raise SocketIOError(f"disconnected while waiting for {event}; got {self.events}")
            if time.monotonic() > deadline:
                raise SocketIOError(f"no {event} within {timeout} s; got {self.events}")
            try:
                self._recv(min(1.0, deadline - time.monotonic()))
            except ConnectionClosed:
                self.disconnected = True

    def pump(self, seconds: float) -> None:
        """Receive whatever arrives for ``seconds`` (to show that nothing else does)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.disconnected:
            try:
                self._recv(deadline - time.monotonic())
            except ConnectionClosed:
                self.disconnected = True

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def close(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            self._ws.send("41")
        self._ws.close()

    def __enter__(self) -> SocketIOClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
