"""Benchmark (not a test): plan one day for N synthetic customers, and delivery throughput into Rasa.

    PYTHONPATH=. .venvs/app/bin/python bench/outreach_plan.py --customers 1000000
    PYTHONPATH=. .venvs/app/bin/python bench/outreach_plan.py --customers 20000 --deliver 100

Planning: a fresh SQLite file is filled with bulk inserts (raw DB-API executemany,
in the storage formats SQLAlchemy reads back), then one local day is planned in a
child process so its wall time and peak RSS are the planner's alone. Delivery:
``--deliver`` customers with a birthday today in their own small database; a Rasa
server and an action server are started on loopback and the outbox is delivered
through the full path (trigger_intent -> policy -> action server -> outbox row),
bounded by ``--deliver-seconds``. Results go to bench-results/outreach.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supportbot.devstack import (
    ROOT,
    base_env,
    free_port,
    newest_model,
    start_actions,
    start_rasa,
    wait_for_actions,
    wait_for_rasa,
    write_endpoints,
)

RESULTS = ROOT / "bench-results" / "outreach.json"
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Lagos",
)
PLANS = ("starter", "plus", "pro", "business")
FEATURES = ("notes", "sync", "reminders", "templates", "sharing", "calendar", "offline", "automation")
TIERS = ("bronze", "silver", "gold", "platinum")


def generate(path: Path, *, customers: int, day: dt.date, seed: int = 7) -> float:
    """Fill a migrated database with ``customers`` customers, each with a plan, usage and loyalty."""
    from supportbot.store.db import make_engine, session_factory
    from supportbot.store.demo import seed_catalogue
    from supportbot.store.migrate import upgrade_database

    started = time.perf_counter()
    url = f"sqlite:///{path}"
    upgrade_database(url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        seed_catalogue(session=session)
    engine.dispose()
    rng = random.Random(seed)
    stamp = "2025-01-01 00:00:00.000000"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    chunk = 20_000
    for start in range(0, customers, chunk):
        people, subs, usage, loyalty, consents = [], [], [], [], []
        for n in range(start, min(start + chunk, customers)):
            cid = f"B{n:07d}"
            since = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(4000))
            birthday = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
            people.append(
                (
                    cid,
                    "Pat",
                    f"Number{n}",
                    f"{cid.lower()}@bench.example",
                    "en-US",
                    rng.choice(ZONES),
                    birthday.isoformat(),
                    since.isoformat(),
                    "consumer",
                    "web",
                    "21:00:00.000000",
                    "08:00:00.000000",
                    stamp,
                    stamp,
                )
            )
            renews = day + dt.timedelta(days=rng.randrange(1, 61))
            subs.append(
                (
                    n + 1,
                    cid,
                    rng.choice(PLANS),
                    "active",
                    "monthly",
                    1200,
                    "USD",
                    since.isoformat(),
                    renews.isoformat(),
                    1,
                    0,
                )
            )
            for feature in rng.sample(FEATURES, 2):
                usage.append((cid, feature, rng.randrange(1, 50)))
            tier_since = day - dt.timedelta(days=rng.randrange(400))
            loyalty.append((cid, 100, rng.choice(TIERS), tier_since.isoformat(), 100))
            if rng.random() < 0.1:
                consents.append((cid, "tips", 0, "import", stamp))
        db.executemany(
            "INSERT INTO customers (id, first_name, last_name, email, locale, time_zone, birthday, customer_since,"
            " segment, preferred_channel, quiet_hours_start, quiet_hours_end, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            people,
        )
        db.executemany(
            "INSERT INTO subscriptions (id, customer_id, plan_code, status, billing_period, price_cents, currency,"
            " started_on, renews_on, auto_renew, discount_percent) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            subs,
        )
        db.executemany("INSERT INTO feature_usage (customer_id, feature, uses_last_30d) VALUES (?,?,?)", usage)
        db.executemany(
            "INSERT INTO loyalty_accounts (customer_id, points, tier, tier_since, lifetime_points) VALUES (?,?,?,?,?)",
            loyalty,
        )
        db.executemany(
            "INSERT INTO consents (customer_id, kind, granted, source, updated_at) VALUES (?,?,?,?,?)", consents
        )
        db.commit()
    db.close()
    return time.perf_counter() - started


def reuse(path: Path, *, customers: int) -> str:
    """Make a kept database look freshly generated: no outbox rows, no tips sent."""
    db = sqlite3.connect(path)
    found = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    if found != customers:
        raise SystemExit(f"{path} has {found} customers, not {customers}: remove it to generate anew")
    db.execute("DELETE FROM outreach_outbox")
    db.execute("DELETE FROM outreach_tips_sent")
    db.commit()
    db.close()
    return str(path)


def plan_phase(path: Path, day: dt.date, profile: Path | None = None) -> dict[str, object]:
    """Runs in a child process: plan ``day`` and report wall time and this process's peak RSS.

    With ``profile``, the planning call runs under cProfile and the stats are written there
    (``python -m pstats FILE``); the time then includes the profiler's overhead.
    """
    from supportbot.outreach.config import load_config
    from supportbot.outreach.planner import plan_day
    from supportbot.store.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{path}")
    now = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
    config = load_config()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = plan_day(sessions=session_factory(engine), day=day, now=now, config=config, batch_size=5000)
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": round(seconds, 1),
        # CPU time of the whole child (imports included): on a shared machine wall time is
        # mostly waiting for a core, CPU time is what planning itself costs.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "report": report.as_dict(),
    }


def delivery_phase(workdir: Path, *, messages: int, seconds: float, model: Path) -> dict[str, object]:
    """Deliver ``messages`` birthday greetings into a real Rasa + action server; at most ``seconds``."""
    from supportbot.outreach.config import load_config
    from supportbot.outreach.delivery import Deliverer
    from supportbot.outreach.planner import plan_day
    from supportbot.outreach.rasa_client import RasaClient
    from supportbot.store.db import make_engine, session_factory

    today = dt.datetime.now(dt.UTC).date()
    path = workdir / "deliver.db"
    generate(path, customers=messages, day=today)
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE customers SET birthday = ?, time_zone = 'UTC', quiet_hours_start = '00:00:00.000000',"
        " quiet_hours_end = '00:00:00.000000'",
        (today.replace(year=1992).isoformat(),),
    )
    db.execute(
        "INSERT OR REPLACE INTO consents SELECT id, 'tips', 0, 'import', '2025-01-01 00:00:00.000000' FROM customers"
    )
    db.commit()
    db.close()
    url = f"sqlite:///{path}"
    config = load_config()
    config = config.model_copy(update={"send_time": dt.time(0, 0)})
    sessions = session_factory(make_engine(url))
    planned = plan_day(sessions=sessions, day=today, now=dt.datetime.now(dt.UTC), config=config)
    rasa_port, actions_port, token = free_port(), free_port(), secrets.token_urlsafe(24)
    endpoints = write_endpoints(
        workdir, tracker_db=workdir / "tracker.db", actions_url=f"http://127.0.0.1:{actions_port}/webhook"
    )
    env = base_env(SUPPORTBOT_DATABASE_URL=url, CUSTOMER_TOKEN_SECRET=secrets.token_urlsafe(32))
    actions = start_actions(port=actions_port, env=env, log_dir=workdir)
    rasa = start_rasa(model=model, port=rasa_port, token=token, endpoints=endpoints, env=env, log_dir=workdir)
    try:
        wait_for_actions(actions, actions_port, timeout=600)
        wait_for_rasa(rasa, rasa_port, token, timeout=900)
        with RasaClient(
            base_url=f"http://127.0.0.1:{rasa_port}", token=token, timeouts=config.delivery.timeouts
        ) as client:
            deliverer = Deliverer(
                sessions=sessions, client=client, config=config, clock=lambda: dt.datetime.now(dt.UTC)
            )
            started = time.perf_counter()
            report = deliverer.deliver_all_due(budget_seconds=seconds)
            elapsed = time.perf_counter() - started
        print(f"delivered {report.sent} of {report.claimed} claimed in {elapsed:.1f} s", file=sys.stderr, flush=True)
        outcome: dict[str, object] = {
            "messages": messages,
            "planned": planned.as_dict()["planned"],
            "claimed": report.claimed,
            "sent": report.sent,
            "held": report.held,
            "retried": report.retried,
            "failed": report.failed,
            "skipped": dict(report.skipped),
            "seconds": round(elapsed, 1),
            "per_second": round(report.sent / elapsed, 1) if elapsed else None,
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        }
    except Exception:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        for server in (rasa, actions):
            (RESULTS.parent / f"outreach-{server.name}.log").write_text(server.log_tail(400))
        print("servers' logs: bench-results/outreach-*.log", file=sys.stderr)
        raise
    finally:
        for server in (rasa, actions):
            server.stop(timeout=60)  # SIGKILL after that: a loaded machine must not lose the measurement
    # What Rasa itself recorded (servers stopped, tracker store closed): one EXTERNAL_* user
    # event per delivered row, and the bot's answers the action server rendered for them.
    with sqlite3.connect(workdir / "tracker.db") as tracker:
        outcome["tracker_external_events"] = tracker.execute(
            "SELECT count(*) FROM events WHERE type_name = 'user' AND intent_name LIKE 'EXTERNAL_%'"
        ).fetchone()[0]
        outcome["tracker_bot_messages"] = tracker.execute(
            "SELECT count(*) FROM events WHERE type_name = 'bot'"
        ).fetchone()[0]
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--deliver", type=int, default=200, help="messages for the delivery phase (0: skip it)")
    parser.add_argument("--deliver-seconds", type=float, default=120)
    parser.add_argument(
        "--model", type=Path, help="trained Rasa model for the delivery phase (default: newest in models/)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default: %(default)s)")
    parser.add_argument(
        "--keep-db",
        type=Path,
        help="generate into this file and keep it; if it exists, reuse it (outbox emptied) instead of generating",
    )
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the planning call to this file")
    parser.add_argument("--phase", choices=("plan",), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 10))
    args = parser.parse_args()
    if args.phase == "plan":
        print(json.dumps(plan_phase(args.db, args.day, args.profile)))
        return 0
    results: dict[str, object] = {
        "customers": args.customers,
        "day": args.day.isoformat(),
        "cpus": os.cpu_count(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        db = args.keep_db.resolve() if args.keep_db else Path(tmp) / "bench.db"
        if args.keep_db and db.exists():
            results["generate_seconds"] = None
            results["reused_db"] = reuse(db, customers=args.customers)
        else:
            results["generate_seconds"] = round(generate(db, customers=args.customers, day=args.day), 1)
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                "plan",
                "--db",
                str(db),
                "--day",
                args.day.isoformat(),
                *(["--profile", str(args.profile.resolve())] if args.profile else []),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        results["plan"] = json.loads(child.stdout.strip().splitlines()[-1])
        results["load_avg_after_plan"] = [round(x, 2) for x in os.getloadavg()]
        results["db_mib"] = round(sum(p.stat().st_size for p in db.parent.glob(f"{db.name}*")) / 2**20)
        if args.deliver:
            model = (args.model or newest_model()).resolve()
            results["delivery"] = {
                "model": model.name,
                **delivery_phase(Path(tmp), messages=args.deliver, seconds=args.deliver_seconds, model=model),
            }
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    plan = results["plan"]
    assert isinstance(plan, dict)
    rows = [
        ("customers", f"{args.customers:,}"),
        ("generate (s)", results["generate_seconds"] or "reused " + str(results.get("reused_db"))),
        ("plan one day (s)", plan["seconds"]),
        ("plan CPU time (s)", plan["cpu_seconds"]),
        ("plan peak RSS (MiB)", plan["peak_rss_mib"]),
        ("planned", sum(plan["report"]["planned"].values())),
        ("skipped", sum(plan["report"]["skipped"].values())),
        ("database (MiB)", results["db_mib"]),
    ]
    delivery = results.get("delivery")
    if isinstance(delivery, dict):
        rows += [
            ("delivered", f"{delivery['sent']} of {delivery['claimed']} claimed in {delivery['seconds']} s"),
            ("in Rasa's trackers", delivery["tracker_external_events"]),
            ("delivery (msg/s)", delivery["per_second"]),
        ]
    for name, value in rows:
        print(f"{name:<22} {value}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
