"""Command line of the scheduler: run (default), plan, deliver, status.

Exit codes: 0 done, 2 configuration problem (one line on stderr saying what to
set), 1 anything unexpected (with a traceback, since that is a bug).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from scheduler import runtime
from supportbot.errors import ConfigurationError
from supportbot.outreach.delivery import Deliverer, DeliveryReport
from supportbot.outreach.planner import PlanReport, days_to_plan, plan_day
from supportbot.outreach.rules import Decision
from supportbot.outreach.selection import CustomerFacts, Exclusion
from supportbot.outreach.status import outbox_status

logger = logging.getLogger("scheduler")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description="Proactive outreach: plan and deliver.")
    parser.add_argument("--config", help="campaign file (default: config/campaigns.yml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every delivery step")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="the long-running process with its scheduled jobs (the default)")
    plan = commands.add_parser("plan", help="plan due messages into the outbox")
    plan.add_argument("--date", type=_date, help="local day to plan (default: today and tomorrow everywhere)")
    plan.add_argument("--dry-run", action="store_true", help="print who would get what and why; write nothing")
    deliver = commands.add_parser("deliver", help="deliver due messages through Rasa")
    deliver.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    commands.add_parser("status", help="outbox counts, what is due, recent failures")
    return parser


def _print_decision(facts: CustomerFacts, decision: Decision) -> None:
    c = decision.candidate
    when = f"{decision.not_before:%Y-%m-%d %H:%M}Z" if decision.status == "planned" else "-"
    why = decision.skip_reason or c.reason
    if decision.hold_reason:
        why += f"; held for {decision.hold_reason}"
    where = facts.route.conversation_id
    print(f"{facts.customer_id:<12} {c.campaign:<18} {decision.status:<8} {when:<17} {where:<24} {why}")


def _print_exclusion(exclusion: Exclusion) -> None:
    print(
        f"{exclusion.customer_id:<12} {exclusion.campaign:<18} {'excluded':<8} {'-':<17} {'-':<24} {exclusion.reason}"
    )


def _print_plan_report(report: PlanReport) -> None:
    verb = "would plan" if report.dry_run else "planned"
    print(
        f"{report.day}: {report.customers} customers; {verb} {sum(report.planned.values())}, "
        f"skipped {sum(report.skipped.values())}, excluded {sum(report.excluded.values())}"
    )
    for campaign in sorted(set(report.planned) | set(report.skipped)):
        print(f"  {campaign:<18} planned {report.planned[campaign]:>6}  skipped {report.skipped[campaign]:>6}")
    for reason, count in report.skip_reasons.most_common():
        print(f"  skipped: {reason} ({count})")


def cmd_plan(args: argparse.Namespace) -> int:
    config = runtime.outreach_config(args.config)
    sessions = runtime.sessions(runtime.database_url())
    now = runtime.utc_now()
    days = [args.date] if args.date else days_to_plan(now)
    if args.dry_run:
        print(f"{'customer':<12} {'campaign':<18} {'decision':<8} {'not before':<17} {'conversation':<24} why")
    for day in days:
        report = plan_day(
            sessions=sessions,
            day=day,
            now=now,
            config=config,
            dry_run=args.dry_run,
            on_decision=_print_decision if args.dry_run else None,
            on_exclusion=_print_exclusion if args.dry_run else None,
        )
        _print_plan_report(report)
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    """Deliver until SIGTERM (or, with --once, until nothing is due); the row in hand is always finished."""
    config = runtime.outreach_config(args.config)
    sessions = runtime.sessions(runtime.database_url())
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    total = DeliveryReport()
    with runtime.rasa_client(config) as client:
        deliverer = Deliverer(sessions=sessions, client=client, config=config, clock=runtime.utc_now)
        logger.info("delivering as %s", deliverer.worker)
        while not stop.is_set():
            report = deliverer.deliver_all_due(stop=stop.is_set)
            total.merge(report)
            if args.once:
                break
            stop.wait(config.delivery.poll_seconds)
    print(
        f"sent {total.sent} (of which {total.confirmed_from_tracker} found already delivered), "
        f"retrying {total.retried}, held {total.held}, failed {total.failed}, "
        f"skipped {sum(total.skipped.values())} {dict(total.skipped) or ''}".rstrip()
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    sessions = runtime.sessions(runtime.database_url())
    with sessions() as session:
        print(outbox_status(session=session, now=runtime.utc_now()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from scheduler.process import run_scheduler  # APScheduler is only needed by this command

    config = runtime.outreach_config(args.config)
    runtime.rasa_connection()  # fail at start-up, not at the first delivery round
    run_scheduler(database_url=runtime.database_url(), config=config, config_path=args.config, now=runtime.utc_now())
    return 0


COMMANDS = {"run": cmd_run, "plan": cmd_plan, "deliver": cmd_deliver, "status": cmd_status}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command or "run"](args)
    except ConfigurationError as exc:
        print(f"scheduler: {exc}", file=sys.stderr)
        return 2
