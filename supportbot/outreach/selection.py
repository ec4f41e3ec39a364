"""Who is due what, per campaign (pure: facts and a day in, candidate messages out).

The planner loads one ``CustomerFacts`` per customer in bulk and calls
``select_candidates``; nothing here touches the database or the clock, so every
campaign rule is tested with hand-built facts and a frozen day. Rules that protect
the customer (consent, caps, quiet hours, priorities) are applied afterwards, in
``supportbot.outreach.rules``, so a dry run can say why a candidate was dropped.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, TypeVar

from supportbot.formatting import feature_name, join_words, long_date, money, relative_days
from supportbot.outreach.config import CAMPAIGNS, Campaigns, OutreachConfig, Tip, TipsConfig, derived
from supportbot.outreach.timing import full_years, is_yearly_occurrence
from supportbot.services.perk_types import DISCOUNTABLE_STATUSES, FreeMonthPerk, PercentOffPerk, Perk, perk_config
from supportbot.store.models import LOYALTY_TIERS

WEB_SESSION = "web"
"""Verified website conversations the scheduler writes to: ``cust:<id>:web``, the id the
REST channel gives a widget that sends ``sender: "web"`` with a valid customer token."""
WEB_OUTPUT_CHANNEL = "socketio"
"""The widget's verified socket.io channel (``bot.channels.socketio``): a customer with the
chat open sees the message at once; everybody else finds it in the conversation's history
the next time the widget connects (the message is in the tracker either way)."""


@dataclass(frozen=True)
class Route:
    """Where a proactive message goes: a Rasa conversation id and output channel."""

    conversation_id: str
    channel: str


@dataclass(frozen=True)
class LinkedIdentity:
    channel: str
    external_id: str
    last_seen_at: dt.datetime | None
    linked_at: dt.datetime


def choose_route(
    *,
    customer_id: str,
    preferred_channel: str,
    identities: tuple[LinkedIdentity, ...],
    channels_on: frozenset[str],
) -> Route:
    """A linked messaging identity on a channel that is switched on wins (on the preferred
    channel, else the most recently seen); otherwise the verified website conversation."""
    identities = tuple(i for i in identities if i.channel in channels_on)
    if identities:
        preferred = [i for i in identities if i.channel == preferred_channel]
        pool = preferred or list(identities)
        best = max(pool, key=lambda i: (i.last_seen_at or i.linked_at, i.linked_at, i.channel, i.external_id))
        return Route(conversation_id=best.external_id, channel=best.channel)
    return web_route(customer_id)


def web_route(customer_id: str) -> Route:
    """The verified website conversation: every customer without a usable messaging link."""
    return Route(conversation_id=f"cust:{customer_id}:{WEB_SESSION}", channel=WEB_OUTPUT_CHANNEL)


@dataclass(frozen=True)
class SubscriptionFacts:
    id: int
    plan_code: str
    plan_name: str
    plan_features: frozenset[str]
    status: str
    renews_on: dt.date | None
    auto_renew: bool
    next_price_cents: int
    """What the next renewal costs, retention discount included."""
    currency: str


@dataclass(frozen=True)
class CustomerFacts:
    """Everything campaign selection needs to know about one customer, read in one go."""

    customer_id: str
    first_name: str
    time_zone: str
    quiet_start: dt.time
    quiet_end: dt.time
    customer_since: dt.date
    segment: str
    route: Route
    birthday: dt.date | None = None
    subscription: SubscriptionFacts | None = None
    features_used: frozenset[str] = frozenset()
    loyalty_tier: str | None = None
    tier_since: dt.date | None = None
    orders_total: int = 0
    orders_recent: int = 0
    """Orders placed in the loyalty milestone window (the last ``window_days`` local days)."""
    closed_handoffs: tuple[tuple[int, dt.datetime], ...] = ()
    """(interaction id, closed at) of handoffs closed recently."""
    consents: Mapping[str, bool] = field(default_factory=dict)
    """Explicit consent rows only; a kind without a row is granted."""
    tips_taken: frozenset[str] = frozenset()
    """Tips sent, or planned and not yet final: none of them may be chosen again."""
    last_tip_day: dt.date | None = None
    """The last local day a tip was planned, sent or skipped: the cadence counts from it."""


_Facts = TypeVar("_Facts", CustomerFacts, SubscriptionFacts)
_FIELDS: dict[type, frozenset[str]] = {}


def assembled(cls: type[_Facts], **values: Any) -> _Facts:
    """The same object as ``cls(**values)``, every field given, at under half the cost: a frozen
    dataclass's generated ``__init__`` sets each field through ``object.__setattr__``, and
    planning builds facts for every customer, a million a day (``facts.load_facts``)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in fields(cls))
    if values.keys() != names:
        raise TypeError(f"{cls.__name__} needs exactly {sorted(names)}, got {sorted(values)}")
    built = object.__new__(cls)
    object.__setattr__(built, "__dict__", values)
    return built


