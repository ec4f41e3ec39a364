"""Subscriptions: renewing, changing plan, and cancelling with a retention offer first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.formatting import feature_name, join_words, money
from supportbot.services.support import ConversationRef, record_interaction
from supportbot.store.models import Customer, Plan, Subscription, utcnow
from supportbot.store.repo import PlanView, SubscriptionView, _plan_view, _subscription_view, current_subscription


def _load_customer(session: Session, customer_id: str) -> Customer:
    customer = session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(
            selectinload(Customer.subscriptions).selectinload(Subscription.plan),
            selectinload(Customer.usage),
            selectinload(Customer.loyalty),
        )
    )
    if customer is None:
        raise NotFoundError(f"customer {customer_id} not found")
    return customer


def _subscription(customer: Customer) -> Subscription:
    sub = current_subscription(customer)
    if sub is None:
        raise InvalidRequestError("You don't have a subscription with us yet.")
    return sub


def add_period(day: dt.date, billing_period: str) -> dt.date:
    """One billing period later; 31 January + 1 month is the last day of February."""
    if billing_period == "yearly":
        try:
            return day.replace(year=day.year + 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year + 1, day=28)
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def renewal_price_cents(*, session: Session, subscription_id: int, day: dt.date) -> int:
    """What the renewal charge on ``day`` costs, with the largest discount running then (the
    retention offer's columns or a perk's ``subscription_discounts`` row; they do not stack).
    Every price shown for a renewal goes through this (or ``SubscriptionView.price_on``, the same rule)."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFoundError(f"subscription {subscription_id} not found")
    return _subscription_view(sub).price_on(day)


@dataclass(frozen=True)
class RenewalTerms:
    """What renewing now would do: the one preview both the question and the renewal use."""

    plan: str
    plan_name: str
    price_cents: int
    currency: str
    renews_on_before: dt.date | None
    renews_on_after: dt.date
    restart: bool
    """The plan is cancelled and renewing restarts it."""


def renewal_terms(*, session: Session, customer_id: str, today: dt.date) -> RenewalTerms:
    """The charge and the new renewal date of renewing now (nothing is changed)."""
    sub = _subscription(_load_customer(session, customer_id))
    base = max(today, sub.renews_on or today)
    restart = sub.status == "cancelled"
    if restart:
        renews_on_after = add_period(base, sub.billing_period) if base == today else base
    else:
        renews_on_after = add_period(base, sub.billing_period)
    return RenewalTerms(
        plan=sub.plan_code,
        plan_name=sub.plan.name,
        price_cents=_subscription_view(sub).price_on(today),
        currency=sub.currency,
        renews_on_before=sub.renews_on,
        renews_on_after=renews_on_after,
        restart=restart,
    )


def renew_now(
    *,
    session: Session,
    customer_id: str,
    today: dt.date,
    conversation: ConversationRef | None,
) -> SubscriptionView:
    """Pay the next period now: the renewal date moves one period on; a cancelled plan restarts.
    The terms are ``renewal_terms``'s, the ones the customer was asked about."""
    terms = renewal_terms(session=session, customer_id=customer_id, today=today)
    sub = _subscription(_load_customer(session, customer_id))
    if terms.restart:
        sub.status = "active"
        sub.cancelled_at = None
        sub.cancel_reason = None
        sub.auto_renew = True
        summary = f"reactivated {sub.plan_code}, renews {terms.renews_on_after}"
    else:
        if sub.status == "past_due":
            sub.status = "active"
        summary = f"renewed {sub.plan_code} early, next renewal {terms.renews_on_after}"
    sub.renews_on = terms.renews_on_after
    sub.last_renewed_at = utcnow()
    record_interaction(
        session=session, customer_id=customer_id, kind="renewal", summary=summary, conversation=conversation
    )
    session.flush()
    return _subscription_view(sub)


@dataclass(frozen=True)
class RetentionOffer:
    """What we offer before a cancellation, and why it fits this customer."""

    discount_percent: int
    months: int
    regular_price: str
    discounted_price: str
    reasons: str
    """A personal sentence: tenure, loyalty, the features they rely on."""
    cheaper_plan: PlanView | None
    cheaper_price: str | None
    """Per the customer's own billing period (``$120.00/year``), as the regular price is."""


