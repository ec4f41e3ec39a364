"""Reading ``CustomerFacts`` for a batch of customers with a handful of set-based queries.

Planning touches every customer once a day; one query per customer per table
would be millions of round trips. Instead each batch of customer ids is read
with one query per table (Core ``select``, tuples not ORM objects: nothing to
track, nothing to lazy-load), then assembled in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.channels.availability import configured_channels
from supportbot.outreach.config import OutreachConfig
from supportbot.outreach.rules import History
from supportbot.outreach.selection import CustomerFacts, LinkedIdentity, SubscriptionFacts, choose_route
from supportbot.outreach.timing import day_window, zone
from supportbot.store.models import (
    ChannelIdentity,
    Consent,
    Customer,
    FeatureUsage,
    LoyaltyAccount,
    Order,
    Plan,
    Subscription,
    SupportInteraction,
)
from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent
from supportbot.store.perk_models import SubscriptionDiscount
from supportbot.store.repo import DiscountView, best_discount, price_after

PENDING = ("planned", "sending")


def customer_id_batches(*, session: Session, batch_size: int, after: str = "") -> list[str]:
    """The next ``batch_size`` customer ids after ``after`` (keyset pagination: no OFFSET scans)."""
    return list(session.scalars(select(Customer.id).where(Customer.id > after).order_by(Customer.id).limit(batch_size)))


def _span(column: Any, ids: Sequence[str]) -> Any:
    """``column BETWEEN min(ids) AND max(ids)``: an index range scan with two parameters.

    A batch is a contiguous run of customer ids (keyset pagination), so the range
    is exactly the batch; an IN list of thousands of ids costs more to render than
    to run. Callers drop rows of customers outside ``ids`` (when ids are not contiguous).
    """
    return column.between(min(ids), max(ids))


def _status() -> Any:
    """``outreach_outbox.status`` in a form no index can serve (``coalesce(status, '')``).

    The outbox queries here read one batch of customers: the index to use is the one on
    ``customer_id``. Left bare, SQLite (without ANALYZE statistics) prefers
    ``ix_outreach_outbox_due (status, not_before)`` for the ``status = / IN`` terms and
    scans every planned row of every customer for each batch, so planning grew
    quadratically with the outbox (measured: 2.5 ms CPU per customer over the first
    300,000 of 1,000,000 customers, 5 ms by the 350,000th). The filter itself is unchanged.
    """
    return func.coalesce(OutboxMessage.status, "")


def _perk_discounts(session: Session, ids: Sequence[str]) -> dict[int, list[DiscountView]]:
    """Perk discounts of the batch's subscriptions, by subscription id."""
    rows = session.execute(
        select(
            SubscriptionDiscount.subscription_id,
            SubscriptionDiscount.basis_points,
            SubscriptionDiscount.starts_on,
            SubscriptionDiscount.until,
            SubscriptionDiscount.reason,
        )
        .join(Subscription, Subscription.id == SubscriptionDiscount.subscription_id)
        .where(_span(Subscription.customer_id, ids))
    )
    found: dict[int, list[DiscountView]] = {}
    for sub_id, basis_points, starts_on, until, reason in rows:
        found.setdefault(sub_id, []).append(DiscountView(basis_points, starts_on, until, reason))
    return found


def _subscriptions(session: Session, ids: Sequence[str]) -> dict[str, SubscriptionFacts]:
    """Each customer's current subscription, by ``repo.current_subscription``'s rule:
    the newest not cancelled, else the newest cancelled."""
    rows = session.execute(
        select(
            Subscription.customer_id,
            Subscription.id,
            Subscription.plan_code,
            Plan.name,
            Plan.features,
            Subscription.status,
            Subscription.renews_on,
            Subscription.auto_renew,
            Subscription.price_cents,
            Subscription.discount_percent,
            Subscription.discount_until,
            Subscription.currency,
        )
        .join(Plan, Plan.code == Subscription.plan_code)
        .where(_span(Subscription.customer_id, ids))
        .order_by(Subscription.customer_id, Subscription.id.desc())
    )
    chosen: dict[str, SubscriptionFacts] = {}
    perk_discounts = _perk_discounts(session, ids)
    for cid, sid, code, name, features, status, renews_on, auto, price, disc, disc_until, currency in rows:
        current = chosen.get(cid)
        if current is not None and (current.status != "cancelled" or status == "cancelled"):
            continue
        chosen[cid] = SubscriptionFacts(
            id=sid,
            plan_code=code,
            plan_name=name,
            plan_features=frozenset(f for f in (features or "").split(",") if f),
            status=status,
            renews_on=renews_on,
            auto_renew=auto,
            next_price_cents=price_after(
                price,
                best_discount(
                    renews_on, discount_percent=disc, discount_until=disc_until, discounts=perk_discounts.get(sid, ())
                ),
            )
            if renews_on
            else price,
            currency=currency,
        )
    return chosen


