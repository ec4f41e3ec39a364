"""Perks: typed, granted in the store exactly once per key, and described from what was granted.

A perk is configuration (``config/campaigns.yml``) or an offer's terms, one of:

    {points: 200}                      loyalty points, credited to the ledger
    {percent_off: 10, months: 1}       K % off the next M months' renewals
    {free_months: 1}                   the next M months free
    {reward: "Lumen Pen case"}         a reward the customer can claim

``grant_perk`` is the only way one is given. It runs in the caller's transaction: for a
proactive message that is the transaction in which action_deliver_outreach marks the row
rendered, so the perk exists exactly when the message does, and the key ``outbox:<row id>``
makes a second rendering (docs/OUTREACH.md: at-least-once channels) find the first grant
instead of granting again. The text the customer reads is generated from the grant
(``GrantedPerk.sentence``), never written beside it; a perk that cannot be granted raises
``PerkUnavailable`` and is not announced.

For other callers (the retention offer's "20 % off for 3 months"): call ``grant_perk`` with
``PercentOffPerk`` and a key of your own (``offer:<interaction id>``) inside the transaction
that records the acceptance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.formatting import long_date, money
from supportbot.services.account import add_period, renewal_price_cents
from supportbot.services.perk_types import (
    DISCOUNTABLE_STATUSES,
    FreeMonthPerk,
    PercentOffPerk,
    Perk,
    PointsPerk,
    RewardPerk,
    parse_perk,
    perk_config,
)
from supportbot.store.models import Customer, LoyaltyAccount, Subscription, utcnow
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant, SubscriptionDiscount
from supportbot.store.repo import current_subscription

__all__ = [
    "FreeMonthPerk",
    "GrantedPerk",
    "PercentOffPerk",
    "Perk",
    "PerkUnavailable",
    "PointsPerk",
    "RewardPerk",
    "grant_perk",
    "parse_perk",
    "perk_config",
]


class PerkUnavailable(InvalidRequestError):
    """This customer cannot get this perk now (a discount without a running subscription, say)."""


@dataclass(frozen=True)
class GrantedPerk:
    grant_id: int
    kind: str
    sentence: str
    """What the message says the customer got, generated from the grant."""
    new: bool
    """False: this key had been granted before; nothing was added now."""


def grant_perk(
    *,
    session: Session,
    customer_id: str,
    perk: Perk,
    grant_key: str,
    reason: str,
    today: dt.date,
    outbox_id: int | None = None,
) -> GrantedPerk:
    """Grant ``perk`` once per ``grant_key`` in the caller's transaction (see the module docstring)."""
    existing = session.scalar(select(PerkGrant).where(PerkGrant.grant_key == grant_key))
    if existing is not None:
        if existing.customer_id != customer_id:
            raise InvalidRequestError(f"perk key {grant_key} belongs to another customer")
        return GrantedPerk(existing.id, existing.kind, existing.description, new=False)
    if session.get(Customer, customer_id) is None:
        raise PerkUnavailable(f"customer {customer_id} not found")
    grant = PerkGrant(customer_id=customer_id, grant_key=grant_key, reason=reason[:200], outbox_id=outbox_id)
    if isinstance(perk, PointsPerk):
        _grant_points(session, grant, perk)
    elif isinstance(perk, RewardPerk):
        grant.kind, grant.reward, grant.status = "reward", perk.reward, "claimable"
        grant.description = f"A free {perk.reward} is waiting for you: just ask us for it."
        session.add(grant)
    else:
        _grant_discount(session, grant, perk, today)
    session.flush()
    return GrantedPerk(grant.id, grant.kind, grant.description, new=True)


def _grant_points(session: Session, grant: PerkGrant, perk: PointsPerk) -> None:
    account = session.get(LoyaltyAccount, grant.customer_id)
    if account is None:  # points make a member: the programme starts with them
        account = LoyaltyAccount(customer_id=grant.customer_id, points=0, tier="bronze", lifetime_points=0)
        session.add(account)
        session.flush()
    reconcile_ledger(session=session, account=account)
    grant.kind, grant.points, grant.status = "points", perk.points, "granted"
    grant.description = f"We've added {perk.points:,} bonus loyalty points to your account."
    session.add(grant)
    session.flush()
    session.add(
        LoyaltyLedgerEntry(
            customer_id=grant.customer_id,
            points=perk.points,
            reason=grant.reason,
            source="perk",
            perk_grant_id=grant.id,
        )
    )
    account.points += perk.points
    account.lifetime_points += perk.points


