"""Benchmark (not a test): plan one day for N synthetic customers on SQLite and PostgreSQL, and
delivery throughput into Rasa.

    PYTHONPATH=. .venvs/app/bin/python bench/outreach_plan.py --customers 1000000 --workers 2
    PYTHONPATH=. .venvs/app/bin/python bench/outreach_plan.py --customers 20000 --deliver 100 --backends sqlite

Planning: for each backend (``--backends``, default both), a fresh database is filled with the
same customers (same seed; SQLite with raw executemany, PostgreSQL with COPY, in the storage
formats SQLAlchemy reads back; PostgreSQL from ``scripts/services.sh``), then one local day is
planned in a child process (``plan_day``, ``--workers`` processes) so its wall time, CPU time
(its workers' included) and peak RSS are the planner's alone; on PostgreSQL the server's CPU
time is measured too (from /proc). Afterwards every outbox row's decision columns are hashed
(``decisions_digest``): the same digest on both backends, and before and after a change to the
planner, means the same decisions. Delivery: ``--deliver`` customers with a birthday today in
their own small database; a Rasa server and an action server are started on loopback and the
outbox is delivered through the full path (trigger_intent -> policy -> action server -> outbox
row), bounded by ``--deliver-seconds``. Results go to bench-results/outreach.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
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
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The project root (``supportbot.devstack.ROOT``; not imported here: the planning child and its
worker processes, which import this file, have no use for the dev stack's imports)."""
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


def _rows(
    *, customers: int, day: dt.date, seed: int, chunk: int = 20_000
) -> Iterator[dict[str, list[tuple[object, ...]]]]:
    """The synthetic customers in chunks: table name → rows, in the storage formats SQLAlchemy
    reads back on SQLite (PostgreSQL's COPY reads the same text)."""
    rng = random.Random(seed)
    stamp = "2025-01-01 00:00:00.000000"
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
        yield {
            "customers": people,
            "subscriptions": subs,
            "feature_usage": usage,
            "loyalty_accounts": loyalty,
            "consents": consents,
        }


COLUMNS = {
    "customers": (
        "id, first_name, last_name, email, locale, time_zone, birthday, customer_since, segment, preferred_channel,"
        " quiet_hours_start, quiet_hours_end, created_at, updated_at"
    ),
    "subscriptions": (
        "id, customer_id, plan_code, status, billing_period, price_cents, currency, started_on, renews_on, auto_renew,"
        " discount_percent"
    ),
    "feature_usage": "customer_id, feature, uses_last_30d",
    "loyalty_accounts": "customer_id, points, tier, tier_since, lifetime_points",
    "consents": "customer_id, kind, granted, source, updated_at",
}


