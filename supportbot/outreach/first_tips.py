"""Set-based planning of the dominant case: a usage tip for a customer with nothing else going on.

Planning a day for a million customers is mostly one decision made a million times: the
customer has no occasion but a usage tip, nothing in the outbox that counts, and the rules let it
through (or their tips consent is withdrawn). Profiled, those first tips were 92 % of all rows, and
building facts, candidates and outbox rows in Python for each of them was most of the planner's
time. ``stage_first_tips`` makes exactly those decisions inside the database, for one batch of
customers, in one statement (on PostgreSQL an ``INSERT ... SELECT ... ON CONFLICT (idempotency_key)
DO NOTHING RETURNING``; on SQLite a ``SELECT`` into a temporary table, inserted the same way at
``Staged.write``), and says which customers it decided; ``planner.plan_range`` hands every other
customer of the batch to the Python rules as before.

Which customers qualify is a conservative test: a customer whose decisions could differ in any way
from "one usage tip, the day's send time" goes to Python. In SQL they must have

- exactly one subscription, on a known plan, in a renewable status, not renewing on a reminder
  offset of the day;
- no birthday or anniversary on the day, no fresh loyalty tier or recent order, not their surprise
  day (``selection._DayGates``: the same tests that decide whether those campaigns are asked);
- no closed handoff in the CSAT window, no linked messaging identity (the route is the website's),
  no row in any customer-intelligence table (``next_actions``: nothing added, no priority moved);
- no planned or sending outbox row, no usage tip row since the tip horizon, no sent row in the
  last eight days (so the caps' counts are zero, and the tips taken are the tips sent);
- a first name that JSON writes as it is (printable ASCII without quotes or backslashes), so the
  payload can be assembled by concatenation byte for byte as ``json.dumps(sort_keys=True)`` writes it;
- a time zone in which ``day`` is not over yet.

What the rules then decide is simple enough to state in SQL exactly: the tip is the first in the
order "most specific first, then library order" that fits (``selection._best_tip``: the plan has
the feature, the customer does not use it, uses every feature it requires, plan and segment
allowed, not sent to them before) as a ``CASE`` over a bit mask of the features used; consent
withdrawn for ``tips`` gives a skipped row with the rules' reason, otherwise it is planned (the
caps leave room: nothing counted, and the fast path is off when a cap is 0); no tip fitting means
nothing to send; the send time and quiet-hours hold come from the same
``rules._day_send_time``, worked out in Python once per (time zone, quiet hours) of the batch and
joined in. The configuration-dependent parts (tip order, plans, priorities) are rendered from the
configuration, never hard-coded. ``tests/scheduler/test_first_tips.py`` compares this with the
Python rules on populations built to hit every exit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Dialect, Table, text
from sqlalchemy.orm import Session

from supportbot.outreach.config import CAMPAIGNS, OutreachConfig, Tip
from supportbot.outreach.rules import _day_send_time
from supportbot.outreach.selection import (
    RENEWABLE_STATUSES,
    _day_gates,
    idempotency_key,
    perk_day_of_year,
    web_route,
)
from supportbot.outreach.timing import local_day, zone
from supportbot.store.models import Customer
from supportbot.store.outreach_models import OutboxMessage

if TYPE_CHECKING:
    from supportbot.outreach.planner import PlanReport

CAMPAIGN = "usage_tip"
DIALECTS = ("sqlite", "postgresql")
_MARK = "\x00"
"""A placeholder for the customer id (or name): the idempotency key, conversation id and payload
are formatted by the planner's own functions around it and split there into their constant parts."""


_TOO_ODD = 1 << 40
"""A used-features mask at or above this leaves the customer to Python (one bit per feature a tip
names sits below it: at most 40 such features, ``applicable``)."""


def applicable(config: OutreachConfig) -> bool:
    """Whether the configuration lets the fast path decide exactly as the rules would."""
    tips = config.campaigns.usage_tip
    features = {f for tip in tips.tips for f in (tip.feature, *tip.requires_used)}
    return (
        tips.enabled
        and not tips.audience  # an audience depends on the computed segment: Python's
        and config.caps.per_day > 0
        and config.caps.per_week > 0
        and bool(tips.tips)
        and len(features) < 40
    )


