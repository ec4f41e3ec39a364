"""A conversation lock on Redis that holds across Rasa replicas (rasa environment).

Rasa serialises the messages of one conversation with a ticket lock from its lock store.
Its ``RedisLockStore`` keeps each lock as one JSON value that every step reads, changes in
Python and writes back (``GET`` ... ``SET``): two replicas issuing a ticket at the same moment
both read the same lock, both write, one ticket is lost, and both go ahead on the same
conversation (rasa#9213); a replica deleting a lock it saw empty deletes a ticket another
replica has just added. Waiting is a one-second sleep between reads (rasa#7921). And a
replica killed while holding a ticket blocks its conversation for the whole lock lifetime.

Here every step is one Lua script, which Redis runs atomically:

- a ticket is a random token in a sorted set ordered by a counter (``INCR``): first come,
  first served, and no two callers can ever hold the same ticket;
- a ticket is a *lease*: it expires ``lease_seconds`` after it was last renewed; a thread of
  the replica renews its holders' and waiters' tickets while they live (a thread, because the
  event loop can be busy with NLU for seconds), so a replica that dies (``kill -9``) releases
  its conversations within one lease, while one that is only slow keeps them; a holder stops
  renewing after Rasa's lock lifetime (``TICKET_LOCK_LIFETIME``, 60 s), as Rasa's own lock expires;
- time is Redis's own clock (``TIME``), so replicas whose clocks differ agree on expiry;
- a waiter sleeps in ``BLPOP`` on its own wake-up key, which the release that makes it the
  holder pushes to: the lock changes hands in one round trip, not after a one-second sleep;
- if Redis itself restarts (its locks are gone: nothing is persisted), every holder puts its
  ticket back at the front on its next renewal (a quarter lease), a waiter whose ticket vanished
  queues again half a lease later, and for 1.5 leases after Redis lost its epoch key nobody new is
  given a lock: so no two messages of a conversation are processed at once even then, and no
  replica needs a restart (the client reconnects by itself).

Configured in ``endpoints.production.yml``::

    lock_store:
      type: bot.lock_store.RedisTicketLockStore
      url: <host>   port: <port>   password: <password>   db: 1   lease_seconds: 10

Runs inside Rasa: imports only what the rasa env has (Rasa, redis 4.6).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, List, NamedTuple, Optional, Text

import redis
import redis.asyncio as aioredis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from redis.backoff import ExponentialBackoff

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 10.0
IDLE_KEYS_MS = 24 * 3600 * 1000
"""A conversation's lock keys vanish a day after their last use."""

# KEYS: queue (zset token -> order), expiry (hash token -> ms), counter. Time in ms from Redis.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
_TOUCH = "for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end "
# KEYS[4] the epoch (set once, never expires), KEYS[5] "recovering": an epoch that is gone means
# Redis lost every lock (a restart without persistence); for 1.5 leases after that nobody new is
# given a lock, so every live holder (its renewer runs every quarter lease) is back in front first.
_EPOCH = (
    "if redis.call('EXISTS', KEYS[4]) == 0 then "
    "redis.call('SET', KEYS[4], now) redis.call('SET', KEYS[5], 1, 'PX', math.floor(ARGV[2] * 1.5)) end "
)
_GRANTED = "redis.call('ZRANGE', KEYS[1], 0, 0)[1] == ARGV[1] and redis.call('EXISTS', KEYS[5]) == 0"
_PURGE = (
    "while true do "
    "local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1] "
    "if not head then break end "
    "local expires = tonumber(redis.call('HGET', KEYS[2], head) or '0') "
    "if expires >= now then break end "
    "redis.call('ZREM', KEYS[1], head) redis.call('HDEL', KEYS[2], head) "
    "end "
)
_AT_HEAD = "if " + _GRANTED + " then return 1 end return 0"
ISSUE = (
    _NOW
    + _EPOCH
    + "local order = redis.call('INCR', KEYS[3]) "
    + "redis.call('ZADD', KEYS[1], order, ARGV[1]) redis.call('HSET', KEYS[2], ARGV[1], now + ARGV[2]) "
    + _TOUCH
    + _PURGE
    + "if "
    + _GRANTED
    + " then return {1, order} end return {0, order}"
)
"""ARGV: token, lease ms, idle ms. Queue a ticket: {1 if it is at the head (the lock is ours), its order}."""
POLL = (
    _NOW
    + _EPOCH
    + _PURGE
    + "if not redis.call('HGET', KEYS[2], ARGV[1]) then return -1 end "
    + "redis.call('HSET', KEYS[2], ARGV[1], now + ARGV[2]) "
    + _TOUCH
    + _AT_HEAD
)
"""ARGV: token, lease ms, idle ms. Renew a waiting ticket; 1 at the head, 0 still waiting, -1 gone."""
RENEW = (
    _NOW
    + "local present = redis.call('HGET', KEYS[2], ARGV[1]) "
    + "if not present then "
    + "if ARGV[4] ~= 'holder' then return -1 end "
    + "redis.call('ZADD', KEYS[1], 0, ARGV[1]) end "
    + "redis.call('HSET', KEYS[2], ARGV[1], now + ARGV[2]) "
    + _TOUCH
    + "if present then return 1 end return 0"
)
"""ARGV: token, lease ms, idle ms, role. Renew a live ticket (1). A holder's ticket that Redis lost
(a restart) goes back to the front (0); a waiter's is not put back (-1): the waiter notices at its
next poll and queues again half a lease later, after every live holder has put its own back."""
RELEASE = (
    _NOW
    + "redis.call('ZREM', KEYS[1], ARGV[1]) redis.call('HDEL', KEYS[2], ARGV[1]) "
    + _PURGE
    + "local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1] "
    + "if not head then redis.call('DEL', KEYS[1], KEYS[2]) return 0 end "
    + "redis.call('RPUSH', ARGV[2] .. head, 1) redis.call('PEXPIRE', ARGV[2] .. head, ARGV[3]) return 1"
)
"""ARGV: token, wake-up key prefix, lease ms. Leave the queue and wake the next holder (its
``BLPOP`` on ``<prefix><token>`` returns at once). The counter stays (until idle): tokens are
unique anyway, it only keeps the order. (The wake-up key is built in the script: this store is
for a single Redis server, not a cluster.)"""