def _migrated(url: str) -> None:
    from supportbot.store.db import make_engine, session_factory
    from supportbot.store.demo import seed_catalogue
    from supportbot.store.migrate import upgrade_database

    upgrade_database(url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        seed_catalogue(session=session)
    engine.dispose()


def generate(path: Path, *, customers: int, day: dt.date, seed: int = 7) -> float:
    """Fill a migrated SQLite file with ``customers`` customers, each with a plan, usage and loyalty."""
    started = time.perf_counter()
    _migrated(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for tables in _rows(customers=customers, day=day, seed=seed):
        for table, rows in tables.items():
            marks = ",".join("?" * len(COLUMNS[table].split(",")))
            db.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
        db.commit()
    db.close()
    return time.perf_counter() - started


def generate_postgres(name: str, *, customers: int, day: dt.date, seed: int = 7) -> tuple[str, float]:
    """The same customers (same seed, same rows) in a fresh PostgreSQL database, with COPY."""
    import psycopg

    from supportbot.scaleout.services import create_database, ensure_services

    started = time.perf_counter()
    services = ensure_services()
    url = create_database(services, name, replace=True)
    _migrated(url)
    with psycopg.connect(services.postgres_dsn(name)) as db:
        for tables in _rows(customers=customers, day=day, seed=seed):
            with db.cursor() as cursor:
                for table, rows in tables.items():
                    with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            db.commit()
        db.execute("SELECT setval('subscriptions_id_seq', (SELECT max(id) FROM subscriptions))")
        db.commit()
        db.autocommit = True  # VACUUM runs outside a transaction
        db.execute("VACUUM ANALYZE")
    return url, time.perf_counter() - started


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


def reuse_postgres(name: str, *, customers: int) -> str | None:
    """A kept PostgreSQL bench database with ``customers`` customers, outbox emptied; None if absent."""
    import psycopg

    from supportbot.scaleout.services import database_exists, ensure_services

    services = ensure_services()
    if not database_exists(services, name):
        return None
    with psycopg.connect(services.postgres_dsn(name)) as db:
        found = db.execute("SELECT count(*) FROM customers").fetchone()
        if not found or found[0] != customers:
            raise SystemExit(f"database {name} has {found} customers, not {customers}: drop it to generate anew")
        db.execute("DELETE FROM outreach_outbox")
        db.execute("DELETE FROM outreach_tips_sent")
        db.commit()
        db.autocommit = True
        db.execute("VACUUM ANALYZE outreach_outbox")
    return services.postgres_url(name)


def decisions_digest(url: str) -> tuple[int, str]:
    """(rows, SHA-256) of every outbox row's decision columns, in key order, as SQLAlchemy reads
    them back: the same digest on two databases (or before and after a change) means the same
    messages, to the same customers, for the same reasons, at the same times."""
    from sqlalchemy import select

    from supportbot.store.db import make_engine
    from supportbot.store.outreach_models import OutboxMessage as Row

    columns = (
        *(Row.idempotency_key, Row.customer_id, Row.campaign, Row.kind, Row.occasion, Row.local_day),
        *(Row.content_ref, Row.intent, Row.template, Row.payload, Row.channel, Row.conversation_id),
        *(Row.priority, Row.status, Row.not_before, Row.attempts, Row.retries, Row.skip_reason, Row.hold_reason),
        Row.renders,
    )
    engine = make_engine(url)
    digest, rows = hashlib.sha256(), 0
    with engine.connect() as connection:
        for row in connection.execute(select(*columns).order_by(Row.idempotency_key)).yield_per(20_000):
            values = [v.isoformat() if isinstance(v, dt.date | dt.time) else v for v in row]
            digest.update(json.dumps(values).encode() + b"\n")
            rows += 1
    engine.dispose()
    return rows, digest.hexdigest()


def postgres_server_cpu() -> float | None:
    """CPU seconds the PostgreSQL server has used so far (postmaster, live backends and the
    backends that have exited), from /proc; None where that cannot be read."""
    from supportbot.scaleout.services import ENV_FILE

    try:
        data = next(
            line.split("=", 1)[1] for line in ENV_FILE.read_text().splitlines() if line.startswith("SERVICES_DATA=")
        )
        postmaster = int((Path(data) / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")

        def fields(pid: int) -> list[str]:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

        own = fields(postmaster)
        total = sum(int(x) for x in own[11:15])  # utime, stime, cutime, cstime
        for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
            try:
                total += sum(int(x) for x in fields(int(child))[11:13])
            except FileNotFoundError:
                continue
        return total / ticks
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def plan_phase(url: str, day: dt.date, profile: Path | None = None, workers: int | None = None) -> dict[str, object]:
    """Runs in a child process: plan ``day`` and report wall time and this process's peak RSS.

    With ``profile``, the planning call runs under cProfile and the stats are written there
    (``python -m pstats FILE``); the time then includes the profiler's overhead. CPU time and
    peak RSS include the planner's own worker processes (``workers``), and on PostgreSQL the
    server's CPU time is reported beside them.
    """
    from supportbot.outreach.config import load_config
    from supportbot.outreach.planner import plan_day
    from supportbot.store.db import make_engine, session_factory

    engine = make_engine(url)
    now = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
    config = load_config()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    server_before = postgres_server_cpu() if url.startswith("postgresql") else None
    started = time.perf_counter()
    extra = {} if workers is None else {"workers": workers}
    report = plan_day(sessions=session_factory(engine), day=day, now=now, config=config, batch_size=5000, **extra)
    seconds = time.perf_counter() - started
    server_after = postgres_server_cpu() if server_before is not None else None
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    engine.dispose()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(seconds, 1),
        # CPU time of the whole child (imports included) and of the planner's workers: on a shared
        # machine wall time is mostly waiting for a core, CPU time is what planning itself costs.
        "cpu_seconds": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 1),
        "server_cpu_seconds": round(server_after - server_before, 1)
        if server_before is not None and server_after is not None
        else None,
        "peak_rss_mib": round(max(own.ru_maxrss, children.ru_maxrss) / 1024),
        "workers": workers,
        "report": report.as_dict(),
    }


def delivery_phase(workdir: Path, *, messages: int, seconds: float, model: Path) -> dict[str, object]:
    """Deliver ``messages`` birthday greetings into a real Rasa + action server; at most ``seconds``."""
    from supportbot.devstack import (
        base_env,
        free_port,
        start_actions,
        start_rasa,
        wait_for_actions,
        wait_for_rasa,
        write_endpoints,
    )
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


def _database(
    backend: str, *, customers: int, day: dt.date, tmp: Path, keep: Path | None
) -> tuple[str, float | None, str | None]:
    """(URL, seconds spent generating or None if reused, what was reused) for one backend."""
    if backend == "sqlite":
        db = keep.resolve() if keep else tmp / "bench.db"
        if keep and db.exists():
            return f"sqlite:///{reuse(db, customers=customers)}", None, str(db)
        return f"sqlite:///{db}", round(generate(db, customers=customers, day=day), 1), None
    name = f"bench_outreach_{customers}"
    if keep:
        url = reuse_postgres(name, customers=customers)
        if url:
            return url, None, f"database {name}"
    url, seconds = generate_postgres(name, customers=customers, day=day)
    return url, round(seconds, 1), None


def _database_mib(url: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from supportbot.store.db import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        return round(sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*")) / 2**20)
    engine = make_engine(url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return round(size / 2**20)


def plan_on(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    """Generate (or reuse) the customers on ``backend``, plan the day in a child process, digest."""
    url, generated, reused = _database(backend, customers=args.customers, day=args.day, tmp=tmp, keep=args.keep_db)
    load_before = [round(x, 2) for x in os.getloadavg()]
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            "plan",
            "--day",
            args.day.isoformat(),
            *(["--workers", str(args.workers)] if args.workers else []),
            *(["--profile", str(args.profile.resolve().with_suffix(f".{backend}.prof"))] if args.profile else []),
        ],
        input=url,  # on stdin, not the command line: a PostgreSQL URL carries its password
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if child.returncode != 0:
        raise SystemExit(f"planning on {backend} failed:\n{child.stderr[-4000:]}")
    plan = json.loads(child.stdout.strip().splitlines()[-1])
    rows, digest = decisions_digest(url)
    return {
        "backend": backend,
        "generate_seconds": generated,
        "reused": reused,
        "load_avg_before": load_before,
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        **plan,
        "outbox_rows": rows,
        "decisions_sha256": digest,
        "db_mib": _database_mib(url),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="where to plan, one after the other (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, help="planner worker processes (default: the planner's own)")
    parser.add_argument("--deliver", type=int, default=200, help="messages for the delivery phase (0: skip it)")
    parser.add_argument("--deliver-seconds", type=float, default=120)
    parser.add_argument(
        "--model", type=Path, help="trained Rasa model for the delivery phase (default: newest in models/)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default: %(default)s)")
    parser.add_argument(
        "--keep-db",
        type=Path,
        help="SQLite: generate into this file and keep it, reuse it (outbox emptied) if it exists; PostgreSQL: "
        "keep (or reuse) the database bench_outreach_<customers>",
    )
    parser.add_argument(
        "--profile", type=Path, help="write cProfile stats of each planning call to FILE.<backend>.prof"
    )
    parser.add_argument("--phase", choices=("plan",), help=argparse.SUPPRESS)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 10))
    args = parser.parse_args()
    if args.phase == "plan":
        print(json.dumps(plan_phase(sys.stdin.read().strip(), args.day, args.profile, args.workers)))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"sqlite", "postgresql"}:
        raise SystemExit("--backends: sqlite, postgresql or both")
    results: dict[str, object] = {
        "customers": args.customers,
        "day": args.day.isoformat(),
        "cpus": os.cpu_count(),
        "command": " ".join(["bench/outreach_plan.py", *sys.argv[1:]]),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        plans = []
        for backend in backends:
            print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] planning on {backend}", file=sys.stderr, flush=True)
            plans.append(plan_on(backend, args, Path(tmp)))
        results["plans"] = plans
        results["decisions_identical"] = len({p["decisions_sha256"] for p in plans}) == 1
        if args.deliver:
            from supportbot.devstack import newest_model

            model = (args.model or newest_model()).resolve()
            results["delivery"] = {
                "model": model.name,
                **delivery_phase(Path(tmp), messages=args.deliver, seconds=args.deliver_seconds, model=model),
            }
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'customers':<24} {args.customers:,}")
    for plan in plans:
        report = plan["report"]
        assert isinstance(report, dict)
        print(f"{plan['backend']}:")
        for name, value in (
            ("generate (s)", plan["generate_seconds"] or f"reused {plan['reused']}"),
            ("plan one day (s)", plan["seconds"]),
            ("plan CPU time (s)", plan["cpu_seconds"]),
            ("server CPU time (s)", plan["server_cpu_seconds"]),
            ("plan peak RSS (MiB)", plan["peak_rss_mib"]),
            ("planned", sum(report["planned"].values())),
            ("skipped", sum(report["skipped"].values())),
            ("decisions (sha256)", plan["decisions_sha256"]),
            ("database (MiB)", plan["db_mib"]),
            ("load before / after", f"{plan['load_avg_before']} / {plan['load_avg_after']}"),
        ):
            print(f"  {name:<22} {value}")
    print(f"{'identical decisions':<24} {results['decisions_identical']}")
    delivery = results.get("delivery")
    if isinstance(delivery, dict):
        print(f"delivered {delivery['sent']} of {delivery['claimed']} claimed in {delivery['seconds']} s", end="")
        print(f" ({delivery['per_second']} msg/s; in Rasa's trackers: {delivery['tracker_external_events']})")
    print(f"written to {args.out}")
    return 0 if results["decisions_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
