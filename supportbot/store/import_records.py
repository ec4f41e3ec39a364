"""Read and validate customer import files without touching the database.

Kept apart from ``importer`` (which writes) so every rule about what a valid row
is can be tested on plain values, and so the database step only ever sees rows
that already passed. Problems are collected, never raised one at a time: a
person fixing a file wants the whole list in one go. The format is documented in
``docs/IMPORT_FORMAT.md``; keep the two in step.

Nothing is silently altered on the way in: a CSV file is read with the csv module's own
line handling (``newline=""``), so a line break inside a quoted cell, or U+2028 LINE
SEPARATOR and the other characters ``str.splitlines`` breaks on, stay inside their cell
(splitting the text into lines first once cut such a cell in two: issue 14 finding 14);
and a value holding a line break or another control character is refused with a message
naming the character, since no field is meant to span lines and ``strip()`` would
otherwise remove some of them without a word.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from supportbot.errors import ImportProblem, InvalidRequestError, NotFoundError
from supportbot.store import import_fields as p
from supportbot.store.growth_models import normalise_code
from supportbot.store.models import (
    BILLING_PERIODS,
    FEATURES,
    LOYALTY_TIERS,
    ORDER_STATUSES,
    OUTREACH_KINDS,
    PREFERRED_CHANNELS,
    SEGMENTS,
    SUBSCRIPTION_STATUSES,
)

T = TypeVar("T")

CONSENT_FIELDS = tuple(f"consent_{kind}" for kind in OUTREACH_KINDS)
REQUIRED_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "time_zone",
    "customer_since",
    "plan_code",
    "subscription_status",
    "billing_period",
    "price",
)
OPTIONAL_FIELDS = (
    "phone",
    "locale",
    "birthday",
    "segment",
    "preferred_channel",
    "currency",
    "renews_on",
    "auto_renew",
    "loyalty_points",
    "loyalty_tier",
    *CONSENT_FIELDS,
    "quiet_hours_start",
    "quiet_hours_end",
    "referral_code",
)
FLAT_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
NESTED_FIELDS = ("orders", "usage")
ORDER_FIELDS = ("order_ref", "placed_at", "status", "currency", "items", "tracking_code", "expected_delivery")
ITEM_FIELDS = ("product_name", "sku", "quantity", "unit_price")
USAGE_FIELDS = ("feature", "uses_last_30d", "last_used_at")
FILE_ROW = 0
"""Row number of problems about the file as a whole (CSV header, JSON structure)."""
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
"""Every character ``str.splitlines`` breaks a line at."""


def control_character_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as it is: a line break or control character in it (tabs are fine)."""
    for char in value:
        if char in LINE_BREAKS or (unicodedata.category(char) == "Cc" and char != "\t"):
            name = unicodedata.name(char, "control character")
            kind = "a line break" if char in LINE_BREAKS else "a control character"
            return f"contains {kind} (U+{ord(char):04X} {name}); a value must be one line of text"
    return None


@dataclass(frozen=True)
class ItemRecord:
    product_name: str
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderRecord:
    order_ref: str
    placed_at: dt.datetime
    status: str
    currency: str | None
    items: tuple[ItemRecord, ...]
    tracking_code: str | None
    expected_delivery: dt.date | None

    @property
    def total_cents(self) -> int:
        return sum(item.quantity * item.unit_price_cents for item in self.items)


@dataclass(frozen=True)
class UsageRecord:
    feature: str
    uses_last_30d: int
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class CustomerRecord:
    """One valid customer. ``None`` in an optional field means "not given": keep what is stored."""

    row: int
    id: str
    first_name: str
    last_name: str
    email: str
    time_zone: str
    customer_since: dt.date
    plan_code: str
    subscription_status: str
    billing_period: str
    price_cents: int
    currency: str | None = None
    renews_on: dt.date | None = None
    auto_renew: bool | None = None
    phone: str | None = None
    locale: str | None = None
    birthday: dt.date | None = None
    segment: str | None = None
    preferred_channel: str | None = None
    loyalty_points: int | None = None
    loyalty_tier: str | None = None
    consents: Mapping[str, bool] = field(default_factory=dict)
    quiet_hours_start: dt.time | None = None
    quiet_hours_end: dt.time | None = None
    orders: tuple[OrderRecord, ...] | None = None
    usage: tuple[UsageRecord, ...] | None = None
    referral_code: str | None = None
    """The referral code the customer joined with (``LUMEN-XXXXXX``): recorded as a referral."""


