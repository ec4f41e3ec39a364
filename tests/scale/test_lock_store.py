"""bot.lock_store on the real Redis, from two processes ("replicas") of the Rasa env at once:
no two holdings of a conversation overlap, none fails, a killed holder frees its conversation
within a lease, and a Redis restart in the middle changes neither."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportbot.devstack import RASA_ENV_BIN, ROOT
from supportbot.scaleout.services import Services, run_services
from tests.factories import postgres

SCRIPT = ROOT / "tests" / "scale" / "lock_contention.py"


@pytest.fixture
def redis_env() -> Iterator[dict[str, str]]:
    services: Services = postgres()  # scripts/services.sh: Redis starts with PostgreSQL
    prefix = f"locktest-{uuid.uuid4().hex[:8]}:"
    yield {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOCK_REDIS_HOST": services.redis_host,
        "LOCK_REDIS_PORT": str(services.redis_port),
        "LOCK_REDIS_PASSWORD": services.redis_password,
        "LOCK_REDIS_DB": "7",
        "LOCK_KEY_PREFIX": prefix,
        "LOCK_LEASE_SECONDS": "2",
    }


def replicas(
    env: dict[str, str], intervals: Path, *, count: int = 2, args: tuple[int, int, int] = (3, 12, 15)
) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [str(RASA_ENV_BIN / "python"), str(SCRIPT), "ours", *map(str, args), str(intervals)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def results(processes: list[subprocess.Popen[str]], timeout: float = 600) -> list[dict[str, object]]:
    found = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err[-3000:]
        found.append(json.loads(out.strip().splitlines()[-1]))
    return found


def overlaps(intervals: Path) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """Pairs of holdings of one conversation that overlap in time (there must be none)."""
    by_conversation: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in intervals.read_text().splitlines():
        conversation, start, end = line.split()
        by_conversation[conversation].append((float(start), float(end)))
    found = []
    for conversation, spans in by_conversation.items():
        spans.sort()
        for earlier, later in itertools.pairwise(spans):
            if later[0] < earlier[1]:
                found.append((conversation, earlier, later))
    return found


def test_two_replicas_never_hold_one_conversation_at_once(redis_env: dict[str, str], tmp_path: Path) -> None:
    intervals = tmp_path / "intervals.txt"
    done = results(replicas(redis_env, intervals))
    assert [(r["done"], r["lock_errors"]) for r in done] == [(180, 0), (180, 0)]
    assert len(intervals.read_text().splitlines()) == 360
    assert overlaps(intervals) == []


def test_a_killed_holder_frees_its_conversation_within_a_lease(redis_env: dict[str, str], tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [str(RASA_ENV_BIN / "python"), str(SCRIPT), "hold", "conv-0"],
        env=redis_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: no release, no renewal
        holder.wait(timeout=30)
        killed = time.monotonic()
        (taken,) = results(replicas(redis_env, tmp_path / "i.txt", count=1, args=(1, 1, 1)))
        waited = time.monotonic() - killed
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    assert (taken["done"], taken["lock_errors"]) == (1, 0)
    # Free after the 2 s lease (Rasa's own store would wait out its 60 s lock lifetime).
    assert waited < 45, waited
    print(f"acquired {waited:.1f} s after the holder was killed (lease 2 s; Rasa's process start included)")


def test_a_redis_restart_in_the_middle_loses_and_overlaps_nothing(redis_env: dict[str, str], tmp_path: Path) -> None:
    intervals = tmp_path / "intervals.txt"
    intervals.touch()
    running = replicas(redis_env, intervals, args=(3, 12, 150))
    deadline = time.monotonic() + 300
    while len(intervals.read_text().splitlines()) < 200:  # both well under way
        assert time.monotonic() < deadline and all(p.poll() is None for p in running), "the replicas did not start"
        time.sleep(0.2)
    run_services("restart", "redis", timeout=120)
    restarted = len(intervals.read_text().splitlines())
    done = results(running)
    assert restarted < 3600, "the run ended before Redis restarted: the test proved nothing"
    assert [(r["done"], r["lock_errors"]) for r in done] == [(1800, 0), (1800, 0)]
    assert overlaps(intervals) == []
