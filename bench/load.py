"""Benchmark (not a test): conversation latency and throughput under load, ours against a bare `rasa init` bot.

    PYTHONPATH=. .venvs/app/bin/python -m bench.load                      # N = 1, 8, 32; every stack
    PYTHONPATH=. .venvs/app/bin/python -m bench.load --levels 1,8 --seconds 60 --stacks ours
    PYTHONPATH=. .venvs/app/bin/python -m bench.load --stacks ours --levels 8 --profile-with /tmp/pyspy/bin/py-spy

Stacks (started here on 127.0.0.1, stopped at the end; traffic goes nowhere else):

- ``ours``: a fresh SQLite profile store with the demo data, the action server and
  ``rasa run`` on our newest model (``--model``), exactly as the end-to-end tests start
  them (``supportbot.devstack``). Each conversation is a verified customer (a token minted
  with the stack's secret) on the REST channel: greet, plan (profile lookup), orders
  (order lookup), loyalty points, give feedback (a form: the question, then the
  customer's text), thanks. Every conversation has its own sender id, so its own tracker;
  the 300 demo customers take turns.
- ``ours-plain``: the same stack served by Rasa's own ``rasa run`` instead of
  ``python -m bot.server`` (bot/server.py), to measure that fix in the same run.
- ``scaled``: the scaled stack of docs/DEPLOYMENT.md (two Rasa replicas and two action servers
  behind nginx, PostgreSQL tracker and profile stores, the Redis lock store and socket.io queue),
  the same conversations as ``ours``, through nginx.
- ``bare``: ``rasa init --no-prompt`` in a temporary folder (Rasa's starter bot, trained by
  ``rasa init`` itself), served by ``rasa run`` with its REST channel; conversations of the
  starter's own stories: greet, "I am sad", "yes", goodbye. Random sender ids.

Load: for each N in ``--levels``, N virtual users each hold one conversation at a time and
send the next turn as soon as the previous answer arrives (no think time: this measures
capacity); a level ends after ``--seconds`` or ``--turns`` turns, whichever comes first.
A first conversation per stack, before any level, warms the models and is not counted.
Per level: turns, errors, turns per second, p50/p95/p99 latency per turn type and overall, and
each server's CPU time per turn (``cpu_ms_per_turn``, from /proc; PostgreSQL's too for ``scaled``).
Results are appended to ``bench-results/load.json`` (``--out``) after every level.

Profiling: ``--profile-with PATH_TO_PY_SPY`` samples every server of a stack with py-spy
during one level (``--profile-level``, default the largest) and adds where the CPU went to
that level's result (``profile``); the raw stacks stay in ``--profile-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.profiles import Profiler, hot_spots, print_profile
from bench.results import append_result
from supportbot.devstack import (
    ROOT,
    Server,
    base_env,
    free_port,
    newest_model,
    rasa_executable,
    start_demo_stack,
    start_rasa,
    wait_for_rasa,
)
from supportbot.identity import mint_customer_token
from supportbot.store.demo import CUSTOMER_COUNT

RESULTS = ROOT / "bench-results" / "load.json"

OURS_SCRIPT = [
    ("greet", "hello"),
    ("plan", "what plan am I on?"),
    ("orders", "where is my order?"),
    ("loyalty", "how many loyalty points do I have?"),
    ("feedback_start", "I'd like to give some feedback"),
    ("feedback_text", "syncing between my phone and my laptop is slow in the mornings"),
    ("thanks", "thanks, that's all"),
]
BARE_SCRIPT = [("greet", "hi"), ("mood", "I am sad"), ("affirm", "yes"), ("goodbye", "bye")]


@dataclass
class Target:
    name: str
    url: str
    script: list[tuple[str, str]]
    next_conversation: Callable[[], tuple[str, dict[str, Any]]]
    servers: list[Server] = field(default_factory=list)
    cleanup: list[Path] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for done in self.on_stop:
            done()
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def start_scaled(model: Path, work: Path) -> Target:
    """The scaled stack (``supportbot.scaleout``: two Rasa replicas and two action servers behind
    nginx, PostgreSQL and Redis from ``scripts/services.sh``) on fresh databases with the demo data,
    exactly as ``make run-scaled`` and tests/scale start it; the load goes through nginx."""
    from supportbot.scaleout.services import drop_database, ensure_services
    from supportbot.scaleout.stack import Ports, Secrets, start_scaled_stack

    services = ensure_services()
    names = ("bench_scaled_profile", "bench_scaled_tracker")
    stack = start_scaled_stack(
        services=services,
        model=model,
        workdir=work,
        ports=Ports.free(),
        stack_secrets=Secrets.fresh(),
        profile_db=names[0],
        tracker_db=names[1],
    )
    conversations = itertools.count()
    secret = stack.secrets.customer_token_secret

    def next_conversation() -> tuple[str, dict[str, Any]]:
        n = next(conversations)
        token = mint_customer_token(customer_id=f"C{n % CUSTOMER_COUNT + 1:06d}", secret=secret, ttl_seconds=3600)
        return f"load-{n}", {"customer_token": token}

    def drop_databases() -> None:
        for name in names:
            drop_database(services, name)

    target = Target("scaled", stack.rasa_url, OURS_SCRIPT, next_conversation, list(stack.servers.values()))
    target.on_stop.append(drop_databases)
    return target


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used, from /proc; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(target: Target) -> dict[str, float]:
    """CPU seconds so far of every server of the stack (and of PostgreSQL, for the scaled stack)."""
    found = {s.name: cpu for s in target.servers if (cpu := cpu_seconds(s.process.pid)) is not None}
    if target.name == "scaled":
        from bench.outreach_plan import postgres_server_cpu

        postgres = postgres_server_cpu()
        if postgres is not None:
            found["postgresql"] = postgres
    return found


def start_ours(model: Path, work: Path, *, plain_rasa: bool = False) -> Target:
    # exactly the stack the end-to-end tests start
    stack = start_demo_stack(model=model, workdir=work, plain_rasa=plain_rasa)
    conversations = itertools.count()

    def next_conversation() -> tuple[str, dict[str, Any]]:
        # A new conversation (its own tracker) every time; the 300 demo customers take turns.
        n = next(conversations)
        customer = f"C{n % CUSTOMER_COUNT + 1:06d}"
        token = mint_customer_token(customer_id=customer, secret=stack.secret, ttl_seconds=3600)
        return f"load-{n}", {"customer_token": token}

    name = "ours-plain" if plain_rasa else "ours"
    return Target(name, stack.rasa_url, OURS_SCRIPT, next_conversation, stack.servers)


def start_bare(work: Path) -> Target:
    project = work / "rasa-init"
    project.mkdir()  # `rasa init --no-prompt` refuses a folder that does not exist
    env = base_env()
    print(f"[{now()}] bare: rasa init (trains the starter bot)", flush=True)
    done = subprocess.run(
        [str(rasa_executable()), "init", "--no-prompt", "--init-dir", str(project)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0 or not list((project / "models").glob("*.tar.gz")):
        raise SystemExit(f"rasa init failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    port, api_token = free_port(), secrets.token_urlsafe(24)
    model = sorted((project / "models").glob("*.tar.gz"))[-1]
    rasa = start_rasa(
        model=model,
        port=port,
        token=api_token,
        endpoints=project / "endpoints.yml",
        env=env,
        log_dir=work,
        name="rasa-bare",
        credentials=project / "credentials.yml",
        plain=True,
    )

    def next_conversation() -> tuple[str, dict[str, Any]]:
        return uuid.uuid4().hex, {}

    target = Target("bare", f"http://127.0.0.1:{port}", BARE_SCRIPT, next_conversation, [rasa])
    try:
        wait_for_rasa(rasa, port, api_token, timeout=1200)
    except BaseException:
        target.stop()
        raise
    return target


def now() -> str:
    return f"{dt.datetime.now(dt.UTC):%H:%M:%S}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_level(target: Target, users: int, *, seconds: float, max_turns: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    turns = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def user() -> None:
            nonlocal turns
            while time.monotonic() < stop_at and turns < max_turns:
                try:
                    sender, metadata = target.next_conversation()
                except StopIteration:
                    return
                for kind, text in target.script:
                    if time.monotonic() >= stop_at or turns >= max_turns:
                        return
                    turns += 1
                    started = time.perf_counter()
                    try:
                        response = await client.post(
                            f"{target.url}/webhooks/rest/webhook",
                            json={"sender": sender, "message": text, "metadata": metadata},
                        )
                        elapsed = time.perf_counter() - started
                        if response.status_code != 200 or not response.json():
                            errors.append(f"{kind}: HTTP {response.status_code} {response.text[:120]}")
                            break
                        latencies[kind].append(elapsed)
                    except httpx.HTTPError as exc:
                        errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                        break

        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(users)))
        wall = time.monotonic() - started
    every = [x for values in latencies.values() for x in values]

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else None,
        }

    return {
        "stack": target.name,
        "users": users,
        "seconds": round(wall, 1),
        "turns_ok": len(every),
        "errors": len(errors),
        "error_examples": errors[:5],
        "turns_per_second": round(len(every) / wall, 2) if wall else None,
        "all": summary(every),
        "by_turn": {kind: summary(values) for kind, values in latencies.items()},
        "load_avg": round(os.getloadavg()[0], 2),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def line(result: dict[str, Any]) -> str:
    a = result["all"]
    return (
        f"{result['stack']:<11}{result['users']:>4}{result['turns_ok']:>7}{result['errors']:>7}"
        f"{result['turns_per_second']:>9}{a['p50_ms']:>9}{a['p95_ms']:>9}{a['p99_ms']:>9}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--stacks", default="ours,scaled,bare")
    parser.add_argument("--seconds", type=float, default=120, help="at most this long per level")
    parser.add_argument("--turns", type=int, default=1500, help="at most this many turns per level")
    parser.add_argument("--model", type=Path, help="our model (default: the newest in models/)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile-with", type=Path, metavar="PY_SPY", help="sample the servers with this py-spy during one level"
    )
    parser.add_argument("--profile-level", type=int, help="the level to profile (default: the largest)")
    parser.add_argument("--profile-dir", type=Path, default=ROOT / "bench-results" / "load-profiles")
    parser.add_argument(
        "--read-profiles", type=Path, nargs="+", metavar="FILE", help="only print what these py-spy files show"
    )
    args = parser.parse_args(argv)
    if args.read_profiles:
        print_profile({path.name: hot_spots(path) for path in args.read_profiles})
        return 0
    levels = [int(n) for n in args.levels.split(",")]
    if any(n < 1 or n > 64 for n in levels):
        raise SystemExit("--levels: between 1 and 64 concurrent conversations")
    profiler = Profiler(args.profile_with, args.profile_dir) if args.profile_with else None
    profile_level = args.profile_level or max(levels)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta = {
        "started": started,
        "command": " ".join(["python", "-m", "bench.load", *(argv or sys.argv[1:])]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "cpus": os.cpu_count(),
    }
    results = []
    for stack in args.stacks.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"bench-load-{stack}-"))
        if stack in ("ours", "ours-plain"):
            target = start_ours(args.model or newest_model(), work, plain_rasa=stack == "ours-plain")
        elif stack == "scaled":
            target = start_scaled(args.model or newest_model(), work)
        elif stack == "bare":
            target = start_bare(work)
        else:
            raise SystemExit(f"unknown stack {stack!r}: ours, ours-plain, scaled or bare")
        target.cleanup.append(work)
        try:
            print(f"[{now()}] {stack}: warm-up conversation", flush=True)
            warm = asyncio.run(run_level(target, 1, seconds=600, max_turns=len(target.script)))
            if warm["errors"]:
                raise SystemExit(f"{stack}: the warm-up conversation failed: {warm['error_examples']}")
            for users in levels:
                print(f"[{now()}] {stack}: {users} concurrent conversations", flush=True)
                if profiler and users == profile_level:
                    profiler.start(target, users, args.seconds)
                cpu_before = server_cpu(target)
                result = asyncio.run(run_level(target, users, seconds=args.seconds, max_turns=args.turns))
                cpu_after = server_cpu(target)
                result["cpu_ms_per_turn"] = {
                    name: round((cpu_after[name] - cpu_before[name]) * 1000 / max(result["turns_ok"], 1), 1)
                    for name in cpu_before
                    if name in cpu_after
                }
                if profiler and users == profile_level:
                    result["profile"] = {path.name: hot_spots(path) for path in profiler.finish()}
                    print_profile(result["profile"])
                result["run"] = started  # which invocation: the summary shows the latest one
                append_result(args.out, "levels", result, meta)
                results.append(result)
                print(line(result), flush=True)
        finally:
            target.stop()
    print(f"\n{'stack':<11}{'N':>4}{'turns':>7}{'errors':>7}{'turns/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for result in results:
        print(line(result))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