@dataclass(frozen=True)
class RowKeys:
    """What the database check needs from a row, even when the row has other problems."""

    row: int
    customer_id: str | None
    email: str | None
    plan_code: str | None
    order_refs: tuple[tuple[str, str], ...]
    """(field path, order_ref) pairs."""
    referral_code: str | None = None


@dataclass
class ParsedFile:
    records: list[CustomerRecord] = field(default_factory=list)
    keys: list[RowKeys] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


class _Fields:
    """Reads fields of one object, turning each parser's ValueError into a problem."""

    def __init__(self, raw: Mapping[str, Any], *, row: int, prefix: str, problems: list[ImportProblem]) -> None:
        self.raw, self.row, self.prefix, self.problems = raw, row, prefix, problems

    def problem(self, name: str, message: str) -> None:
        self.problems.append(ImportProblem(self.row, f"{self.prefix}{name}", message))

    def get(self, name: str, parse: Callable[[Any], T], *, required: bool = False) -> T | None:
        value = self.raw.get(name)
        if isinstance(value, str):
            problem = control_character_problem(value)
            if problem is not None:
                self.problem(name, problem)
                return None
            value = value.strip()
        if value is None or value == "":
            if required:
                self.problem(name, "required field is missing")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(name, str(exc))
            return None

    def reject_unknown(self, allowed: tuple[str, ...]) -> None:
        for name in self.raw:
            if name not in allowed:
                self.problem(str(name), "unknown field")


RawRows = list[dict[str, Any] | None]
"""One entry per customer; ``None`` where the file holds something that is not an object."""


