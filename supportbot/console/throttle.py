"""Limits on sign-in attempts that hold before any password is hashed.

Each sign-in verifies an argon2id hash (64 MiB of memory, about a second of a core), so
without limits an anonymous caller could exhaust the web process by posting wrong passwords
(security review, issue 14 finding 8). Three limits, checked in this order and all before
hashing:

- per source address: ``per_source`` attempts in a sliding ``window``;
- over all sources: ``overall`` attempts in the same window (a botnet, or many addresses
  behind one proxy);
- at most ``concurrent_hashes`` verifications at once (a semaphore); an attempt that cannot
  get a slot within ``hash_wait`` seconds is answered "busy" instead of queueing without end.

The per-account lockout (``auth.MAX_FAILED_LOGINS``) is in the database; these counters live
in the process (one web process serves the console; behind several, each has its own, so the
effective limits multiply by their number: say so in the deployment). Written here rather
than taken from a library because neither environment has a rate-limiting package and the
logic is a sliding-window log of a few lines.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class SignInLimits:
    per_source: int = 10
    overall: int = 100
    window: float = 300.0
    """Seconds."""
    concurrent_hashes: int = 2
    """The machines here have two cores; more hashes at once only queue for them."""
    hash_wait: float = 20.0
    """Seconds an attempt waits for a hashing slot before it is answered "busy"."""


class SignInGuard:
    """Admits sign-in attempts within the limits; thread-safe (sign-in runs in worker threads)."""

    def __init__(self, limits: SignInLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or SignInLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._overall: deque[float] = deque()
        self._by_source: dict[str, deque[float]] = {}
        self._hashes = threading.BoundedSemaphore(self.limits.concurrent_hashes)

    def admit(self, source: str) -> float | None:
        """Count an attempt from ``source``; ``None`` if admitted, else seconds until one would be."""
        now = self._clock()
        start = now - self.limits.window
        with self._lock:
            _drop_before(self._overall, start)
            if len(self._overall) >= self.limits.overall:
                return self._overall[0] - start
            mine = self._by_source.setdefault(source, deque())
            _drop_before(mine, start)
            if len(mine) >= self.limits.per_source:
                return mine[0] - start
            mine.append(now)
            self._overall.append(now)
            if len(self._by_source) > 2 * self.limits.overall:
                self._forget_idle(start)
            return None

    def _forget_idle(self, start: float) -> None:
        """Sources with no attempt in the window: at most ``overall`` have one, so memory stays bounded."""
        for source in [s for s, times in self._by_source.items() if not times or times[-1] < start]:
            del self._by_source[source]

    @contextmanager
    def hashing(self) -> Iterator[bool]:
        """A hashing slot: yields ``False`` when none came free within ``hash_wait`` seconds."""
        acquired = self._hashes.acquire(timeout=self.limits.hash_wait)
        try:
            yield acquired
        finally:
            if acquired:
                self._hashes.release()


def _drop_before(times: deque[float], start: float) -> None:
    while times and times[0] <= start:
        times.popleft()
