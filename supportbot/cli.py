"""Command line for operators and scripts: ``python -m supportbot <command>``.

Commands print plain results on stdout (``token mint`` prints only the token, so
``TOKEN=$(python -m supportbot token mint C000001)`` works) and problems on
stderr. Expected failures (bad file, unknown customer, missing secret, database
not migrated) end with a short message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pydantic
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from supportbot.errors import ImportValidationError, NotFoundError, SupportBotError
from supportbot.identity import mint_customer_token
from supportbot.settings import get_settings
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data, seed_catalogue
from supportbot.store.demo_history import load_demo_history
from supportbot.store.importer import import_customers
from supportbot.store.migrate import upgrade_database
from supportbot.store.models import Customer

EXIT_OK, EXIT_FAILED = 0, 1
Handler = Callable[[argparse.Namespace], int]


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    """A session factory on the configured database, its engine disposed afterwards."""
    engine = make_engine(get_settings().database_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def _shown_url() -> str:
    return make_url(get_settings().database_url).render_as_string(hide_password=True)


def _db_upgrade(_args: argparse.Namespace) -> int:
    upgrade_database(url=get_settings().database_url)
    print(f"database is at the latest schema: {_shown_url()}")
    return EXIT_OK


def _db_seed_catalogue(_args: argparse.Namespace) -> int:
    with _sessions() as sessions, sessions.begin() as session:
        seed_catalogue(session=session)
    print("plan and loyalty reward catalogue is in place")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    path: Path = args.file
    with _sessions() as sessions:
        result = import_customers(session_factory=sessions, path=path)
    print(f"imported {path.name}: {result.created} created, {result.updated} updated")
    return EXIT_OK


def _demo_load(args: argparse.Namespace) -> int:
    upgrade_database(url=get_settings().database_url)
    reference: dt.date = args.reference_date or dt.datetime.now(dt.UTC).date()
    with _sessions() as sessions:
        added = load_demo_data(session_factory=sessions, reference_date=reference)
    if added:
        print(f"loaded {added} demo customers (reference date {reference}) into {_shown_url()}")
    else:
        print(f"customers already exist in {_shown_url()}; demo data not loaded")
    if args.history:
        _demo_history(reference)
    return EXIT_OK


def _demo_history(reference: dt.date) -> None:
    """The demo's two years of history (docs/DEMO_DATA.md), once, into the profile and tracker stores."""
    tracker = make_engine(get_settings().tracker_store_url)
    try:
        with _sessions() as sessions:
            report = load_demo_history(session_factory=sessions, tracker_engine=tracker, reference_date=reference)
    finally:
        tracker.dispose()
    if report is None:
        print("demo history: already loaded, or the store does not hold the demo customers; nothing added")
        return
    print(
        f"demo history: {report.conversations} past conversations ({report.events} tracker events), "
        f"{report.ratings} ratings, {report.texts} feedback texts, {report.outreach} outreach messages, "
        f"{report.interactions} handoffs and problem reports, {report.orders} earlier orders, "
        f"{report.referrals} referrals, "
        f"{report.snapshots} usage snapshots"
    )


def _token_mint(args: argparse.Namespace) -> int:
    settings = get_settings()
    secret = settings.token_secret()
    with _sessions() as sessions, sessions() as session:
        if session.get(Customer, args.customer_id) is None:
            raise NotFoundError(f"no customer with id {args.customer_id!r}")
    ttl = args.ttl if args.ttl is not None else settings.customer_token_ttl_seconds
    print(
        mint_customer_token(
            customer_id=args.customer_id, secret=secret, ttl_seconds=ttl, audience=settings.customer_token_audience
        )
    )
    return EXIT_OK


def _customers_show(args: argparse.Namespace) -> int:
    query = (
        select(Customer)
        .where(Customer.id == args.customer_id)
        .options(
            selectinload(Customer.subscriptions),
            selectinload(Customer.orders),
            selectinload(Customer.loyalty),
            selectinload(Customer.consents),
            selectinload(Customer.channel_identities),
        )
    )
    with _sessions() as sessions, sessions() as session:
        customer = session.scalars(query).one_or_none()
        if customer is None:
            raise NotFoundError(f"no customer with id {args.customer_id!r}")
        print("\n".join(describe_customer(customer)))
    return EXIT_OK