@dataclass
class _Bag:
    used: set[str]
    consents: dict[str, bool]
    identities: list[LinkedIdentity]
    handoffs: list[tuple[int, dt.datetime]]
    tips: set[str]
    last_tip_day: dt.date | None = None
    orders_total: int = 0
    orders_recent: int = 0


def load_facts(
    *,
    session: Session,
    ids: Sequence[str],
    day: dt.date,
    now: dt.datetime,
    config: OutreachConfig,
    channels_on: frozenset[str] | None = None,
) -> list[CustomerFacts]:
    """Facts for ``ids`` as they stand at ``now``, for planning local ``day``.

    ``channels_on``: the messaging channels switched on (default: from the environment,
    as the Rasa server decides, ``bot.channels.availability``); links to others are ignored.
    """
    if not ids:
        return []
    if channels_on is None:
        channels_on = frozenset(configured_channels())
    bags = {cid: _Bag(set(), {}, [], [], set()) for cid in ids}
    for cid, feature in session.execute(
        select(FeatureUsage.customer_id, FeatureUsage.feature).where(
            _span(FeatureUsage.customer_id, ids), FeatureUsage.uses_last_30d > 0
        )
    ):
        if cid in bags:
            bags[cid].used.add(feature)
    for cid, kind, granted in session.execute(
        select(Consent.customer_id, Consent.kind, Consent.granted).where(_span(Consent.customer_id, ids))
    ):
        if cid in bags:
            bags[cid].consents[kind] = granted
    for cid, channel, external_id, seen, linked in session.execute(
        select(
            ChannelIdentity.customer_id,
            ChannelIdentity.channel,
            ChannelIdentity.external_id,
            ChannelIdentity.last_seen_at,
            ChannelIdentity.linked_at,
        ).where(_span(ChannelIdentity.customer_id, ids))
    ):
        if cid in bags:
            bags[cid].identities.append(LinkedIdentity(channel, external_id, seen, linked))
    since = now - dt.timedelta(hours=config.campaigns.csat_followup.within_hours)
    for owner, iid, closed_at in session.execute(
        select(SupportInteraction.customer_id, SupportInteraction.id, SupportInteraction.closed_at).where(
            _span(SupportInteraction.customer_id, ids),
            SupportInteraction.kind == "handoff",
            SupportInteraction.status == "closed",
            SupportInteraction.closed_at >= since,
        )
    ):
        if owner in bags and closed_at is not None:
            bags[owner].handoffs.append((iid, closed_at))
    # Orders "recent" by UTC days: a milestone a few hours early or late is harmless.
    window_start = dt.datetime.combine(
        day - dt.timedelta(days=config.campaigns.loyalty_milestone.window_days - 1), dt.time(0), tzinfo=dt.UTC
    )
    for cid, total, recent in session.execute(
        select(
            Order.customer_id,
            func.count(),
            func.sum(case((Order.placed_at >= window_start, 1), else_=0)),
        )
        .where(_span(Order.customer_id, ids), Order.status.not_in(("cancelled", "returned")))
        .group_by(Order.customer_id)
    ):
        if cid in bags:
            bags[cid].orders_total, bags[cid].orders_recent = int(total), int(recent or 0)
    for cid, tip_id in session.execute(
        select(OutreachTipSent.customer_id, OutreachTipSent.tip_id).where(_span(OutreachTipSent.customer_id, ids))
    ):
        if cid in bags:
            bags[cid].tips.add(tip_id)
    tip_horizon = day - dt.timedelta(days=config.campaigns.usage_tip.interval_days + 1)
    for cid, ref, status, local_day in session.execute(
        select(
            OutboxMessage.customer_id, OutboxMessage.content_ref, OutboxMessage.status, OutboxMessage.local_day
        ).where(
            _span(OutboxMessage.customer_id, ids),
            OutboxMessage.campaign == "usage_tip",
            # Skipped tips count for the cadence (an opted-out customer gets one skip
            # record per interval, not one a day) but do not use the tip up.
            _status().in_((*PENDING, "sent", "skipped")),
            or_(_status().in_(PENDING), OutboxMessage.local_day >= tip_horizon),
        )
    ):
        bag = bags.get(cid)
        if bag is None:
            continue
        if status in PENDING and ref:
            bag.tips.add(ref)
        if bag.last_tip_day is None or local_day > bag.last_tip_day:
            bag.last_tip_day = local_day
    loyalty = {
        cid: (tier, tier_since)
        for cid, tier, tier_since in session.execute(
            select(LoyaltyAccount.customer_id, LoyaltyAccount.tier, LoyaltyAccount.tier_since).where(
                _span(LoyaltyAccount.customer_id, ids)
            )
        )
    }
    subscriptions = _subscriptions(session, ids)
    facts = []
    for row in session.execute(
        select(
            Customer.id,
            Customer.first_name,
            Customer.time_zone,
            Customer.quiet_hours_start,
            Customer.quiet_hours_end,
            Customer.birthday,
            Customer.customer_since,
            Customer.segment,
            Customer.preferred_channel,
        )
        .where(_span(Customer.id, ids))
        .order_by(Customer.id)
    ):
        cid = row.id
        if cid not in bags:
            continue
        bag = bags[cid]
        tier, tier_since = loyalty.get(cid, (None, None))
        facts.append(
            CustomerFacts(
                customer_id=cid,
                first_name=row.first_name,
                time_zone=row.time_zone,
                quiet_start=row.quiet_hours_start or config.quiet_hours_default.start,
                quiet_end=row.quiet_hours_end or config.quiet_hours_default.end,
                customer_since=row.customer_since,
                segment=row.segment,
                route=choose_route(
                    customer_id=cid,
                    preferred_channel=row.preferred_channel,
                    identities=tuple(bag.identities),
                    channels_on=channels_on,
                ),
                birthday=row.birthday,
                subscription=subscriptions.get(cid),
                features_used=frozenset(bag.used),
                loyalty_tier=tier,
                tier_since=tier_since,
                orders_total=bag.orders_total,
                orders_recent=bag.orders_recent,
                closed_handoffs=tuple(sorted(bag.handoffs)),
                consents=dict(bag.consents),
                tips_taken=frozenset(bag.tips),
                last_tip_day=bag.last_tip_day,
            )
        )
    return facts


