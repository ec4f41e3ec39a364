"""Planning: turn one local day's due messages into outbox rows, idempotently.

A plan run reads customers in batches, selects candidates (``selection``),
applies the protecting rules (``rules``) and inserts ``planned`` and ``skipped``
rows with ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING``. Running it
again, or twice at once, or after a crash half-way, adds nothing that is already
there: the unique key, not the caller, guarantees it. Each batch is its own
transaction, so a crash loses at most the batch in flight, and the next run
plans it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Dialect, Table
from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach import first_tips, next_actions
from supportbot.outreach.config import CAMPAIGNS, OutreachConfig
from supportbot.outreach.facts import Scattered, customer_id_batches, load_facts, load_histories
from supportbot.outreach.plan_workers import between_batches, fewer_collections, plan_in_workers
from supportbot.outreach.rules import Decision, decide
from supportbot.outreach.selection import CustomerFacts, Exclusion, select_candidates
from supportbot.outreach.timing import local_day, zone
from supportbot.store.outreach_models import OutboxMessage

logger = logging.getLogger(__name__)

DecisionHook = Callable[[CustomerFacts, Decision], None]
ExclusionHook = Callable[[Exclusion], None]


@dataclass
class PlanReport:
    day: dt.date
    dry_run: bool
    customers: int = 0
    planned: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    day_over: int = 0
    """Customers for whom ``day`` had already ended in their own time zone: nothing planned for them."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "dry_run": self.dry_run,
            "customers": self.customers,
            "planned": dict(self.planned),
            "skipped": dict(self.skipped),
            "skip_reasons": dict(self.skip_reasons),
            "excluded": dict(self.excluded),
            "day_over": self.day_over,
        }


_PAYLOAD_JSON = json.JSONEncoder(sort_keys=True)
"""``json.dumps(payload, sort_keys=True)`` without building an encoder for every row."""


def outbox_row(facts: CustomerFacts, decision: Decision, *, day: dt.date, now: dt.datetime) -> dict[str, Any]:
    candidate = decision.candidate
    spec = CAMPAIGNS[candidate.campaign]
    row_day = local_day(candidate.due_at, zone(facts.time_zone)) if candidate.due_at else day
    payload = candidate.payload
    return {
        "customer_id": facts.customer_id,
        "campaign": candidate.campaign,
        "kind": spec.kind,
        "occasion": candidate.occasion,
        "idempotency_key": candidate.key,
        "local_day": row_day,
        "content_ref": candidate.content_ref,
        "intent": spec.intent,
        "template": spec.template,
        "payload": _PAYLOAD_JSON.encode(payload if type(payload) is dict else dict(payload)),
        "channel": facts.route.channel,
        "conversation_id": facts.route.conversation_id,
        "priority": decision.priority,
        "status": decision.status,
        "not_before": decision.not_before,
        "attempts": 0,
        "retries": 0,
        "skip_reason": decision.skip_reason,
        "hold_reason": decision.hold_reason,
        "planned_at": now,
    }


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows; a row whose idempotency key exists is silently left out.

    SQLite and PostgreSQL both have ``ON CONFLICT DO NOTHING``; any other
    database falls back to one savepoint per row, slower but equally correct.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _insert_sqlite(session, rows)
        return
    if dialect == "postgresql":
        _insert_postgresql(session, rows)
        return
    for row in rows:  # pragma: no cover - exercised only on other databases
        try:
            with session.begin_nested():
                session.execute(generic_insert(cast(Table, OutboxMessage.__table__)), [row])
        except IntegrityError:
            continue