@dataclass(frozen=True)
class _Parts:
    """Constant pieces of the rows, split around ``_MARK``."""

    key_suffix: str
    conversation_prefix: str
    conversation_suffix: str
    payload_head: str


def _split(formatted: str) -> tuple[str, str]:
    head, sep, tail = formatted.partition(_MARK)
    if not sep or _MARK in tail:
        raise ValueError(f"cannot split {formatted!r} around the customer id")
    return head, tail


def _parts(day: dt.date) -> _Parts:
    key_head, key_suffix = _split(idempotency_key(_MARK, CAMPAIGN, day.isoformat()))
    if key_head:
        raise ValueError("the idempotency key must start with the customer id")
    route = web_route(_MARK)
    prefix, suffix = _split(route.conversation_id)
    from supportbot.outreach.planner import _PAYLOAD_JSON

    encoded_mark = json.dumps(_MARK)
    payload = _PAYLOAD_JSON.encode({"name": _MARK, "tip": "", "tip_id": ""})
    head, _, _ = payload.partition(encoded_mark)
    return _Parts(key_suffix=key_suffix, conversation_prefix=prefix, conversation_suffix=suffix, payload_head=head)


def _payload_tail(tip: Tip) -> str:
    """What follows the name in the payload ``outbox_row`` writes for this tip."""
    from supportbot.outreach.planner import _PAYLOAD_JSON

    encoded = _PAYLOAD_JSON.encode({"name": _MARK, "tip": tip.text, "tip_id": tip.id})
    _, sep, tail = encoded.partition(json.dumps(_MARK))
    if not sep:
        raise ValueError(f"the payload {encoded!r} does not have the name where it was expected")
    return tail


def _ranked_tips(config: OutreachConfig) -> list[Tip]:
    """The library in the order ``selection._best_tip`` prefers: most specific, then listed first."""
    tips = config.campaigns.usage_tip.tips
    order = sorted(
        range(len(tips)),
        key=lambda i: (-(len(tips[i].requires_used) + bool(tips[i].plans) + bool(tips[i].segments)), i),
    )
    return [tips[i] for i in order]