def describe_customer(c: Customer) -> list[str]:
    """A short, human-readable profile (the lines ``customers show`` prints)."""
    lines = [
        f"{c.id}  {c.full_name} <{c.email}>",
        f"  time zone   {c.time_zone} ({c.locale}), quiet {c.quiet_hours_start:%H:%M}-{c.quiet_hours_end:%H:%M}",
        f"  customer    since {c.customer_since}, segment {c.segment}, "
        f"prefers {c.preferred_channel}, birthday {c.birthday or 'unknown'}",
    ]
    if c.subscriptions:
        s = c.subscriptions[-1]
        renewal = f"renews {s.renews_on}" if s.renews_on else "no renewal date"
        lines.append(
            f"  plan        {s.plan_code} {s.billing_period}, {s.status}, {renewal}, "
            f"auto-renew {'on' if s.auto_renew else 'off'}, {_money(s.price_cents, s.currency)}"
        )
    if c.loyalty:
        lines.append(f"  loyalty     {c.loyalty.tier}, {c.loyalty.points} points")
    latest = c.orders[-1] if c.orders else None
    lines.append(
        f"  orders      {len(c.orders)}"
        + (f", latest {latest.order_ref} {latest.status} on {latest.placed_at:%Y-%m-%d}" if latest else "")
    )
    opted_out = sorted(consent.kind for consent in c.consents if not consent.granted)
    lines.append(f"  opted out   {', '.join(opted_out) or 'nothing'}")
    channels = sorted(identity.channel for identity in c.channel_identities)
    lines.append(f"  linked      {', '.join(channels) or 'no messaging channel'}")
    return lines


def _money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m supportbot",
        description="Profile store and identity tools for the support assistant. "
        "The database is SUPPORTBOT_DATABASE_URL (default: SQLite under var/).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND"
    )
    db.add_parser("upgrade", help="apply migrations up to the latest schema").set_defaults(handler=_db_upgrade)
    db.add_parser("seed-catalogue", help="add the plan and loyalty reward catalogue").set_defaults(
        handler=_db_seed_catalogue
    )

    imp = commands.add_parser(
        "import", help="import customers from a .csv or .json file (docs/IMPORT_FORMAT.md); all or nothing"
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.set_defaults(handler=_import)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(
        dest="demo_command", required=True, metavar="SUBCOMMAND"
    )
    load = demo.add_parser("load", help="migrate, then load 300 demo customers if none exist")
    load.add_argument(
        "--reference-date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="date the demo's renewals, birthdays... are relative to (default: today)",
    )
    load.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        help="only the customers: no past conversations, ratings, outreach or referrals",
    )
    load.set_defaults(handler=_demo_load)

    token = commands.add_parser("token", help="customer tokens").add_subparsers(
        dest="token_command", required=True, metavar="SUBCOMMAND"
    )
    mint = token.add_parser("mint", help="print a signed customer token (needs CUSTOMER_TOKEN_SECRET)")
    mint.add_argument("customer_id", metavar="CUSTOMER_ID")
    mint.add_argument(
        "--ttl",
        type=_positive_int,
        default=None,
        metavar="SECONDS",
        help="lifetime (default: SUPPORTBOT_CUSTOMER_TOKEN_TTL_SECONDS)",
    )
    mint.set_defaults(handler=_token_mint)

    customers = commands.add_parser("customers", help="look at customers").add_subparsers(
        dest="customers_command", required=True, metavar="SUBCOMMAND"
    )
    show = customers.add_parser("show", help="print a short profile")
    show.add_argument("customer_id", metavar="ID")
    show.set_defaults(handler=_customers_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ImportValidationError as exc:
        print(f"import rejected, nothing was imported; {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_FAILED
    except SupportBotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        print(f"error: invalid settings: {first['msg']}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(
            f"database error: {reason} (database: {_safe_shown_url()}; has "
            "`python -m supportbot db upgrade` been run?)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _safe_shown_url() -> str:
    try:
        return _shown_url()
    except (pydantic.ValidationError, SQLAlchemyError):
        return "unknown"