def _bound_values(dialect: Dialect, rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, one tuple per row) with every value already converted by the column type's
    own bind processor for ``dialect``, exactly what SQLAlchemy would send, but converted once
    per distinct value: a day's rows share a few hundred send times and local days, and doing
    it per row and column was a fifth of planning's time. Worked column by column (the rows
    transposed, converted, transposed back: loops in C, the rows themselves left unchanged)."""
    table = cast(Table, OutboxMessage.__table__)
    keys = list(rows[0])
    columns: list[Sequence[Any]] = list(zip(*map(itemgetter(*keys), rows), strict=True))
    # Columns the rows leave out get their Python-side default, as a Core insert adds them.
    for column in table.c:
        if column.key in keys or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"outbox rows must give {column.key}: its default is computed per row")
        keys.append(column.key)
        columns.append([column.default.arg] * len(rows))  # type: ignore[attr-defined]
    for i, key in enumerate(keys):
        processor = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is None:
            continue
        converted = {value: None if value is None else processor(value) for value in set(columns[i])}
        columns[i] = [converted[value] for value in columns[i]]
    return keys, list(zip(*columns, strict=True))


def _insert_sqlite(session: Session, rows: list[dict[str, Any]]) -> None:
    """One DB-API ``executemany`` of ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING``."""
    connection = session.connection()
    table = cast(Table, OutboxMessage.__table__)
    keys, values = _bound_values(connection.dialect, rows)
    statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    compiled = statement.compile(dialect=connection.dialect, column_keys=keys)
    assert compiled.positiontup == keys, "the insert's parameters must be in the rows' column order"
    connection.exec_driver_sql(str(compiled), values)


def _insert_postgresql(session: Session, rows: list[dict[str, Any]]) -> None:
    """``COPY`` straight into the outbox; if a key is already there, the same rows again through
    ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING``.

    COPY is PostgreSQL's bulk path. The planner leaves out every key it found in the outbox
    (``load_histories``), so a conflict means another planner inserted some of these keys since:
    the COPY fails as a whole (inside a savepoint, nothing of it stays) and the conflict-ignoring
    insert decides row by row, as the unique key always does. Planning's commits need not wait
    for the disk (``synchronous_commit`` off for this transaction only): a batch lost in a crash
    is planned again by the next run, which is what the unique key makes safe.
    """
    import psycopg

    connection = session.connection()
    keys, values = _bound_values(connection.dialect, rows)
    columns = ", ".join(keys)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SET LOCAL synchronous_commit = off")
        try:
            copying = cursor.copy(f"COPY outreach_outbox ({columns}) FROM STDIN")
            with raw.transaction(), copying as copy:
                for row in values:
                    copy.write_row(row)
            return
        except psycopg.errors.UniqueViolation:
            logger.info("outbox keys appeared while planning (another planner?); inserting what is new")
        marks = ", ".join(["%s"] * len(keys))
        cursor.executemany(
            f"INSERT INTO outreach_outbox ({columns}) VALUES ({marks}) ON CONFLICT (idempotency_key) DO NOTHING",
            values,
        )


def plan_batch(
    *,
    session: Session,
    ids: list[str],
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
    report: PlanReport,
    on_decision: DecisionHook | None = None,
    on_exclusion: ExclusionHook | None = None,
) -> list[dict[str, Any]]:
    """Decide for one batch of customers; returns the rows to insert."""
    facts = load_facts(session=session, ids=ids, day=day, now=now, config=config)
    report.customers += len(facts)
    insights = next_actions.load_insights(session=session, ids=ids, now=now, config=config)
    selected = []
    today_in: dict[str, dt.date] = {}  # per time zone: a batch has thousands of customers in a few dozen
    for f in facts:
        today = today_in.get(f.time_zone)
        if today is None:
            today = today_in[f.time_zone] = local_day(now, zone(f.time_zone))
        if day < today:
            report.day_over += 1
            continue
        candidates, exclusions = select_candidates(f, day=day, now=now, config=config)
        candidates, outside = next_actions.extend(f, candidates, insights[f.customer_id], day=day, config=config)
        if exclusions or outside:
            for exclusion in exclusions + outside:
                report.excluded[f"{exclusion.campaign}: {exclusion.reason}"] += 1
                if on_exclusion:
                    on_exclusion(exclusion)
        if candidates:
            selected.append((f, candidates))
    keys = [c.key for _, candidates in selected for c in candidates]
    histories = load_histories(
        session=session,
        facts=[f for f, _ in selected],
        day=day,
        candidate_keys=keys,
        scattered=isinstance(ids, Scattered),
    )
    rows = []
    for f, candidates in selected:
        priorities = next_actions.priorities(insights[f.customer_id], config)
        for decision in decide(
            f, candidates, day=day, config=config, history=histories[f.customer_id], priorities=priorities
        ):
            campaign = decision.candidate.campaign
            if decision.status == "planned":
                report.planned[campaign] += 1
            else:
                report.skipped[campaign] += 1
                report.skip_reasons[decision.skip_reason or "?"] += 1
            if on_decision:
                on_decision(f, decision)
            rows.append(outbox_row(f, decision, day=day, now=now))
    return rows


def plan_day(
    *,
    sessions: sessionmaker[Session],
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
    dry_run: bool = False,
    batch_size: int = 2000,
    on_decision: DecisionHook | None = None,
    on_exclusion: ExclusionHook | None = None,
    workers: int = 1,
) -> PlanReport:
    """Plan local ``day`` for every customer as of ``now``; a dry run decides the same and writes nothing.

    ``workers`` > 1 plans contiguous ranges of customers in that many processes at once
    (``plan_workers``): the decisions are the same, each customer's are made by one process.
    A dry run and the hooks (which print in this process) always use this process alone.
    """
    if workers > 1 and not dry_run and on_decision is None and on_exclusion is None:
        report = plan_in_workers(
            sessions=sessions, day=day, now=now, config=config, batch_size=batch_size, workers=workers
        )
    else:
        report = PlanReport(day=day, dry_run=dry_run)
        with fewer_collections():
            plan_range(
                sessions=sessions,
                day=day,
                now=now,
                config=config,
                dry_run=dry_run,
                batch_size=batch_size,
                report=report,
                on_decision=on_decision,
                on_exclusion=on_exclusion,
            )
    logger.info("planned %s: %s", day, report.as_dict())
    return report


def plan_range(
    *,
    sessions: sessionmaker[Session],
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
    dry_run: bool,
    batch_size: int,
    report: PlanReport,
    on_decision: DecisionHook | None = None,
    on_exclusion: ExclusionHook | None = None,
    after: str = "",
    until: str | None = None,
) -> None:
    """Plan the customers with ids in (``after``, ``until``] (all by default), batch by batch.

    Where the database can make a batch's first usage tips itself (``first_tips``: no dry run, no
    hooks asking about each decision, a configuration it can express), it does, and the Python
    rules plan the batch's other customers; the decisions are the same either way.
    """
    set_based = not dry_run and on_decision is None and on_exclusion is None and first_tips.applicable(config)
    while True:
        with sessions() if dry_run else sessions.begin() as session:
            ids = customer_id_batches(session=session, batch_size=batch_size, after=after, until=until)
            if not ids:
                break
            rest: list[str] = ids
            staged = first_tips.NOTHING
            dialect = session.get_bind().dialect.name
            if set_based and dialect in first_tips.DIALECTS:
                staged = first_tips.stage_first_tips(session=session, ids=ids, day=day, now=now, config=config)
                if staged.customers:
                    rest = Scattered([cid for cid in ids if cid not in staged.customers], dialect)
            rows = plan_batch(
                session=session,
                ids=rest,
                day=day,
                now=now,
                config=config,
                report=report,
                on_decision=on_decision,
                on_exclusion=on_exclusion,
            )
            if not dry_run:
                staged.write(report)
                insert_ignoring_duplicates(session, rows)
        after = ids[-1]
        del rows, rest, staged
        between_batches()


def days_to_plan(now: dt.datetime) -> list[dt.date]:
    """The UTC days that are "today" or "tomorrow" somewhere (UTC-12 to UTC+14).

    The planner skips, per customer, a day already over in their zone, so each
    customer gets their own today and tomorrow planned, wherever they live.
    """
    today = now.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