class _Sql:
    """Dialect-specific pieces of the statement (SQLite and PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"no set-based planning on {dialect}")
        self.pg = dialect == "postgresql"

    def typed(self, name: str, sql_type: str) -> str:
        """A parameter; on PostgreSQL cast (a VALUES list has no column types of its own)."""
        return f"CAST(:{name} AS {sql_type})" if self.pg else f":{name}"

    def month_day(self, column: str) -> str:
        """A date column's (month, day), comparable with ``month_day_value``'s."""
        if self.pg:
            return f"CAST(EXTRACT(MONTH FROM {column}) * 100 + EXTRACT(DAY FROM {column}) AS INTEGER)"
        return f"substr({column}, 6, 5)"  # SQLite stores dates as YYYY-MM-DD text

    def month_day_value(self, month: int, day: int) -> int | str:
        return month * 100 + day if self.pg else f"{month:02d}-{day:02d}"

    def contains(self, haystack: str, needle: str) -> str:
        return f"strpos({haystack}, {needle}) > 0" if self.pg else f"instr({haystack}, {needle}) > 0"

    def plain_json_text(self, column: str) -> str:
        """True where ``json.dumps`` writes the text as it is between two quotes."""
        printable = f"{column} !~ '[^ -~]'" if self.pg else f"{column} NOT GLOB '*[^ -~]*'"
        quote, backslash = "'\"'", "'\\'"
        return f"({printable} AND NOT {self.contains(column, quote)} AND NOT {self.contains(column, backslash)})"

    def not_listed(self, column: str, name: str) -> str:
        if self.pg:
            return f"NOT ({column} = ANY(CAST(:{name} AS TEXT[])))"
        return f"{column} NOT IN (SELECT value FROM json_each(:{name}))"


def _in_list(column: str, values: Sequence[str], params: dict[str, Any], prefix: str) -> str:
    """``column IN (:prefix0, ...)`` with the values bound (never rendered into the SQL)."""
    names = []
    for value in values:
        name = f"{prefix}{len(params)}"
        params[name] = value
        names.append(f":{name}")
    return f"{column} IN ({', '.join(names)})" if names else "FALSE"


def _tip_choice(
    config: OutreachConfig, plan_features: Mapping[str, frozenset[str]], params: dict[str, Any]
) -> tuple[str, list[Tip], dict[str, int]]:
    """(``CASE`` giving the chosen tip's rank, the ranked tips, feature -> bit)."""
    ranked = _ranked_tips(config)
    bits: dict[str, int] = {}
    for tip in ranked:
        for feature in (tip.feature, *tip.requires_used):
            bits.setdefault(feature, 1 << len(bits))
    whens = []
    for rank, tip in enumerate(ranked):
        plans = [code for code, features in sorted(plan_features.items()) if tip.feature in features]
        if tip.plans:
            plans = [code for code in plans if code in tip.plans]
        if not plans:
            continue
        required = sum(bits[f] for f in tip.requires_used)
        tests = [_in_list("f.plan_code", plans, params, "p"), f"(f.used & {bits[tip.feature]}) = 0"]
        if required:
            tests.append(f"(f.used & {required}) = {required}")
        if tip.segments:
            tests.append(_in_list("f.segment", tip.segments, params, "s"))
        # Never the same tip twice (a tip planned and not final would also count, but customers
        # with a pending row are not here). Last, and only for customers with any tip sent.
        name = f"tk{len(params)}"
        params[name] = tip.id
        tests.append(
            f"(f.tipped = 0 OR NOT EXISTS (SELECT 1 FROM outreach_tips_sent ts"
            f" WHERE ts.customer_id = f.id AND ts.tip_id = :{name}))"
        )
        whens.append(f"WHEN {' AND '.join(tests)} THEN {rank}")
    if not whens:
        return "NULL", ranked, bits
    return f"CASE {' '.join(whens)} END", ranked, bits


def _used_mask(bits: Mapping[str, int], params: dict[str, Any], sql: _Sql) -> str:
    """The bit mask of the features a customer used in the last 30 days (the bits of the features
    tips talk about; a plain sum, since a customer has one row per feature). A feature name with a
    comma, which Python's list splitting would read as two, sets ``_TOO_ODD``: such a customer is
    left to Python."""
    comma = "','"
    cases = [f"WHEN {sql.contains('fu.feature', comma)} THEN {_TOO_ODD}"]
    for feature, bit in bits.items():
        name = f"u{len(params)}"
        params[name] = feature
        cases.append(f"WHEN fu.feature = :{name} THEN {bit}")
    return (
        f"(SELECT CAST(coalesce(sum(CASE {' '.join(cases)} ELSE 0 END), 0) AS BIGINT) FROM feature_usage fu"
        " WHERE fu.customer_id = c.id AND fu.uses_last_30d > 0)"
    )


def _zones(
    session: Session, lo: str, hi: str, day: dt.date, now: dt.datetime, config: OutreachConfig
) -> list[tuple[Any, Any, Any, dt.datetime, str | None]]:
    """(time zone, quiet start, quiet end as stored) -> (not_before, hold reason) for the batch's
    combinations in which ``day`` is not over yet: the rules' own send time, once per combination."""
    connection = session.connection()
    dialect = connection.dialect
    rows = connection.execute(
        text(
            "SELECT DISTINCT time_zone, coalesce(quiet_hours_start, :qs_default),"
            " coalesce(quiet_hours_end, :qe_default) FROM customers WHERE id BETWEEN :lo AND :hi"
        ),
        {**_quiet_defaults(config, dialect), "lo": lo, "hi": hi},
    ).all()
    found = []
    for time_zone, start_raw, end_raw in rows:
        if day < local_day(now, zone(time_zone)):
            continue  # the day is over there: Python counts them (``day_over``)
        start = _from_db(Customer, "quiet_hours_start", start_raw, dialect)
        end = _from_db(Customer, "quiet_hours_end", end_raw, dialect)
        not_before, hold = _day_send_time(day, config.send_time, time_zone, start, end)
        found.append((time_zone, start_raw, end_raw, not_before, hold))
    return found


def _quiet_defaults(config: OutreachConfig, dialect: Dialect) -> dict[str, Any]:
    """The configured quiet hours, for customers whose own are missing (stored form)."""
    default = config.quiet_hours_default
    return {
        "qs_default": _to_db(Customer, "quiet_hours_start", default.start, dialect),
        "qe_default": _to_db(Customer, "quiet_hours_end", default.end, dialect),
    }


def _to_db(table: Any, column: str, value: Any, dialect: Dialect) -> Any:
    """``value`` as SQLAlchemy sends it for ``table.column`` (e.g. naive UTC text on SQLite)."""
    column_type = cast(Table, table.__table__).c[column].type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None or value is None else processor(value)


def _from_db(table: Any, column: str, value: Any, dialect: Dialect) -> Any:
    """A stored value of ``table.column`` as SQLAlchemy reads it back."""
    column_type = cast(Table, table.__table__).c[column].type
    processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return value if processor is None or value is None else processor(value)


_STAGED = "first_tips_batch"
"""SQLite: the batch's rows, computed into a temporary table before the outbox is written."""


@dataclass
class Staged:
    """One batch's first usage tips, decided. ``customers`` are decided (the caller plans the
    others); ``write`` puts the rows into the outbox and adds them to the report."""

    customers: set[str]
    _write: Callable[[], list[tuple[str, str | None]]] | None = None
    _returned: list[tuple[str, str | None]] | None = None
    """(customer, status) of the rows inserted; status None: decided, no tip fits."""

    def write(self, report: PlanReport) -> None:
        returned = self._returned if self._write is None else self._write()
        report.customers += len(self.customers)
        statuses = Counter(status for _, status in returned or ())
        if statuses["planned"]:
            report.planned[CAMPAIGN] += statuses["planned"]
        skipped = statuses["skipped"]
        if skipped:
            report.skipped[CAMPAIGN] += skipped
            report.skip_reasons[_consent_reason()] += skipped


NOTHING = Staged(set(), None, [])


def stage_first_tips(
    *, session: Session, ids: Sequence[str], day: dt.date, now: dt.datetime, config: OutreachConfig
) -> Staged:
    """Decide the first usage tips of one contiguous batch of customer ids (``ids`` sorted, every
    id between the first and the last in it, as ``facts.customer_id_batches`` gives them).

    PostgreSQL: one ``INSERT ... SELECT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING``;
    the customers are those it inserted for (a key that appeared meanwhile leaves its customer to
    the Python rules, which then find the key taken). SQLite: the rows go into a temporary table
    first and into the outbox only at ``write``, after the caller's Python planning of the other
    customers: SQLite has one writer at a time, and holding the write lock while the database
    searches the batch, or while Python plans the rest, would make a second planner process wait.
    A key that appears in between is left alone by ``ON CONFLICT DO NOTHING``, which is what the
    Python rules would do with it (the customer has no other candidate)."""
    if not ids or not applicable(config):
        return NOTHING
    connection = session.connection()
    sql = _Sql(connection.dialect.name)
    lo, hi = ids[0], ids[-1]
    zones = _zones(session, lo, hi, day, now, config)
    if not zones:
        return NOTHING
    rows_sql, columns, params = _statement(session, sql, zones, day=day, now=now, config=config)
    surprise_day = _day_gates(day, config.campaigns).day_of_year
    surprise = [cid for cid in ids if perk_day_of_year(cid) == surprise_day]
    params.update(lo=lo, hi=hi, surprise=surprise if sql.pg else json.dumps(surprise))
    names = ", ".join(columns)
    if sql.pg:
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        with_part, _, select_part = rows_sql.rpartition("\nSELECT ")
        insert = (
            f"{with_part}, batch_rows AS MATERIALIZED (SELECT {select_part}),"
            f" inserted AS (INSERT INTO outreach_outbox ({names}) SELECT {names} FROM batch_rows"
            " WHERE content_ref IS NOT NULL ON CONFLICT (idempotency_key) DO NOTHING RETURNING customer_id, status)"
            " SELECT customer_id, status FROM inserted"
            " UNION ALL SELECT customer_id, NULL FROM batch_rows WHERE content_ref IS NULL"
        )
        # The planner's estimate of how many of the batch's customers pass all these conditions is
        # tiny (the selectivities multiply), so left alone it probes each table once per customer
        # (nested loops); with the batch's id range on every table, merge and hash joins over one
        # range scan each are about half the server's work (measured). For this statement only.
        nested = connection.exec_driver_sql("SELECT current_setting('enable_nestloop')").scalar()
        connection.exec_driver_sql("SELECT set_config('enable_nestloop', 'off', true)")
        try:
            returned = _fetch(connection, insert, params)
        finally:
            connection.execute(text("SELECT set_config('enable_nestloop', :was, true)"), {"was": nested})
        return Staged({cid for cid, _ in returned}, None, returned)
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_STAGED}")
    connection.execute(text(f"CREATE TEMP TABLE {_STAGED} AS {rows_sql}"), params)
    customers = {cid for cid, _ in _fetch(connection, f"SELECT customer_id, NULL FROM temp.{_STAGED}", {})}

    def write() -> list[tuple[str, str | None]]:
        try:
            return _fetch(
                connection,
                f"INSERT INTO outreach_outbox ({names}) SELECT {names} FROM temp.{_STAGED}"
                " WHERE content_ref IS NOT NULL ON CONFLICT (idempotency_key) DO NOTHING RETURNING customer_id, status",
                {},
            )
        finally:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_STAGED}")

    return Staged(customers, write)