@dataclass(frozen=True)
class Candidate:
    customer_id: str
    campaign: str
    occasion: str
    payload: Mapping[str, Any]
    reason: str
    """Why this customer gets this message, in words, for the dry run and the console."""
    content_ref: str | None = None
    due_at: dt.datetime | None = None
    """For event-driven messages (CSAT): the moment it becomes due, instead of the day's send time."""

    @property
    def kind(self) -> str:
        return CAMPAIGNS[self.campaign].kind

    @property
    def key(self) -> str:
        """Formatted when asked (twice per candidate in planning): cheaper than ``cached_property``,
        whose first access per object (taking a lock, on Python 3.11) cost more than the formatting."""
        return idempotency_key(self.customer_id, self.campaign, self.occasion)


def idempotency_key(customer_id: str, campaign: str, occasion: str) -> str:
    return f"{customer_id}:{campaign}:{occasion}"


@dataclass(frozen=True)
class Exclusion:
    """A campaign that had an occasion for this customer but whose own rule said no."""

    customer_id: str
    campaign: str
    reason: str


RENEWABLE_STATUSES = ("active", "trial", "past_due")


def renewal_reminder(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | Exclusion | None:
    """A reminder when ``renews_on`` is exactly one of the offsets ahead.

    The occasion carries the renewal date: once the customer renews, ``renews_on``
    moves and the old reminders are neither planned again nor (see delivery) sent.
    A cancelled plan gets none (the customer decided; win-back is another campaign).
    With auto-renew off the reminder matters most, since nothing renews by itself.
    """
    sub = facts.subscription
    if sub is None or sub.renews_on is None:
        return None
    offset = (sub.renews_on - day).days
    if offset not in config.campaigns.renewal_reminder.offsets_days:
        return None
    if sub.status not in RENEWABLE_STATUSES:
        return Exclusion(facts.customer_id, "renewal_reminder", f"subscription is {sub.status}")
    payload = {
        "name": facts.first_name,
        "plan": sub.plan_name,
        "date": long_date(sub.renews_on),
        "renews_on": sub.renews_on.isoformat(),
        "when": relative_days(sub.renews_on, day),
        "price": money(sub.next_price_cents, sub.currency),
        "subscription_id": sub.id,
        "auto_renew": sub.auto_renew,
    }
    return Candidate(
        customer_id=facts.customer_id,
        campaign="renewal_reminder",
        occasion=f"sub{sub.id}:{sub.renews_on.isoformat()}:{offset}d",
        payload=payload,
        reason=f"{sub.plan_name} renews {sub.renews_on.isoformat()}, {offset} day{'' if offset == 1 else 's'} ahead"
        + ("" if sub.auto_renew else " (auto-renew is off)"),
    )


def csat_followups(facts: CustomerFacts, now: dt.datetime, config: OutreachConfig) -> list[Candidate]:
    """One CSAT question per handoff a person closed, ``delay_hours`` after it was closed."""
    cfg = config.campaigns.csat_followup
    found = []
    for interaction_id, closed_at in facts.closed_handoffs:
        age = now - closed_at
        if dt.timedelta(0) <= age <= dt.timedelta(hours=cfg.within_hours):
            found.append(
                Candidate(
                    customer_id=facts.customer_id,
                    campaign="csat_followup",
                    occasion=f"handoff{interaction_id}",
                    payload={"name": facts.first_name, "interaction_id": interaction_id},
                    reason=f"handoff {interaction_id} closed {closed_at:%Y-%m-%d %H:%M} UTC",
                    due_at=closed_at + dt.timedelta(hours=cfg.delay_hours),
                )
            )
    return found


def birthday(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | None:
    """On the birthday in the customer's time zone; 29 February is greeted on 28 February
    in other years (see ``timing.yearly_occurrence``)."""
    if facts.birthday is None or not is_yearly_occurrence(facts.birthday, day):
        return None
    return Candidate(
        customer_id=facts.customer_id,
        campaign="birthday",
        occasion=f"birthday:{day.year}",
        payload={"name": facts.first_name, "perk": perk_payload(config.campaigns.birthday.perk, facts)},
        reason=f"birthday {facts.birthday:%d %B}",
    )


def anniversary(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | None:
    if not is_yearly_occurrence(facts.customer_since, day):
        return None
    years = full_years(facts.customer_since, day)
    return Candidate(
        customer_id=facts.customer_id,
        campaign="anniversary",
        occasion=f"anniversary:{day.year}",
        payload={
            "name": facts.first_name,
            "years": years,
            "perk": perk_payload(config.campaigns.anniversary.perk, facts),
        },
        reason=f"customer since {facts.customer_since.isoformat()}: {years} year{'s' if years != 1 else ''}",
    )


def perk_payload(perk: Perk | None, facts: CustomerFacts) -> dict[str, Any] | None:
    """The perk's configuration for the outbox row, if this customer can be given it: a discount
    needs a running subscription to attach to. The action grants it and words the message."""
    if perk is None:
        return None
    if isinstance(perk, PercentOffPerk | FreeMonthPerk):
        sub = facts.subscription
        if sub is None or sub.status not in DISCOUNTABLE_STATUSES or sub.renews_on is None:
            return None
    return perk_config(perk)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def loyalty_milestone(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | None:
    """A new loyalty tier, else an order-count threshold crossed, within the last ``window_days``.

    Each milestone is greeted once in a customer's life (the occasion has no date),
    and only while it is fresh: switching the campaign on does not greet everyone
    who reached gold years ago.
    """
    cfg = config.campaigns.loyalty_milestone
    tier, since = facts.loyalty_tier, facts.tier_since
    if tier in cfg.tiers and since is not None and 0 <= (day - since).days < cfg.window_days:
        return Candidate(
            customer_id=facts.customer_id,
            campaign="loyalty_milestone",
            occasion=f"tier:{tier}",
            content_ref=tier,
            payload={
                "name": facts.first_name,
                "milestone": f"you've reached {tier.title()} status!",
                "perk": perk_payload(cfg.tiers[tier], facts),
            },
            reason=f"reached {tier} on {since.isoformat()}",
        )
    before = facts.orders_total - facts.orders_recent
    crossed = [n for n in cfg.order_counts if before < n <= facts.orders_total]
    if crossed:
        n = max(crossed)
        return Candidate(
            customer_id=facts.customer_id,
            campaign="loyalty_milestone",
            occasion=f"orders:{n}",
            content_ref=f"orders:{n}",
            payload={
                "name": facts.first_name,
                "milestone": f"that was your {ordinal(n)} order with us. Thank you!",
                "perk": perk_payload(cfg.order_counts[n], facts),
            },
            reason=f"{facts.orders_total} orders, {facts.orders_recent} in the last {cfg.window_days} days",
        )
    return None


def perk_day_of_year(customer_id: str) -> int:
    """A stable day (1-365) for a customer's yearly surprise, spreading the load over the year."""
    return zlib.crc32(customer_id.encode()) % 365 + 1


@lru_cache(maxsize=64)
def _day_of_year(day: dt.date) -> int:
    return day.timetuple().tm_yday


def surprise_perk(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | None:
    cfg = config.campaigns.surprise_perk
    if _day_of_year(day) != perk_day_of_year(facts.customer_id):
        return None
    tier = facts.loyalty_tier or "bronze"
    years = full_years(facts.customer_since, day)
    if years < cfg.min_tenure_years or LOYALTY_TIERS.index(tier) < LOYALTY_TIERS.index(cfg.min_tier):
        return None
    perk = perk_payload(cfg.perk, facts)
    if perk is None:  # the message is the perk: without one it has nothing to say
        return None
    return Candidate(
        customer_id=facts.customer_id,
        campaign="surprise_perk",
        occasion=f"perk:{day.year}",
        payload={"name": facts.first_name, "perk": perk},
        reason=f"{years} years with us, {tier} tier",
    )


def _tip_fits(tip: Tip, facts: CustomerFacts, sub: SubscriptionFacts) -> bool:
    return (
        tip.id not in facts.tips_taken
        and tip.feature in sub.plan_features
        and tip.feature not in facts.features_used
        and all(f in facts.features_used for f in tip.requires_used)
        and (not tip.plans or sub.plan_code in tip.plans)
        and (not tip.segments or facts.segment in tip.segments)
    )


def usage_tip(facts: CustomerFacts, day: dt.date, config: OutreachConfig) -> Candidate | None:
    """The most specific unused tip for a feature the plan has and the customer does not use yet.

    Specific beats general (a tip that builds on features they already use reads
    as personal); among equals the library's order decides, so the business
    ranks tips by editing the file.
    """
    cfg = config.campaigns.usage_tip
    sub = facts.subscription
    if sub is None or sub.status not in RENEWABLE_STATUSES:
        return None
    if facts.last_tip_day is not None and (day - facts.last_tip_day).days < cfg.interval_days:
        return None
    # The choice depends only on these (the library is fixed per config): customers share a
    # few hundred combinations, so each is worked out once (``_choices``), not per customer.
    key = (sub.plan_code, sub.plan_name, sub.plan_features, facts.features_used, facts.tips_taken, facts.segment)
    choices = _choices(cfg)
    if key not in choices:
        if len(choices) > _MAX_CHOICES:
            choices.clear()
        choices[key] = _best_tip(cfg, facts, sub)
    chosen = choices[key]
    if chosen is None:
        return None
    tip, reason = chosen
    return Candidate(
        customer_id=facts.customer_id,
        campaign="usage_tip",
        occasion=day.isoformat(),
        content_ref=tip.id,
        payload={"name": facts.first_name, "tip": tip.text, "tip_id": tip.id},
        reason=reason,
    )


def _best_tip(cfg: TipsConfig, facts: CustomerFacts, sub: SubscriptionFacts) -> tuple[Tip, str] | None:
    """The tip (and why, in words) for this plan, these habits and these tips already taken."""
    fitting = [(position, t) for position, t in enumerate(cfg.tips) if _tip_fits(t, facts, sub)]
    if not fitting:
        return None
    # The most specific tip that fits; among equals, the one listed first in the library.
    _, tip = max(fitting, key=lambda pt: (len(pt[1].requires_used) + bool(pt[1].plans) + bool(pt[1].segments), -pt[0]))
    uses = f", uses {join_words([feature_name(f) for f in tip.requires_used])}" if tip.requires_used else ""
    return tip, f"tip {tip.id}: {sub.plan_name} has {feature_name(tip.feature)}, not used yet{uses}"


_MAX_CHOICES = 100_000
_CHOICES: dict[int, tuple[TipsConfig, dict[tuple[object, ...], tuple[Tip, str] | None]]] = {}


def _choices(cfg: TipsConfig) -> dict[tuple[object, ...], tuple[Tip, str] | None]:
    """The tip choices made so far under this (immutable) tip configuration."""
    entry = _CHOICES.get(id(cfg))
    if entry is None or entry[0] is not cfg:  # the entry keeps cfg alive, so its id is not reused
        if len(_CHOICES) >= 8:
            _CHOICES.clear()
        entry = _CHOICES[id(cfg)] = (cfg, {})
    return entry[1]


def select_candidates(
    facts: CustomerFacts, *, day: dt.date, now: dt.datetime, config: OutreachConfig
) -> tuple[list[Candidate], list[Exclusion]]:
    """Every enabled campaign's candidate for this customer on local ``day`` (``now`` for event-driven ones).

    Each campaign's own function decides; it is only not called where a fact it checks first
    already rules it out for ``day`` (``_DayGates``: the renewal dates an offset ahead, the
    birthdays and anniversaries that fall on the day, a fresh tier or recent orders, the surprise
    day): on most days most customers have none of these, and planning a million customers made
    five million calls that returned None.
    """
    on = _enabled(config.campaigns)
    gates = _day_gates(day, config.campaigns)
    candidates: list[Candidate] = []
    exclusions: list[Exclusion] = []
    sub = facts.subscription
    if on.renewal_reminder and sub is not None and sub.renews_on in gates.renewal_dates:
        reminder = renewal_reminder(facts, day, config)
        if isinstance(reminder, Candidate):
            candidates.append(reminder)
        elif reminder is not None:
            exclusions.append(reminder)
    if on.csat_followup and facts.closed_handoffs:
        candidates.extend(csat_followups(facts, now, config))
    due: list[Candidate | None] = []
    born, since, tier_since = facts.birthday, facts.customer_since, facts.tier_since
    if on.birthday and born is not None and (born.month, born.day) in gates.yearly:
        due.append(birthday(facts, day, config))
    if on.anniversary and (since.month, since.day) in gates.yearly:
        due.append(anniversary(facts, day, config))
    if on.loyalty_milestone and (
        facts.orders_recent > 0 or (tier_since is not None and gates.fresh_tier_after < tier_since <= day)
    ):
        due.append(loyalty_milestone(facts, day, config))
    if on.surprise_perk and perk_day_of_year(facts.customer_id) == gates.day_of_year:
        due.append(surprise_perk(facts, day, config))
    if on.usage_tip:
        due.append(usage_tip(facts, day, config))
    candidates.extend(c for c in due if c is not None)
    return candidates, exclusions


@dataclass(frozen=True)
class _Enabled:
    renewal_reminder: bool
    csat_followup: bool
    birthday: bool
    anniversary: bool
    loyalty_milestone: bool
    surprise_perk: bool
    usage_tip: bool


def _enabled(campaigns: Campaigns) -> _Enabled:
    """Which campaigns run, read once per (immutable) configuration."""
    return derived(campaigns, _read_enabled)


def _read_enabled(campaigns: Campaigns) -> _Enabled:
    return _Enabled(**{name: campaigns.enabled(name) for name in _Enabled.__dataclass_fields__})


@dataclass(frozen=True)
class _DayGates:
    """Necessary conditions for a campaign to have an occasion on one day, each exactly the
    first test of the campaign's own function (so skipping the call changes nothing)."""

    renewal_dates: frozenset[dt.date]
    """``renews_on`` exactly one of ``renewal_reminder.offsets_days`` ahead."""
    yearly: frozenset[tuple[int, int]]
    """(month, day) of the origins a yearly event falls on ``day`` for (``is_yearly_occurrence``:
    29 February on 28 February in other years)."""
    fresh_tier_after: dt.date
    """A tier reached after this (and by the day) is inside ``loyalty_milestone.window_days``."""
    day_of_year: int


@lru_cache(maxsize=64)
def _gates_for(day: dt.date, offsets: tuple[int, ...], window_days: int) -> _DayGates:
    yearly = {(day.month, day.day)}
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        yearly.add((2, 29))
    return _DayGates(
        renewal_dates=frozenset(day + dt.timedelta(days=offset) for offset in offsets),
        yearly=frozenset(yearly),
        fresh_tier_after=day - dt.timedelta(days=window_days),
        day_of_year=_day_of_year(day),
    )


def _day_gates(day: dt.date, campaigns: Campaigns) -> _DayGates:
    return _gates_for(day, campaigns.renewal_reminder.offsets_days, campaigns.loyalty_milestone.window_days)