def read_rows(path: Path) -> tuple[RawRows, list[ImportProblem]]:
    """The raw objects of a .csv or .json file, plus problems with the file as a whole."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InvalidRequestError(
            f"cannot import {path.name}: unsupported file type {suffix or '(none)'!r}; use a .csv or .json file"
        )
    if not path.is_file():
        raise NotFoundError(f"import file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except UnicodeDecodeError as exc:
        return [], [ImportProblem(FILE_ROW, "file", f"not UTF-8 text ({exc.reason})")]
    return _read_csv(text) if suffix == ".csv" else _read_json(text)


def _read_csv(text: str) -> tuple[RawRows, list[ImportProblem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(reader)
    except csv.Error as exc:
        return [], [ImportProblem(FILE_ROW, "file", f"not a readable CSV file: {exc} (line {reader.line_num})")]


def _csv_rows(reader: csv.DictReader[str]) -> tuple[RawRows, list[ImportProblem]]:
    header = reader.fieldnames
    if not header:
        return [], [ImportProblem(FILE_ROW, "header", "file is empty; expected a header line")]
    problems = []
    for name in sorted({n for n in header if header.count(n) > 1}):
        problems.append(ImportProblem(FILE_ROW, name, "column appears more than once"))
    for name in header:
        if name in NESTED_FIELDS:
            problems.append(ImportProblem(FILE_ROW, name, "orders and usage need a JSON file"))
        elif name not in FLAT_FIELDS:
            problems.append(ImportProblem(FILE_ROW, name, "unknown column"))
    rows: RawRows = []
    for number, row in enumerate(reader, start=1):
        if row.get(None):  # csv puts cells beyond the header under the key None
            problems.append(ImportProblem(number, "row", "more cells than the header has columns"))
        rows.append({k: v for k, v in row.items() if k is not None and k in FLAT_FIELDS})
    return rows, problems


def _read_json(text: str) -> tuple[RawRows, list[ImportProblem]]:
    try:
        # Decimal: 12.99 stays 12.99, and a number of any length is read without Python's
        # 4,300-digit limit on int conversion; the field parsers bound every number.
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return [], [ImportProblem(FILE_ROW, "file", f"not valid JSON: {exc.msg} ({where})")]
    if not isinstance(data, list):
        return [], [ImportProblem(FILE_ROW, "file", "expected a JSON list of customer objects")]
    rows: RawRows = []
    problems = []
    for number, item in enumerate(data, start=1):
        if isinstance(item, dict):
            rows.append(item)
        else:
            problems.append(ImportProblem(number, "row", "expected a JSON object"))
            rows.append(None)
    return rows, problems


def parse_rows(rows: RawRows, *, today: dt.date) -> ParsedFile:
    """Validate every row and the file as a whole (duplicates); never stops at the first problem."""
    parsed = ParsedFile()
    first_row_of: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(rows, start=1):
        if raw is None:
            continue  # not an object; read_rows reported it
        row_problems: list[ImportProblem] = []
        record, keys = parse_customer(raw, row=number, today=today, problems=row_problems)
        for field_name, kind, value in (
            ("id", "id", keys.customer_id),
            ("email", "email", keys.email),
            *((path, "order_ref", ref) for path, ref in keys.order_refs),
        ):
            if value is None:
                continue
            first = first_row_of.setdefault((kind, value), number)
            if first != number:
                row_problems.append(ImportProblem(number, field_name, f"{value!r} already used in row {first}"))
        parsed.keys.append(keys)
        parsed.problems.extend(row_problems)
        if record is not None and not row_problems:
            parsed.records.append(record)
    return parsed


def parse_customer(
    raw: Mapping[str, Any], *, row: int, today: dt.date, problems: list[ImportProblem]
) -> tuple[CustomerRecord | None, RowKeys]:
    """One customer object; problems go to ``problems``, the record only if there were none."""
    before = len(problems)
    f = _Fields(raw, row=row, prefix="", problems=problems)
    f.reject_unknown(FLAT_FIELDS + NESTED_FIELDS)
    values: dict[str, Any] = {
        "id": f.get("id", p.parse_customer_id, required=True),
        "first_name": f.get("first_name", p.text(80), required=True),
        "last_name": f.get("last_name", p.text(80), required=True),
        "email": f.get("email", p.parse_email, required=True),
        "time_zone": f.get("time_zone", p.parse_time_zone, required=True),
        "customer_since": f.get("customer_since", p.past_date(today), required=True),
        "plan_code": f.get("plan_code", p.text(32), required=True),
        "subscription_status": f.get("subscription_status", p.choice(SUBSCRIPTION_STATUSES), required=True),
        "billing_period": f.get("billing_period", p.choice(BILLING_PERIODS), required=True),
        "price_cents": f.get("price", p.parse_money_cents, required=True),
        "currency": f.get("currency", p.parse_currency),
        "renews_on": f.get("renews_on", p.parse_date),
        "auto_renew": f.get("auto_renew", p.parse_bool),
        "phone": f.get("phone", p.parse_phone),
        "locale": f.get("locale", p.parse_locale),
        "birthday": f.get("birthday", p.parse_birthday(today)),
        "segment": f.get("segment", p.choice(SEGMENTS)),
        "preferred_channel": f.get("preferred_channel", p.choice(PREFERRED_CHANNELS)),
        "loyalty_points": f.get("loyalty_points", p.count(p.MAX_LOYALTY_POINTS)),
        "loyalty_tier": f.get("loyalty_tier", p.choice(LOYALTY_TIERS)),
        "quiet_hours_start": f.get("quiet_hours_start", p.parse_hhmm),
        "quiet_hours_end": f.get("quiet_hours_end", p.parse_hhmm),
        "referral_code": f.get("referral_code", parse_referral_code),
    }
    consents = {}
    for kind, name in zip(OUTREACH_KINDS, CONSENT_FIELDS, strict=True):
        granted = f.get(name, p.parse_bool)
        if granted is not None:
            consents[kind] = granted
    _check_combinations(f, values)
    orders = _parse_list(f, "orders", _parse_order) if raw.get("orders") is not None else None
    usage = _parse_list(f, "usage", _parse_usage) if raw.get("usage") is not None else None
    _check_usage_features_unique(f, raw.get("usage"))
    keys = RowKeys(
        row=row,
        customer_id=values["id"],
        email=values["email"],
        plan_code=values["plan_code"],
        order_refs=tuple((f"orders[{i}].order_ref", ref) for i, ref in _raw_order_refs(raw.get("orders"))),
        referral_code=values["referral_code"],
    )
    if len(problems) > before:
        return None, keys
    record = CustomerRecord(row=row, consents=consents, orders=orders, usage=usage, **values)
    return record, keys


def parse_referral_code(value: Any) -> str:
    """``LUMEN-XXXXXX`` (case and a space instead of the dash do not matter); anything else is refused."""
    raw = p.text(32)(value)
    code = normalise_code(raw)
    if code is None or len(raw.strip()) > len(code):
        raise ValueError(f"{raw!r} is not a referral code (they look like LUMEN-7KQ4MX)")
    return code


def _check_usage_features_unique(f: _Fields, usage: Any) -> None:
    """On the raw list, so positions match the file even when other entries are invalid."""
    if not isinstance(usage, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(usage, start=1):
        feature = item.get("feature") if isinstance(item, dict) else None
        if not isinstance(feature, str) or not feature.strip():
            continue
        key = feature.strip().lower()
        if key in seen:
            f.problem(f"usage[{index}].feature", f"{key!r} listed twice")
        seen.add(key)


def _check_combinations(f: _Fields, values: dict[str, Any]) -> None:
    status = values["subscription_status"]
    raw_renews_on = f.raw.get("renews_on")
    blank = raw_renews_on is None or (isinstance(raw_renews_on, str) and not raw_renews_on.strip())
    if status in ("trial", "active", "past_due") and blank:
        f.problem("renews_on", f"required when subscription_status is {status}")
    if status == "cancelled" and values["auto_renew"]:
        f.problem("auto_renew", "cannot be true for a cancelled subscription")
    start, end = values["quiet_hours_start"], values["quiet_hours_end"]
    if start is not None and start == end:
        f.problem("quiet_hours_end", "must differ from quiet_hours_start")


def _parse_list(f: _Fields, name: str, parse_one: Callable[[_Fields], T | None]) -> tuple[T, ...] | None:
    value = f.raw.get(name)
    if not isinstance(value, list):
        f.problem(name, "expected a list")
        return None
    parsed = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            f.problem(f"{name}[{index}]", "expected an object")
            continue
        prefix = f"{f.prefix}{name}[{index}]."
        result = parse_one(_Fields(item, row=f.row, prefix=prefix, problems=f.problems))
        if result is not None:
            parsed.append(result)
    return tuple(parsed)


def _parse_order(f: _Fields) -> OrderRecord | None:
    before = len(f.problems)
    f.reject_unknown(ORDER_FIELDS)
    order_ref = f.get("order_ref", p.parse_order_ref, required=True)
    placed_at = f.get("placed_at", p.parse_aware_datetime, required=True)
    status = f.get("status", p.choice(ORDER_STATUSES), required=True)
    currency = f.get("currency", p.parse_currency)
    tracking_code = f.get("tracking_code", p.text(64))
    expected_delivery = f.get("expected_delivery", p.parse_date)
    items = None
    if f.raw.get("items") in (None, []):
        f.problem("items", "an order needs at least one item")
    else:
        items = _parse_list(f, "items", _parse_item)
    if items and sum(item.quantity * item.unit_price_cents for item in items) > p.MAX_ORDER_TOTAL_CENTS:
        f.problem("items", f"the order's total is over {p.MAX_ORDER_TOTAL_CENTS / 100:,.2f}")
    if len(f.problems) > before:
        return None
    assert order_ref and placed_at and status and items is not None
    return OrderRecord(order_ref, placed_at, status, currency, items, tracking_code, expected_delivery)


def _parse_item(f: _Fields) -> ItemRecord | None:
    before = len(f.problems)
    f.reject_unknown(ITEM_FIELDS)
    name = f.get("product_name", p.text(120), required=True)
    sku = f.get("sku", p.text(40), required=True)
    quantity = f.get("quantity", p.parse_quantity, required=True)
    unit_price = f.get("unit_price", p.parse_money_cents, required=True)
    if len(f.problems) > before:
        return None
    assert name and sku and quantity and unit_price is not None
    return ItemRecord(name, sku, quantity, unit_price)


def _parse_usage(f: _Fields) -> UsageRecord | None:
    before = len(f.problems)
    f.reject_unknown(USAGE_FIELDS)
    feature = f.get("feature", p.choice(FEATURES), required=True)
    uses = f.get("uses_last_30d", p.count(p.MAX_USES_30D), required=True)
    last_used_at = f.get("last_used_at", p.parse_aware_datetime)
    if len(f.problems) > before:
        return None
    assert feature and uses is not None
    return UsageRecord(feature, uses, last_used_at)


def _raw_order_refs(orders: Any) -> list[tuple[int, str]]:
    """Order refs that look valid, even in orders with other problems (for duplicate checks)."""
    if not isinstance(orders, list):
        return []
    refs = []
    for index, order in enumerate(orders, start=1):
        ref = order.get("order_ref") if isinstance(order, dict) else None
        if isinstance(ref, str) and p.is_order_ref(ref.strip()):
            refs.append((index, ref.strip()))
    return refs