def _fetch(connection: Connection, statement: str, params: dict[str, Any]) -> list[tuple[str, str | None]]:
    result = connection.execute(text(statement), params)
    try:
        return [(cid, status) for cid, status in result.cursor.fetchall()]
    finally:
        result.close()


def _consent_reason() -> str:
    return f"consent withdrawn for {CAMPAIGNS[CAMPAIGN].kind}"


def _statement(
    session: Session,
    sql: _Sql,
    zones: list[tuple[Any, Any, Any, dt.datetime, str | None]],
    *,
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
) -> tuple[str, list[str], dict[str, Any]]:
    """(SQL of the batch's rows, their outbox column names, its parameters)."""
    connection = session.connection()
    dialect = connection.dialect
    params: dict[str, Any] = {}
    plan_features = {
        code: frozenset(f for f in (features or "").split(",") if f)
        for code, features in connection.execute(text("SELECT code, features FROM plans"))
    }
    choice, ranked, bits = _tip_choice(config, plan_features, params)
    parts = _parts(day)
    spec = CAMPAIGNS[CAMPAIGN]
    gates = _day_gates(day, config.campaigns)
    cfg = config.campaigns
    # The zones of the batch, and the tips, as small tables joined in.
    zone_rows = []
    for i, (time_zone, start, end, not_before, hold) in enumerate(zones):
        params.update({f"zt{i}": time_zone, f"zs{i}": start, f"ze{i}": end})
        params.update({f"zn{i}": _to_db(OutboxMessage, "not_before", not_before, dialect), f"zh{i}": hold})
        zone_rows.append(
            f"({sql.typed(f'zt{i}', 'TEXT')}, {sql.typed(f'zs{i}', 'TIME')}, {sql.typed(f'ze{i}', 'TIME')},"
            f" {sql.typed(f'zn{i}', 'TIMESTAMP')}, {sql.typed(f'zh{i}', 'TEXT')})"
        )
    tip_rows = []
    for rank, tip in enumerate(ranked):
        params.update({f"ti{rank}": tip.id, f"tt{rank}": _payload_tail(tip)})
        tip_rows.append(f"({rank}, {sql.typed(f'ti{rank}', 'TEXT')}, {sql.typed(f'tt{rank}', 'TEXT')})")
    renewal_dates = sorted(gates.renewal_dates)
    params.update(
        {f"rd{i}": _to_db(OutboxMessage, "local_day", d, dialect) for i, d in enumerate(renewal_dates)},
    )
    yearly = [sql.month_day_value(m, d) for m, d in sorted(gates.yearly)]
    params.update({f"y{i}": v for i, v in enumerate(yearly)})
    window_start = dt.datetime.combine(
        day - dt.timedelta(days=cfg.loyalty_milestone.window_days - 1), dt.time(0), tzinfo=dt.UTC
    )
    csat_since = now - dt.timedelta(hours=cfg.csat_followup.within_hours)
    # Any sent row from 8 UTC days back (before every zone's 7-local-day window) sends the
    # customer to Python: the caps' counts are then not all zero, or may not be.
    sent_since = dt.datetime.combine(day - dt.timedelta(days=8), dt.time(0), tzinfo=dt.UTC)
    tip_horizon = day - dt.timedelta(days=cfg.usage_tip.interval_days + 1)
    params.update(
        day=_to_db(OutboxMessage, "local_day", day, dialect),
        fresh_after=_to_db(OutboxMessage, "local_day", gates.fresh_tier_after, dialect),
        window_start=_to_db(OutboxMessage, "not_before", window_start, dialect),
        csat_since=_to_db(OutboxMessage, "not_before", csat_since, dialect),
        sent_since=_to_db(OutboxMessage, "not_before", sent_since, dialect),
        tip_horizon=_to_db(OutboxMessage, "local_day", tip_horizon, dialect),
        campaign=CAMPAIGN,
        kind=spec.kind,
        occasion=day.isoformat(),
        key_suffix=parts.key_suffix,
        local_day=_to_db(OutboxMessage, "local_day", day, dialect),
        intent=spec.intent,
        template=spec.template,
        payload_head=parts.payload_head,
        conv_prefix=parts.conversation_prefix,
        conv_suffix=parts.conversation_suffix,
        channel=web_route(_MARK).channel,
        priority=cfg.priority_of(CAMPAIGN),
        consent_reason=_consent_reason(),
        planned_at=_to_db(OutboxMessage, "planned_at", now, dialect),
    )
    # Columns the planner's rows leave to a Python-side default get it here too (``_bound_values``).
    given = (
        "customer_id, campaign, kind, occasion, idempotency_key, local_day, content_ref, intent, template,"
        " payload, channel, conversation_id, priority, status, not_before, attempts, retries, skip_reason,"
        " hold_reason, planned_at"
    )
    extra_columns, extra_values = [], []
    for column in cast(Table, OutboxMessage.__table__).c:
        if column.key in given.split(", ") or column.default is None or column.key == "id":
            continue
        if not column.default.is_scalar:
            raise ValueError(f"outbox column {column.key} has a computed default")
        params[f"d_{column.key}"] = column.default.arg  # type: ignore[attr-defined]
        extra_columns.append(column.key)
        extra_values.append(f":d_{column.key}")
    pending = "'planned', 'sending'"
    statuses = _in_list("s.status", list(RENEWABLE_STATUSES), params, "st")
    renewing = (
        f"(s.renews_on IS NULL OR s.renews_on NOT IN ({', '.join(f':rd{i}' for i in range(len(renewal_dates)))}))"
        if renewal_dates
        else "TRUE"
    )
    yearly_list = ", ".join(f":y{i}" for i in range(len(yearly)))
    plain_name = sql.plain_json_text("c.first_name")
    consent_off = "(cn.customer_id IS NOT NULL AND NOT coalesce(cn.granted, FALSE))"
    used = _used_mask(bits, params, sql)

    def near(alias: str) -> str:
        return f" AND {alias}.customer_id BETWEEN :lo AND :hi" if sql.pg else ""

    with_sql = f"""
WITH zones (time_zone, quiet_start, quiet_end, not_before, hold_reason) AS (VALUES {", ".join(zone_rows)}),
tips (tip_rank, tip_id, tail) AS (VALUES {", ".join(tip_rows)}),
fast AS MATERIALIZED (
  SELECT c.id AS id, c.first_name AS first_name, c.segment AS segment, s.plan_code AS plan_code,
         z.not_before AS not_before, z.hold_reason AS hold_reason, {consent_off} AS consent_off,
         CASE WHEN tsd.customer_id IS NULL THEN 0 ELSE 1 END AS tipped,
         {used} AS used
  FROM customers c
  CROSS JOIN zones z
  CROSS JOIN subscriptions s
  CROSS JOIN plans p
  LEFT JOIN loyalty_accounts la ON la.customer_id = c.id{near("la")}
  LEFT JOIN consents cn ON cn.customer_id = c.id{near("cn")} AND cn.kind = :kind
  LEFT JOIN (SELECT DISTINCT customer_id FROM outreach_tips_sent WHERE customer_id BETWEEN :lo AND :hi) tsd
    ON tsd.customer_id = c.id
  WHERE c.id BETWEEN :lo AND :hi
    AND z.time_zone = c.time_zone
    AND z.quiet_start = coalesce(c.quiet_hours_start, :qs_default)
    AND z.quiet_end = coalesce(c.quiet_hours_end, :qe_default)
    AND s.customer_id = c.id{near("s")} AND p.code = s.plan_code AND {statuses}
    AND NOT EXISTS (SELECT 1 FROM subscriptions s2 WHERE s2.customer_id = c.id{near("s2")} AND s2.id <> s.id)
    AND {renewing}
    AND (c.birthday IS NULL OR {sql.month_day("c.birthday")} NOT IN ({yearly_list}))
    AND {sql.month_day("c.customer_since")} NOT IN ({yearly_list})
    AND (la.tier_since IS NULL OR la.tier_since <= :fresh_after OR la.tier_since > :day)
    AND {sql.not_listed("c.id", "surprise")}
    AND {plain_name}
    AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id{near("o")}
                    AND o.status NOT IN ('cancelled', 'returned') AND o.placed_at >= :window_start)
    AND NOT EXISTS (SELECT 1 FROM support_interactions si WHERE si.customer_id = c.id{near("si")}
                    AND si.kind = 'handoff' AND si.status = 'closed' AND si.closed_at >= :csat_since)
    AND NOT EXISTS (SELECT 1 FROM channel_identities ci WHERE ci.customer_id = c.id{near("ci")})
    AND NOT EXISTS (SELECT 1 FROM outreach_outbox o WHERE o.customer_id = c.id{near("o")}
                    AND (coalesce(o.status, '') IN ({pending})
                         OR (o.campaign = :campaign AND o.local_day >= :tip_horizon)
                         OR (coalesce(o.status, '') = 'sent' AND o.sent_at >= :sent_since)))
    AND NOT EXISTS (SELECT 1 FROM customer_segments cs WHERE cs.customer_id = c.id{near("cs")})
    AND NOT EXISTS (SELECT 1 FROM next_best_actions nba WHERE nba.customer_id = c.id{near("nba")})
    AND NOT EXISTS (SELECT 1 FROM feedback fb WHERE fb.customer_id = c.id{near("fb")})
    AND NOT EXISTS (SELECT 1 FROM promoter_invitations pi WHERE pi.customer_id = c.id{near("pi")})
),
chosen AS MATERIALIZED (
  SELECT f.id AS id, f.first_name AS first_name, f.not_before AS not_before, f.hold_reason AS hold_reason,
         f.consent_off AS consent_off, f.tipped AS tipped, {choice} AS tip_rank
  FROM fast f WHERE f.used < {_TOO_ODD}
)
"""
    values = [
        ("customer_id", "ch.id"),
        ("campaign", ":campaign"),
        ("kind", ":kind"),
        ("occasion", ":occasion"),
        ("idempotency_key", "ch.id || :key_suffix"),
        ("local_day", sql.typed("local_day", "DATE")),
        ("content_ref", "t.tip_id"),
        ("intent", ":intent"),
        ("template", ":template"),
        ("payload", ":payload_head || '\"' || ch.first_name || '\"' || t.tail"),
        ("channel", ":channel"),
        ("conversation_id", ":conv_prefix || ch.id || :conv_suffix"),
        ("priority", ":priority"),
        ("status", "CASE WHEN ch.consent_off THEN 'skipped' ELSE 'planned' END"),
        ("not_before", "ch.not_before"),
        ("attempts", "0"),
        ("retries", "0"),
        ("skip_reason", "CASE WHEN ch.consent_off THEN :consent_reason END"),
        ("hold_reason", "CASE WHEN ch.consent_off THEN NULL ELSE ch.hold_reason END"),
        ("planned_at", sql.typed("planned_at", "TIMESTAMP")),
        *zip(extra_columns, extra_values, strict=True),
    ]
    assert [c for c, _ in values[:20]] == given.split(", ")
    rows_sql = (
        with_sql
        + "SELECT "
        + ", ".join(f"{expression} AS {column}" for column, expression in values)
        # A customer no tip fits gets a row without content_ref: decided (nothing to send), not inserted.
        + " FROM chosen ch LEFT JOIN tips t ON t.tip_rank = ch.tip_rank"
    )
    params.update(_quiet_defaults(config, connection.dialect))
    return rows_sql, [column for column, _ in values], params
