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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach import next_actions
from supportbot.outreach.config import CAMPAIGNS, OutreachConfig
from supportbot.outreach.facts import customer_id_batches, load_facts, load_histories
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


def outbox_row(facts: CustomerFacts, decision: Decision, *, day: dt.date, now: dt.datetime) -> dict[str, Any]:
    candidate = decision.candidate
    spec = CAMPAIGNS[candidate.campaign]
    row_day = local_day(candidate.due_at, zone(facts.time_zone)) if candidate.due_at else day
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
        "payload": json.dumps(dict(candidate.payload), sort_keys=True),
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
    if dialect in ("sqlite", "postgresql"):
        # The Core table, not the ORM entity: the ORM's bulk path would split the
        # rows into many statements; Core hands them to one DB-API executemany.
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        table = cast(Table, OutboxMessage.__table__)
        session.execute(insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows)
        return
    for row in rows:  # pragma: no cover - exercised only on other databases
        try:
            with session.begin_nested():
                session.execute(generic_insert(cast(Table, OutboxMessage.__table__)), [row])
        except IntegrityError:
            continue


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
    for f in facts:
        if day < local_day(now, zone(f.time_zone)):
            report.day_over += 1
            continue
        candidates, exclusions = select_candidates(f, day=day, now=now, config=config)
        candidates, outside = next_actions.extend(f, candidates, insights[f.customer_id], day=day, config=config)
        for exclusion in exclusions + outside:
            report.excluded[f"{exclusion.campaign}: {exclusion.reason}"] += 1
            if on_exclusion:
                on_exclusion(exclusion)
        if candidates:
            selected.append((f, candidates))
    keys = [c.key for _, candidates in selected for c in candidates]
    histories = load_histories(session=session, facts=[f for f, _ in selected], day=day, candidate_keys=keys)
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
) -> PlanReport:
    """Plan local ``day`` for every customer as of ``now``; a dry run decides the same and writes nothing."""
    report = PlanReport(day=day, dry_run=dry_run)
    after = ""
    while True:
        with sessions() if dry_run else sessions.begin() as session:
            ids = customer_id_batches(session=session, batch_size=batch_size, after=after)
            if not ids:
                break
            rows = plan_batch(
                session=session,
                ids=ids,
                day=day,
                now=now,
                config=config,
                report=report,
                on_decision=on_decision,
                on_exclusion=on_exclusion,
            )
            if not dry_run:
                insert_ignoring_duplicates(session, rows)
        after = ids[-1]
    logger.info("planned %s: %s", day, report.as_dict())
    return report


def days_to_plan(now: dt.datetime) -> list[dt.date]:
    """The UTC days that are "today" or "tomorrow" somewhere (UTC-12 to UTC+14).

    The planner skips, per customer, a day already over in their zone, so each
    customer gets their own today and tomorrow planned, wherever they live.
    """
    today = now.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
