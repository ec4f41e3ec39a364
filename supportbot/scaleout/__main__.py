"""``python -m supportbot.scaleout run``: the scaled stack in the foreground (``make run-scaled``).

Starts PostgreSQL and Redis if needed (``scripts/services.sh``), the databases (migrated, demo
data when empty), two action servers and two Rasa replicas behind nginx, the scheduler (the
planner under its lease, with its own delivery job), two more delivery workers and the web
process; prints the addresses; stops everything on Ctrl-C or when any process exits.
Secrets come from the environment (``var/secrets.env``, exported by scripts/run_scaled.sh).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from supportbot.devstack import ROOT, newest_model
from supportbot.scaleout.services import ensure_services
from supportbot.scaleout.stack import Ports, ScaledStack, Secrets, start_scaled_stack

PROFILE_DB = "supportbot"
TRACKER_DB = "supportbot_tracker"


def banner(stack: ScaledStack) -> str:
    p = stack.ports
    return f"""
==================================================================
 Lumen support assistant, scaled mode, is running (all on 127.0.0.1)
   Demo website    http://localhost:{p.web}/          chat widget (socket.io through nginx)
   Console         http://localhost:{p.web}/console/  first create an admin:
                     SUPPORTBOT_DATABASE_URL=... .venvs/app/bin/python -m supportbot.console create-admin ...
                     (docs/DEPLOYMENT.md: the URL is postgresql+psycopg://... from var/services/services.env)
   Rasa (nginx)    http://localhost:{p.rasa}   replicas on {", ".join(map(str, p.rasa_replicas))}
   Actions (nginx) http://localhost:{p.actions}   servers on {", ".join(map(str, p.actions_replicas))}
   PostgreSQL      127.0.0.1:{stack.services.pg_port}  databases {stack.profile_db}, {stack.tracker_db}
   Redis           127.0.0.1:{stack.services.redis_port}  lock store (db 1), socket.io queue (db 2)
   Scheduler       one planner (database lease) + delivery, two more delivery workers
   Logs            {stack.workdir}
 Press Ctrl-C to stop everything (PostgreSQL and Redis keep running: scripts/services.sh stop).
==================================================================
"""


def run(args: argparse.Namespace) -> int:
    services = ensure_services()
    model = (args.model or newest_model()).resolve()
    workdir = Path(args.workdir).resolve()
    print(f"[run-scaled] starting replicas with {model.name}; logs in {workdir}", flush=True)
    stack = start_scaled_stack(
        services=services,
        model=model,
        workdir=workdir,
        ports=Ports.standard(),
        stack_secrets=Secrets.from_environment(),
        profile_db=PROFILE_DB,
        tracker_db=TRACKER_DB,
        demo=True,
        fresh=False,
    )
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start_scheduler("scheduler", "run", supervise=True)
        for n in (1, 2):
            stack.start_scheduler(f"deliver-{n}", "deliver", supervise=True)
        stack.start_web(demo=True)
        print(banner(stack), flush=True)
        while not stopping:
            for name in stack.watch():  # the scheduler's processes are restarted, as systemd would
                print(f"[run-scaled] {name} exited; started again", flush=True)
            exited = [
                name
                for name, server in stack.servers.items()
                if name not in stack.supervised and server.process.poll() is not None
            ]
            if exited:
                print(f"[run-scaled] {', '.join(exited)} exited; stopping the others", flush=True)
                for name in exited:
                    print(stack.servers[name].log_tail(20), flush=True)
                return 1
            time.sleep(1)
        return 0
    finally:
        print("[run-scaled] stopping...", flush=True)
        stack.stop()
        print("[run-scaled] stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportbot.scaleout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("run", help="start the scaled stack in the foreground")
    start.add_argument("--model", type=Path, help="trained model (default: the newest in models/)")
    start.add_argument("--workdir", default=str(ROOT / "var" / "scaled"), help="logs and nginx's files")
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