def retention_offer(
    *, session: Session, customer_id: str, today: dt.date, discount_percent: int, months: int
) -> RetentionOffer:
    customer = _load_customer(session, customer_id)
    sub = _subscription(customer)
    if sub.status == "cancelled":
        raise InvalidRequestError("Your subscription is already cancelled.")
    years = (today - customer.customer_since).days // 365
    reasons: list[str] = []
    if years >= 1:
        reasons.append(f"you've been with us for {years} year{'s' if years != 1 else ''}")
    favourite = sorted((u for u in customer.usage if u.uses_last_30d > 0), key=lambda u: -u.uses_last_30d)[:2]
    if favourite:
        reasons.append(
            f"you used {join_words([feature_name(u.feature) for u in favourite])} "
            f"{sum(u.uses_last_30d for u in favourite)} times this month"
        )
    if customer.loyalty and customer.loyalty.points:
        reasons.append(f"you have {customer.loyalty.points:,} loyalty points")
    cheaper = session.scalar(
        select(Plan).where(Plan.active.is_(True), Plan.rank < sub.plan.rank).order_by(Plan.rank.desc()).limit(1)
    )
    discounted = round(sub.price_cents * (100 - discount_percent) / 100)
    return RetentionOffer(
        discount_percent=discount_percent,
        months=months,
        regular_price=money(sub.price_cents, sub.currency),
        discounted_price=money(discounted, sub.currency),
        reasons=join_words(reasons),
        cheaper_plan=_plan_view(cheaper) if cheaper else None,
        cheaper_price=(
            f"{money(cheaper.price_cents_for(sub.billing_period), cheaper.currency)}/"
            f"{sub.billing_period.removesuffix('ly')}"
            if cheaper
            else None
        ),
    )


def discount_end(today: dt.date, months: int) -> dt.date:
    until = today
    for _ in range(months):
        until = add_period(until, "monthly")
    return until


def accept_retention_offer(
    *,
    session: Session,
    customer_id: str,
    today: dt.date,
    discount_percent: int,
    months: int,
    conversation: ConversationRef | None,
) -> SubscriptionView:
    """Apply the retention discount the customer said yes to.

    This is the one place an accepted offer takes effect: the discount is the subscription's
    own ``discount_percent`` until ``discount_until``, in the store before the customer is
    told, and every renewal price honours it (``SubscriptionView.price_on``, which takes the
    largest of it and any perk's ``subscription_discounts``; they do not stack).
    """
    customer = _load_customer(session, customer_id)
    sub = _subscription(customer)
    if sub.status == "cancelled":
        raise InvalidRequestError("Your subscription is already cancelled.")
    sub.discount_percent = discount_percent
    sub.discount_until = discount_end(today, months)
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="retention_offer",
        summary=f"accepted {discount_percent}% off for {months} months instead of cancelling",
        conversation=conversation,
    )
    session.flush()
    return _subscription_view(sub)


@dataclass(frozen=True)
class CancellationTerms:
    plan: str
    plan_name: str
    access_until: dt.date | None


def cancellation_terms(*, session: Session, customer_id: str) -> CancellationTerms:
    sub = _subscription(_load_customer(session, customer_id))
    if sub.status == "cancelled":
        raise InvalidRequestError("Your subscription is already cancelled.")
    return CancellationTerms(plan=sub.plan_code, plan_name=sub.plan.name, access_until=sub.renews_on)


def cancel_subscription(
    *, session: Session, customer_id: str, reason: str, conversation: ConversationRef | None
) -> SubscriptionView:
    """Cancel at the end of the paid period: no further renewal, access until ``renews_on``."""
    customer = _load_customer(session, customer_id)
    sub = _subscription(customer)
    if sub.status == "cancelled":
        raise InvalidRequestError("Your subscription is already cancelled.")
    sub.status = "cancelled"
    sub.auto_renew = False
    sub.cancelled_at = utcnow()
    sub.cancel_reason = reason[:500]
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="cancellation",
        summary=f"cancelled {sub.plan_code}: {reason[:200]}",
        conversation=conversation,
    )
    session.flush()
    return _subscription_view(sub)


