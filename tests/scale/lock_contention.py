"""Run by the Rasa env's Python (tests/scale/test_lock_store.py): a "replica" whose coroutines
take conversation locks and record when they held them.

    python tests/scale/lock_contention.py ours|rasa CONVERSATIONS COROUTINES ROUNDS INTERVALS_FILE
    python tests/scale/lock_contention.py hold CONVERSATION        # take the lock, say so, never let go

Redis comes from LOCK_REDIS_HOST / _PORT / _PASSWORD / _DB, key prefix LOCK_KEY_PREFIX, lease
LOCK_LEASE_SECONDS (ours). Each holding is appended to INTERVALS_FILE as one line
``conversation start end`` (CLOCK_MONOTONIC, the same clock in every process), so the test can
check that no two holdings of a conversation overlap across processes. Prints one JSON line:
holdings done and LockErrors.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time

from rasa.core.lock_store import LockError, LockStore, RedisLockStore

from bot.lock_store import RedisTicketLockStore


def store(kind: str) -> LockStore:
    env = os.environ
    host, port, password = env["LOCK_REDIS_HOST"], int(env["LOCK_REDIS_PORT"]), env["LOCK_REDIS_PASSWORD"]
    db, prefix = int(env["LOCK_REDIS_DB"]), env["LOCK_KEY_PREFIX"]
    if kind == "rasa":
        return RedisLockStore(host=host, port=port, password=password, db=db, key_prefix=prefix.strip(":"))
    lease = float(env.get("LOCK_LEASE_SECONDS", "10"))
    return RedisTicketLockStore(host=host, port=port, password=password, db=db, key_prefix=prefix, lease_seconds=lease)


async def contend(kind: str, conversations: int, coroutines: int, rounds: int, intervals: str) -> dict[str, object]:
    locks = store(kind)
    done = errors = 0
    rng = random.Random()
    log = open(intervals, "a", buffering=1)  # noqa: SIM115 - written from every coroutine, closed below

    async def worker(n: int) -> None:
        nonlocal done, errors
        for r in range(rounds):
            conversation = f"conv-{(n + r) % conversations}"
            try:
                async with locks.lock(conversation):
                    start = time.monotonic()
                    await asyncio.sleep(rng.random() * 0.004)  # a turn's awaits: tracker store, actions
                    end = time.monotonic()
                log.write(f"{conversation} {start:.6f} {end:.6f}\n")
                done += 1
            except LockError:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(coroutines)))
    log.close()
    return {"kind": kind, "done": done, "lock_errors": errors, "seconds": round(time.monotonic() - started, 2)}


async def hold(conversation: str) -> None:
    async with store("ours").lock(conversation):
        print("held", flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        asyncio.run(hold(sys.argv[2]))
    else:
        kind, conversations, coroutines, rounds = sys.argv[1], *map(int, sys.argv[2:5])
        print(json.dumps(asyncio.run(contend(kind, conversations, coroutines, rounds, sys.argv[5]))))