class _Live(NamedTuple):
    """A ticket this process renews: whose, where, whether it holds the lock, until when."""

    conversation: str
    keys: List[str]
    holder: bool
    until: float
    """``time.monotonic()`` after which it is no longer renewed (Rasa's lock lifetime)."""


def _retry() -> Any:
    """Ride over a Redis restart: reconnect and retry for about ten seconds before giving up."""
    return redis.asyncio.retry.Retry(ExponentialBackoff(cap=1.0, base=0.05), 20)


class RedisTicketLockStore(LockStore):
    """Rasa's ticket lock, made atomic on Redis with leases (see the module docstring)."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        *,
        host: Optional[str] = None,
        port: int = 6379,
        db: int = 1,
        password: Optional[str] = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        key_prefix: str = "lumen:lock:",
    ) -> None:
        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            host = endpoint_config.url or host
            port = int(options.get("port", port))
            db = int(options.get("db", db))
            password = options.get("password", password) or None
            lease_seconds = float(options.get("lease_seconds", lease_seconds))
            key_prefix = str(options.get("key_prefix", key_prefix))
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        connection = {
            "host": host or "localhost",
            "port": port,
            "db": db,
            "password": password,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
            "health_check_interval": 15,
            "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        }
        self._redis = aioredis.Redis(retry=_retry(), **connection)
        self._sync = redis.Redis(retry=redis.retry.Retry(ExponentialBackoff(cap=1.0, base=0.05), 5), **connection)
        self.lease_seconds = lease_seconds
        self.key_prefix = key_prefix
        self._issue = self._redis.register_script(ISSUE)
        self._poll = self._redis.register_script(POLL)
        self._release = self._redis.register_script(RELEASE)
        self._renew = self._sync.register_script(RENEW)
        self._live: Dict[str, _Live] = {}
        self._live_lock = threading.Lock()
        self._renewer: Optional[threading.Thread] = None
        self._mark_epoch()
        super().__init__()

    def _keys(self, conversation_id: Text) -> List[str]:
        base = self.key_prefix + conversation_id
        return [base + ":q", base + ":e", base + ":n", *self._global_keys()]

    def _global_keys(self) -> List[str]:
        return [self.key_prefix + "~epoch", self.key_prefix + "~recovering"]

    def _mark_epoch(self) -> None:
        """A fresh Redis gets its epoch from the replicas' start, so the first messages need not
        wait out a recovery; an epoch that disappears later means Redis lost the locks."""
        try:
            self._sync.set(self._global_keys()[0], int(time.time() * 1000), nx=True)
        except redis.RedisError:
            logger.warning("Redis is not reachable yet; the lock store will connect on first use")

    def _args(self, token: str) -> List[Any]:
        return [token, int(self.lease_seconds * 1000), IDLE_KEYS_MS]

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock for the ``async with`` block (``wait_time_in_seconds``
        is accepted for Rasa's signature; a waiter here is woken by the release instead)."""
        token = secrets.token_hex(12)
        keys = self._keys(conversation_id)
        try:
            await self._acquire(conversation_id, keys, token, lock_lifetime)
        except redis.RedisError as exc:
            await self._forget(keys, token)
            raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}': {exc}") from exc
        except BaseException:  # cancelled while waiting (the client went away): leave the queue
            await self._forget(keys, token)
            raise
        try:
            yield TicketLock(conversation_id)
        finally:
            await self._forget(keys, token)

    async def _acquire(self, conversation_id: str, keys: List[str], token: str, lock_lifetime: float) -> None:
        deadline = time.monotonic() + lock_lifetime + self.lease_seconds
        state, _ = await self._issue(keys=keys, args=self._args(token))
        self._keep_alive(token, _Live(conversation_id, keys, False, deadline))
        while state != 1:
            if time.monotonic() > deadline:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}' in time.")
            if state == -1:  # Redis lost our ticket (restarted): let a live holder restore its own first
                logger.warning("lock ticket for %s was gone from Redis (restarted?); queueing again", conversation_id)
                await asyncio.sleep(self.lease_seconds / 2)
                state, _ = await self._issue(keys=keys, args=self._args(token))
                continue
            # Woken by the release that makes us the head, or after a third of a lease anyway,
            # to notice a holder that died without releasing.
            await self._redis.blpop([self._wake_key(keys, token)], timeout=self.lease_seconds / 3)
            state = await self._poll(keys=keys, args=self._args(token))
        # Held: if Redis loses it, it goes back to the front; renewed up to Rasa's lock lifetime.
        self._keep_alive(token, _Live(conversation_id, keys, True, time.monotonic() + lock_lifetime))

    def _keep_alive(self, token: str, live: _Live) -> None:
        with self._live_lock:
            self._live[token] = live
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew_forever, name="lock-renewer", daemon=True)
                self._renewer.start()

    def _renew_forever(self) -> None:
        """Renew every live ticket of this process every quarter of a lease, in a thread of its own:
        a Rasa replica's event loop can be busy with NLU for seconds under load, and a renewal that
        waited for it would let a live holder's ticket lapse."""
        while True:
            time.sleep(self.lease_seconds / 4)
            with self._live_lock:  # holders first: a holder is back in Redis before any waiter polls
                live = sorted(self._live.items(), key=lambda item: not item[1].holder)
            now = time.monotonic()
            for token, ticket in live:
                if now > ticket.until:
                    with self._live_lock:
                        self._live.pop(token, None)
                    logger.error(
                        "conversation %s kept its lock past its lifetime; letting it expire", ticket.conversation
                    )
                    continue
                try:
                    role = "holder" if ticket.holder else "waiter"
                    if self._renew(keys=ticket.keys, args=[*self._args(token), role]) == 0:
                        logger.warning(
                            "lock ticket for %s was gone from Redis (restarted?); put back", ticket.conversation
                        )
                except redis.RedisError:
                    logger.exception("could not renew the lock of %s; retrying", ticket.conversation)

    @staticmethod
    def _wake_key(keys: List[str], token: str) -> str:
        return keys[0][: -len(":q")] + ":w:" + token

    async def _forget(self, keys: List[str], token: str) -> None:
        with self._live_lock:
            self._live.pop(token, None)
        try:
            wake_prefix = self._wake_key(keys, "")
            await self._release(keys=keys, args=[token, wake_prefix, int(self.lease_seconds * 1000)])
        except redis.RedisError:  # it expires within one lease anyway
            logger.exception("could not release a conversation lock; it expires in %s s", self.lease_seconds)

    # Rasa's synchronous LockStore interface: a read-only view for inspection; the lock itself
    # is only ever taken through ``lock`` above.

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        queue, expiry, _ = self._keys(conversation_id)
        tokens = self._sync.zrange(queue, 0, -1)
        if not tokens:
            return None
        until = self._sync.hmget(expiry, tokens)
        tickets = deque(Ticket(number, int(ms) / 1000) for number, ms in enumerate(until, start=1) if ms is not None)
        return TicketLock(conversation_id, tickets)

    def delete_lock(self, conversation_id: Text) -> None:
        self._sync.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("RedisTicketLockStore changes locks only atomically, through lock()")