def load_histories(
    *, session: Session, facts: Sequence[CustomerFacts], day: dt.date, candidate_keys: Sequence[str]
) -> dict[str, History]:
    """Sent and pending counts in each customer's own local day and week, and which keys exist."""
    ids = [f.customer_id for f in facts]
    if not ids:
        return {}
    # The windows depend only on the time zone: computed once per zone, not once per customer
    # (a batch has thousands of customers in a few dozen zones).
    by_zone = {
        name: (day_window(day, zone(name)), day_window(day, zone(name), days=7))
        for name in {f.time_zone for f in facts}
    }
    windows = {f.customer_id: by_zone[f.time_zone] for f in facts}
    earliest = min(w[1][0] for w in windows.values())
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    week_start_day = day - dt.timedelta(days=6)
    for cid, status, sent_at, local_day in session.execute(
        select(OutboxMessage.customer_id, OutboxMessage.status, OutboxMessage.sent_at, OutboxMessage.local_day).where(
            _span(OutboxMessage.customer_id, ids),
            or_(
                and_(_status() == "sent", OutboxMessage.sent_at >= earliest),
                and_(_status().in_(PENDING), OutboxMessage.local_day.between(week_start_day, day)),
            ),
        )
    ):
        if cid not in windows:
            continue  # in the id range, but nothing to decide for this customer
        (day_start, day_end), (week_start, week_end) = windows[cid]
        c = counts[cid]
        if status == "sent" and sent_at is not None:
            c[0] += day_start <= sent_at < day_end
            c[1] += week_start <= sent_at < week_end
        elif status in PENDING:
            c[2] += local_day == day
            c[3] += 1
    existing: dict[str, set[str]] = defaultdict(set)
    if candidate_keys:
        for cid, key in session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(candidate_keys)
            )
        ):
            existing[cid].add(key)
    return {
        cid: History(
            sent_day=counts[cid][0],
            sent_week=counts[cid][1],
            pending_day=counts[cid][2],
            pending_week=counts[cid][3],
            existing_keys=frozenset(existing.get(cid, ())),
        )
        for cid in ids
    }