@dataclass(frozen=True)
class PlanOption:
    plan: PlanView
    direction: str
    """``upgrade`` or ``downgrade`` relative to the current plan."""
    price: str
    """The catalogue price per billing period of the customer's own plan (``$240.00/year``)."""
    gains: tuple[str, ...]
    losses: tuple[str, ...]
    difference: str = ""
    """Against what the customer pays now, per the same period (``$120.00 more``); empty without a plan."""


def plan_options(*, session: Session, customer_id: str) -> tuple[SubscriptionView | None, list[PlanOption]]:
    customer = _load_customer(session, customer_id)
    sub = current_subscription(customer)
    current_rank = sub.plan.rank if sub else -1
    current_features = set(_plan_view(sub.plan).features) if sub else set()
    current = _subscription_view(sub) if sub else None
    # Prices in the period the customer is billed in: a yearly customer compares yearly prices.
    period = current.billing_period if current else "monthly"
    options = []
    for plan in session.scalars(select(Plan).where(Plan.active.is_(True)).order_by(Plan.rank)):
        if sub and plan.code == sub.plan_code:
            continue
        view = _plan_view(plan)
        cents = plan.price_cents_for(period)
        options.append(
            PlanOption(
                plan=view,
                direction="upgrade" if plan.rank > current_rank else "downgrade",
                price=f"{money(cents, plan.currency)}/{period.removesuffix('ly')}",
                gains=tuple(feature_name(f) for f in view.features if f not in current_features),
                losses=tuple(feature_name(f) for f in sorted(current_features - set(view.features))),
                difference=_difference(cents - current.price_cents, plan.currency) if current else "",
            )
        )
    return current, options


def _difference(cents: int, currency: str) -> str:
    if cents == 0:
        return "the same as now"
    return f"{money(abs(cents), currency)} {'more' if cents > 0 else 'less'} than now"


@dataclass(frozen=True)
class PlanChangeTerms:
    """Moving from one plan to another: the preview the question and the change share."""

    from_plan: str
    from_name: str
    to_plan: str
    to_name: str
    price_cents: int
    currency: str
    billing_period: str
    starts_on: dt.date | None
    """The next renewal, when the new price is first charged."""
    direction: str
    gains: tuple[str, ...]
    losses: tuple[str, ...]


def plan_change_terms(*, session: Session, customer_id: str, plan_code: str) -> PlanChangeTerms:
    """What moving to ``plan_code`` would cost and change; raises when it is not possible."""
    customer = _load_customer(session, customer_id)
    sub = _subscription(customer)
    plan = session.get(Plan, plan_code)
    if plan is None or not plan.active:
        raise InvalidRequestError(f"We don't have a plan called “{plan_code}”.")
    if sub.plan_code == plan.code:
        raise InvalidRequestError(f"You're already on {plan.name}.")
    if sub.status == "cancelled":
        raise InvalidRequestError("Your subscription is cancelled; renew it first, then change plan.")
    current = set(_plan_view(sub.plan).features)
    target = _plan_view(plan)
    return PlanChangeTerms(
        from_plan=sub.plan_code,
        from_name=sub.plan.name,
        to_plan=plan.code,
        to_name=plan.name,
        price_cents=plan.price_cents_for(sub.billing_period),
        currency=plan.currency,
        billing_period=sub.billing_period,
        starts_on=sub.renews_on,
        direction="upgrade" if plan.rank > sub.plan.rank else "downgrade",
        gains=tuple(feature_name(f) for f in target.features if f not in current),
        losses=tuple(feature_name(f) for f in sorted(current - set(target.features))),
    )


def change_plan(
    *,
    session: Session,
    customer_id: str,
    plan_code: str,
    conversation: ConversationRef | None,
) -> SubscriptionView:
    """Move to another plan from the next renewal; the new price is the catalogue price
    (``plan_change_terms``, the terms the customer was asked about)."""
    terms = plan_change_terms(session=session, customer_id=customer_id, plan_code=plan_code)
    sub = _subscription(_load_customer(session, customer_id))
    plan = session.get(Plan, terms.to_plan)
    assert plan is not None
    sub.plan_code = plan.code
    sub.plan = plan
    sub.price_cents = terms.price_cents
    sub.currency = plan.currency
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="plan_change",
        summary=f"{terms.from_plan} -> {plan.code}",
        conversation=conversation,
    )
    session.flush()
    return _subscription_view(sub)