def reconcile_ledger(*, session: Session, account: LoyaltyAccount) -> None:
    """Make the ledger add up to the account's balance before a movement: a balance that was set
    outside it (the migration's starting point, an import) comes in as one entry with that reason."""
    total = int(
        session.scalar(
            select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
                LoyaltyLedgerEntry.customer_id == account.customer_id
            )
        )
        or 0
    )
    if total != account.points:
        source = "opening" if total == 0 else "adjustment"
        reason = "balance before the ledger" if source == "opening" else "balance changed outside the ledger (import)"
        session.add(
            LoyaltyLedgerEntry(
                customer_id=account.customer_id, points=account.points - total, reason=reason, source=source
            )
        )
        session.flush()


def _discountable(session: Session, customer_id: str) -> Subscription:
    customer = session.get(Customer, customer_id)
    sub = current_subscription(customer) if customer else None
    if sub is None or sub.status not in DISCOUNTABLE_STATUSES or sub.renews_on is None:
        raise PerkUnavailable(f"customer {customer_id} has no running subscription to discount")
    return sub


def _grant_discount(session: Session, grant: PerkGrant, perk: PercentOffPerk | FreeMonthPerk, today: dt.date) -> None:
    """K % off (or all of) the next M monthly renewals; on a yearly plan, the same value off the next
    yearly renewal (M twelfths of K %), since a yearly plan has no monthly charge to take it from."""
    sub = _discountable(session, grant.customer_id)
    assert sub.renews_on is not None
    percent, months = (perk.percent_off, perk.months) if isinstance(perk, PercentOffPerk) else (100, perk.free_months)
    first = max(sub.renews_on, today)
    if sub.billing_period == "yearly":
        basis_points, until = round(percent * 100 * min(months, 12) / 12), first
    else:
        basis_points, until = percent * 100, first
        for _ in range(months - 1):
            until = add_period(until, "monthly")
    grant.kind = "free_month" if isinstance(perk, FreeMonthPerk) else "percent_off"
    grant.percent, grant.months, grant.status = percent, months, "granted"
    grant.description = ""  # worded below, from the price the discount gives
    session.add(grant)
    session.flush()
    session.add(
        SubscriptionDiscount(
            subscription_id=sub.id,
            basis_points=basis_points,
            starts_on=today,
            until=until,
            reason=grant.reason,
            perk_grant_id=grant.id,
        )
    )
    session.flush()
    price = money(renewal_price_cents(session=session, subscription_id=sub.id, day=first), sub.currency)
    grant.description = _discount_sentence(percent, months, sub.billing_period, first, price)


def _discount_sentence(percent: int, months: int, billing_period: str, first: dt.date, price: str) -> str:
    what = "on us" if percent == 100 else f"{percent}% off"
    if billing_period == "yearly":
        span = "one month" if months == 1 else f"{months} months"
        return (
            f"{span[0].upper()}{span[1:]} of your plan is {what}, taken off your yearly renewal on "
            f"{long_date(first)}: it costs {price}."
        )
    span = "Your next month is" if months == 1 else f"Your next {months} months are"
    return f"{span} {what}: your renewal on {long_date(first)} costs {price}."


def claim_reward(*, session: Session, customer_id: str, grant_id: int) -> None:
    """A claimable reward handed over (by the support team)."""
    grant = session.get(PerkGrant, grant_id)
    if grant is None or grant.customer_id != customer_id or grant.kind != "reward":
        raise InvalidRequestError(f"no reward {grant_id} for customer {customer_id}")
    if grant.status != "claimable":
        raise InvalidRequestError("That reward has already been claimed.")
    grant.status, grant.claimed_at = "claimed", utcnow()
