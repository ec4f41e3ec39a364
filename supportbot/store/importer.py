"""Import customers from a CSV or JSON file into the profile store, all or nothing.

Format: ``docs/IMPORT_FORMAT.md``. Reading and validating values is
``import_records`` (pure); this module adds the checks that need the database
(plan exists, email or order ref not owned by another customer) and writes.

All or nothing, because a half-imported file is worse than none: the person
fixing it cannot tell which rows made it. So every problem in the whole file is
collected first, and the writes happen in one transaction that a database error
rolls back as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload, sessionmaker

from supportbot.errors import ImportProblem, ImportValidationError, InvalidRequestError
from supportbot.services.referrals import configured_reward, record_referral
from supportbot.store.growth_models import Referral, ReferralCode
from supportbot.store.import_records import (
    CustomerRecord,
    OrderRecord,
    ParsedFile,
    RowKeys,
    parse_rows,
    read_rows,
)
from supportbot.store.models import (
    Consent,
    Customer,
    FeatureUsage,
    LoyaltyAccount,
    Order,
    OrderItem,
    Plan,
    Subscription,
)

T = TypeVar("T")
_CHUNK = 500
"""Keys per IN (...) query: well under every database's bound-parameter limit."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def import_customers(*, session_factory: sessionmaker[Session], path: Path) -> ImportResult:
    """Validate the whole file, then insert new customers and update existing ones.

    Raises ImportValidationError listing every problem (nothing written),
    InvalidRequestError for an unsupported file type or a write the database
    refused (rolled back), NotFoundError when the file does not exist.
    """
    rows, file_problems = read_rows(path)
    # The latest calendar date anywhere on Earth (UTC+14): a customer who joined
    # "today" in Kiribati must not be refused as joining in the future.
    latest_today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()
    parsed = parse_rows(rows, today=latest_today)
    parsed.problems[:0] = file_problems
    try:
        with session_factory.begin() as session:
            parsed.problems.extend(check_against_database(session=session, keys=parsed.keys))
            if parsed.problems:
                raise ImportValidationError(sorted(parsed.problems, key=lambda pr: pr.row))
            return _write(session, parsed)
    except IntegrityError as exc:
        raise InvalidRequestError(f"the database refused the import, nothing was imported: {exc.orig}") from exc
    except (StatementError, OverflowError) as exc:
        # The field bounds should make this unreachable; if a value still does not fit the
        # database, say so plainly (rolled back) instead of showing a driver's traceback.
        reason = exc.orig if isinstance(exc, StatementError) else exc
        raise InvalidRequestError(f"the database could not store a value, nothing was imported: {reason}") from exc


def check_against_database(*, session: Session, keys: Sequence[RowKeys]) -> list[ImportProblem]:
    """Problems only the database can reveal: unknown plans, emails and order refs in use."""
    problems: list[ImportProblem] = []
    plans = set(session.scalars(select(Plan.code)))
    email_owner = _owners(session, Customer.email, Customer.id, [k.email for k in keys if k.email])
    refs = [ref for k in keys for _, ref in k.order_refs]
    ref_owner = _owners(session, Order.order_ref, Order.customer_id, refs)
    for k in keys:
        if k.plan_code is not None and k.plan_code not in plans:
            known = ", ".join(sorted(plans)) or "none (python -m supportbot db seed-catalogue)"
            message = f"unknown plan {k.plan_code!r}; known plans: {known}"
            problems.append(ImportProblem(k.row, "plan_code", message))
        owner = email_owner.get(k.email or "")
        if owner is not None and owner != k.customer_id:
            problems.append(ImportProblem(k.row, "email", f"{k.email!r} already belongs to customer {owner}"))
        for field_path, ref in k.order_refs:
            owner = ref_owner.get(ref)
            if owner is not None and owner != k.customer_id:
                problems.append(ImportProblem(k.row, field_path, f"order {ref} belongs to customer {owner}"))
    problems.extend(_referral_problems(session, keys))
    return problems


def _referral_problems(session: Session, keys: Sequence[RowKeys]) -> list[ImportProblem]:
    """A referral code must be a customer's code, not the customer's own, and not contradict one recorded."""
    wanted = [k for k in keys if k.referral_code]
    if not wanted:
        return []
    code_owner = _owners(session, ReferralCode.code, ReferralCode.customer_id, [str(k.referral_code) for k in wanted])
    recorded = _owners(session, Referral.customer_id, Referral.code, [k.customer_id for k in wanted if k.customer_id])
    problems = []
    for k in wanted:
        owner = code_owner.get(str(k.referral_code))
        before = recorded.get(k.customer_id or "")
        if owner is None:
            problems.append(
                ImportProblem(k.row, "referral_code", f"no customer has the referral code {k.referral_code}")
            )
        elif owner == k.customer_id:
            problems.append(ImportProblem(k.row, "referral_code", f"{k.referral_code} is this customer's own code"))
        elif before is not None and before != k.referral_code:
            problems.append(
                ImportProblem(
                    k.row, "referral_code", f"already recorded as referred with {before}; a customer is referred once"
                )
            )
    return problems


def _owners(
    session: Session,
    key: InstrumentedAttribute[str],
    owner: InstrumentedAttribute[str],
    values: list[str],
) -> dict[str, str]:
    """Map each of ``values`` found in column ``key`` to the customer id that owns it."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(values))):
        query = select(key, owner).where(key.in_(chunk))
        found.update({k: o for k, o in session.execute(query)})
    return found


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _write(session: Session, parsed: ParsedFile) -> ImportResult:
    existing = _load_customers(session, [r.id for r in parsed.records])
    orders = _load_orders(session, [o.order_ref for r in parsed.records for o in r.orders or ()])
    created = updated = 0
    now = dt.datetime.now(dt.UTC)
    for record in parsed.records:
        customer = existing.get(record.id)
        is_new = customer is None
        if customer is None:
            customer = Customer(id=record.id)
        _apply_profile(customer, record)
        _apply_subscription(customer, record, now=now)
        _apply_loyalty(customer, record)
        _apply_consents(customer, record, now=now)
        for order in record.orders or ():
            _apply_order(customer, order, orders.get(order.order_ref), record)
        _apply_usage(customer, record)
        if is_new:
            session.add(customer)  # only once complete: an autoflush never sees half a row
            created += 1
        else:
            updated += 1
    session.flush()  # surface constraint errors inside the transaction, before commit
    _record_referrals(session, parsed.records, now=now)
    return ImportResult(created=created, updated=updated)


def _record_referrals(session: Session, records: Sequence[CustomerRecord], *, now: dt.datetime) -> None:
    """Referrals of the file (checked in ``_referral_problems``); the same code again records nothing new."""
    wanted = [r for r in records if r.referral_code]
    if not wanted:
        return
    reward = configured_reward()
    for record in wanted:
        record_referral(
            session=session,
            customer_id=record.id,
            code=str(record.referral_code),
            source="import",
            now=now,
            reward=reward,
        )


def _load_customers(session: Session, ids: list[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = (
            select(Customer)
            .where(Customer.id.in_(chunk))
            .options(
                selectinload(Customer.subscriptions),
                selectinload(Customer.loyalty),
                selectinload(Customer.consents),
                selectinload(Customer.usage),
                selectinload(Customer.orders),
            )
        )
        found.update({c.id: c for c in session.scalars(query)})
    return found


def _load_orders(session: Session, refs: list[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    for chunk in _chunks(sorted(set(refs))):
        query = select(Order).where(Order.order_ref.in_(chunk)).options(selectinload(Order.items))
        found.update({o.order_ref: o for o in session.scalars(query)})
    return found


def _apply_profile(customer: Customer, r: CustomerRecord) -> None:
    customer.first_name, customer.last_name, customer.email = r.first_name, r.last_name, r.email
    customer.time_zone, customer.customer_since = r.time_zone, r.customer_since
    optional = {
        "phone": r.phone,
        "locale": r.locale,
        "birthday": r.birthday,
        "segment": r.segment,
        "preferred_channel": r.preferred_channel,
        "quiet_hours_start": r.quiet_hours_start,
        "quiet_hours_end": r.quiet_hours_end,
    }
    for name, value in optional.items():
        if value is not None:  # not given: keep the stored value (or the column default)
            setattr(customer, name, value)


def _apply_subscription(customer: Customer, r: CustomerRecord, *, now: dt.datetime) -> None:
    """The file describes the current subscription: update the latest one or start one."""
    if customer.subscriptions:
        sub = customer.subscriptions[-1]
    else:
        sub = Subscription(started_on=r.customer_since)
        customer.subscriptions.append(sub)
    sub.plan_code, sub.status, sub.billing_period = r.plan_code, r.subscription_status, r.billing_period
    sub.price_cents = r.price_cents
    if r.currency is not None:
        sub.currency = r.currency
    sub.renews_on = r.renews_on
    if r.auto_renew is not None:
        sub.auto_renew = r.auto_renew
    elif r.subscription_status == "cancelled":
        sub.auto_renew = False
    if r.subscription_status == "cancelled":
        sub.cancelled_at = sub.cancelled_at or now
    else:
        sub.cancelled_at = None


def _apply_loyalty(customer: Customer, r: CustomerRecord) -> None:
    account = customer.loyalty
    if account is None:
        account = customer.loyalty = LoyaltyAccount(points=0, tier="bronze", lifetime_points=0)
    if r.loyalty_points is not None:
        account.points = r.loyalty_points
        account.lifetime_points = max(account.lifetime_points or 0, r.loyalty_points)
    if r.loyalty_tier is not None and r.loyalty_tier != account.tier:
        account.tier = r.loyalty_tier
        account.tier_since = dt.datetime.now(dt.UTC).date()


def _apply_consents(customer: Customer, r: CustomerRecord, *, now: dt.datetime) -> None:
    """Only consents the file states are written: a blank cell never re-grants an opt-out."""
    by_kind = {c.kind: c for c in customer.consents}
    for kind, granted in r.consents.items():
        consent = by_kind.get(kind)
        if consent is None:
            customer.consents.append(Consent(kind=kind, granted=granted, source="import", updated_at=now))
        elif consent.granted != granted:
            consent.granted, consent.source, consent.updated_at = granted, "import", now


def _apply_order(customer: Customer, o: OrderRecord, order: Order | None, r: CustomerRecord) -> None:
    """Orders are matched by order_ref; orders the file does not list are kept."""
    if order is None:
        order = Order(order_ref=o.order_ref)
        customer.orders.append(order)
    order.placed_at, order.status, order.total_cents = o.placed_at, o.status, o.total_cents
    order.currency = o.currency or r.currency or order.currency or "USD"
    order.tracking_code, order.expected_delivery = o.tracking_code, o.expected_delivery
    order.items = [
        OrderItem(product_name=i.product_name, sku=i.sku, quantity=i.quantity, unit_price_cents=i.unit_price_cents)
        for i in o.items
    ]


def _apply_usage(customer: Customer, r: CustomerRecord) -> None:
    """Usage is matched by feature; features the file does not list are kept."""
    by_feature = {u.feature: u for u in customer.usage}
    for u in r.usage or ():
        usage = by_feature.get(u.feature)
        if usage is None:
            usage = FeatureUsage(feature=u.feature, first_used_at=u.last_used_at)
            customer.usage.append(usage)
        usage.uses_last_30d = u.uses_last_30d
        if u.last_used_at is not None:
            usage.last_used_at = u.last_used_at
