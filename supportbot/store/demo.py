"""A deterministic demo data set: the plan and reward catalogue plus 300 customers.

Why deterministic: docs, screenshots and tests refer to the same people in the
same situations, and two machines loading the demo for the same reference date
must get byte-identical rows. So: no Faker, no clock (every date is relative to
``reference_date``), no set iteration, and a random generator per customer
seeded by the customer's number, so one customer's randomness never shifts
another's. The first five customers are hand-written personas
(``demo_personas``, documented in ``docs/DEMO_DATA.md``).

All names, emails (example.com/example.org) and phone numbers (reserved fictional
ranges) are invented.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store import demo_build as b
from supportbot.store.demo_catalogue import (
    CANCEL_REASONS,
    EMAIL_DOMAINS,
    NAMES,
    PLANS,
    PLANS_BY_CODE,
    PRODUCT_CODES,
    REWARDS,
    ZONES,
    Zone,
)
from supportbot.store.demo_models import DemoDataset
from supportbot.store.demo_personas import build_personas
from supportbot.store.models import (
    ChannelIdentity,
    Customer,
    FeatureUsage,
    LoyaltyAccount,
    LoyaltyReward,
    Order,
    Plan,
    Subscription,
)

SEED = 20240611
CUSTOMER_COUNT = 300
DAY = dt.timedelta(days=1)
STATUS_WEIGHTS = (("active", 74), ("trial", 10), ("cancelled", 11), ("past_due", 5))
OPT_OUT_PERCENT = (("tips", 10), ("renewal", 5), ("milestones", 6), ("perks", 9), ("feedback", 12))
QUIET_HOURS = (((21, 0), (8, 0), 70), ((22, 0), (7, 0), 15), ((23, 0), (9, 0), 10), ((20, 0), (9, 30), 5))
USAGE_PROFILES = {  # name: (chance a plan feature is used, min uses, max uses in 30 days)
    "heavy": (0.85, 25, 250),
    "regular": (0.6, 4, 60),
    "light": (0.3, 1, 8),
    "dormant": (0.35, 0, 0),
}
LEAP_YEARS = (1976, 1980, 1984, 1988, 1992, 1996, 2000)


def seed_catalogue(*, session: Session) -> None:
    """Add the plans and loyalty rewards that are missing; rows already there are left alone."""
    for spec in PLANS:
        if session.get(Plan, spec.code) is None:
            session.add(
                Plan(
                    code=spec.code,
                    name=spec.name,
                    rank=spec.rank,
                    monthly_price_cents=spec.monthly_price_cents,
                    currency="USD",
                    features=",".join(spec.features),
                    active=True,
                )
            )
    for code, name, points_cost, min_tier in REWARDS:
        if session.get(LoyaltyReward, code) is None:
            session.add(LoyaltyReward(code=code, name=name, points_cost=points_cost, min_tier=min_tier))
    session.flush()


def load_demo_data(*, session_factory: sessionmaker[Session], reference_date: dt.date | None = None) -> int:
    """Load the catalogue and 300 customers into an empty store; return how many were added.

    Does nothing (returns 0) if any customer exists: the demo never mixes with, or
    overwrites, real or previously loaded data.
    """
    reference = reference_date or dt.datetime.now(dt.UTC).date()
    with session_factory.begin() as session:
        if session.scalar(select(Customer.id).limit(1)) is not None:
            return 0
        seed_catalogue(session=session)
        customers = build_demo_customers(reference_date=reference)
        session.add_all(customers)
        session.add(
            DemoDataset(name="customers", reference_date=reference, description="the 300 invented demo customers")
        )
    return len(customers)


def build_demo_customers(*, reference_date: dt.date) -> list[Customer]:
    """The 300 demo customers as unsaved objects: personas first, then generated ones."""
    customers = build_personas(reference_date)
    taken = {o.order_ref for c in customers for o in c.orders}
    pool = random.Random(SEED).sample(range(100_000, 1_000_000), 3000)
    order_refs = iter([str(n) for n in pool if str(n) not in taken])
    for number in range(len(customers) + 1, CUSTOMER_COUNT + 1):
        rng = random.Random(f"supportbot-demo-{SEED}-{number}")
        customers.append(_generated_customer(rng, number, reference_date, order_refs))
    return customers


def _generated_customer(rng: random.Random, number: int, ref: dt.date, order_refs: Iterator[str]) -> Customer:
    # Who and where first, before anything that depends on the reference date, so a
    # customer keeps the same name and place whatever the reference date.
    zone = rng.choices(ZONES, weights=[z.weight for z in ZONES])[0]
    firsts, lasts = NAMES[zone.names]
    first, last = rng.choice(firsts), rng.choice(lasts)
    email = b.email_for(first, last, rng.choice(EMAIL_DOMAINS), suffix=str(number))
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
    period = "monthly" if status == "trial" else rng.choices(("monthly", "yearly"), (68, 32))[0]
    plan = rng.choices([p.code for p in PLANS], (30, 35, 25, 10))[0]
    since = _customer_since(rng, number, ref, status)
    start, end, _ = rng.choices(QUIET_HOURS, [w for *_, w in QUIET_HOURS])[0]
    customer = Customer(
        id=f"C{number:06d}",
        first_name=first,
        last_name=last,
        email=email,
        phone=_phone(zone, number, rng),
        locale=zone.locale,
        time_zone=zone.time_zone,
        birthday=_birthday(rng, number, ref),
        customer_since=since,
        segment=_segment(rng, plan),
        quiet_hours_start=dt.time(*start),
        quiet_hours_end=dt.time(*end),
        created_at=b.utc_at(since),
        updated_at=b.utc_at(since),
    )
    customer.subscriptions = [_subscription(rng, ref, plan, period, status, since)]
    customer.orders = _orders(rng, ref, since, order_refs)
    customer.usage = _usage(rng, ref, since, plan, status)
    customer.last_active_at = max((u.last_used_at for u in customer.usage if u.last_used_at), default=None)
    customer.loyalty = _loyalty(rng, ref, since, customer.orders)
    opted_out = tuple(kind for kind, percent in OPT_OUT_PERCENT if rng.randint(1, 100) <= percent)
    tenure = (ref - since).days
    customer.consents = b.consents(opted_out=opted_out, at=b.utc_at(since + rng.randint(0, tenure) * DAY, 12))
    customer.channel_identities = _identities(rng, ref, since, number, customer.phone)
    customer.preferred_channel = _preferred_channel(rng, customer.channel_identities)
    return customer


def _phone(zone: Zone, number: int, rng: random.Random) -> str | None:
    """Numbers derived from the customer number, so they are unique within the demo."""
    if zone.phone is None or rng.random() < 0.1:
        return None
    if zone.phone == "nanp":  # 555-0100 to 555-0199: reserved for fiction in North America
        area = zone.area_codes[(number // 100) % len(zone.area_codes)]
        return f"+1 {area} 555 01{number % 100:02d}"
    return f"+44 7700 900{number % 1000:03d}"  # Ofcom's drama range


def _birthday(rng: random.Random, number: int, ref: dt.date) -> dt.date | None:
    if number % 61 == 0:
        return dt.date(rng.choice(LEAP_YEARS), 2, 29)
    if number % 37 == 0:  # birthday in the days around the reference date
        near = ref + rng.randint(-2, 5) * DAY
        leap = near.month == 2 and near.day == 29
        return b.birthday_in(rng.choice(LEAP_YEARS) if leap else rng.randint(1960, 2003), near)
    if rng.random() < 0.12:
        return None
    return dt.date(rng.randint(1955, 2004), 1, 1) + rng.randint(0, 364) * DAY


def _customer_since(rng: random.Random, number: int, ref: dt.date, status: str) -> dt.date:
    if status == "trial":
        return ref - rng.randint(0, 13) * DAY
    if number % 41 == 0:  # an anniversary in the coming week
        return b.years_before(ref + rng.randint(0, 6) * DAY, rng.randint(1, 5))
    return ref - rng.randint(20, 6 * 365) * DAY


def _segment(rng: random.Random, plan: str) -> str:
    if plan == "business":
        return rng.choice(("small_business", "enterprise"))
    return rng.choices(("consumer", "small_business", "education"), (80, 12, 8))[0]


def _subscription(
    rng: random.Random, ref: dt.date, plan: str, period: str, status: str, since: dt.date
) -> Subscription:
    months = b.period_months(period)
    common = functools.partial(b.subscription, plan_code=plan, billing_period=period, status=status, started_on=since)
    if status == "trial":
        return common(renews_on=since + 14 * DAY, auto_renew=rng.random() < 0.6)
    if status == "cancelled":
        cancelled_on = ref - rng.randint(3, min(400, (ref - since).days)) * DAY
        return common(
            renews_on=None,
            auto_renew=False,
            cancelled_at=b.utc_at(cancelled_on, rng.randint(7, 20), rng.randint(0, 59)),
            cancel_reason=rng.choice(CANCEL_REASONS),
        )
    if status == "past_due":
        renews_on = ref - rng.randint(1, 12) * DAY
        auto_renew, discount, until = True, 0, None
    else:
        renews_on = b.next_renewal(since, period, after=ref)
        auto_renew = rng.random() < 0.88
        discounted = rng.random() < 0.08
        discount = 20 if discounted else 0
        until = ref + rng.randint(15, 90) * DAY if discounted else None
    previous = b.add_months(renews_on, -months)
    return common(
        renews_on=renews_on,
        auto_renew=auto_renew,
        discount_percent=discount,
        discount_until=until,
        last_renewed_at=b.utc_at(previous, 6) if previous > since else None,
    )


def _orders(rng: random.Random, ref: dt.date, since: dt.date, order_refs: Iterator[str]) -> list[Order]:
    count = rng.choices((0, 1, 2, 3, 4), (48, 26, 14, 8, 4))[0]
    orders = []
    for _ in range(count):
        days_ago = rng.randint(0, min((ref - since).days, 720))
        placed = b.utc_at(ref - days_ago * DAY, rng.randint(0, 23), rng.randint(0, 59))
        if days_ago <= 2:
            status = "processing"
        elif days_ago <= 8:
            status = "shipped"
        else:
            status = rng.choices(("delivered", "cancelled", "returned"), (88, 6, 6))[0]
        products = rng.sample(PRODUCT_CODES, rng.choices((1, 2, 3), (65, 25, 10))[0])
        items = [(code, rng.randint(1, 3) if code == "tips" else 1) for code in products]
        order_ref = next(order_refs)
        shipped = status not in ("processing", "cancelled")
        orders.append(
            b.order(
                order_ref=order_ref,
                placed_at=placed,
                status=status,
                items=items,
                tracking_code=f"LMN{order_ref}{rng.randint(0, 999):03d}" if shipped else None,
                expected_delivery=None if status == "cancelled" else placed.date() + rng.randint(3, 7) * DAY,
            )
        )
    return sorted(orders, key=lambda o: o.placed_at)


def _usage(rng: random.Random, ref: dt.date, since: dt.date, plan: str, status: str) -> list[FeatureUsage]:
    """Heavy, regular, light and dormant users; features a customer never used get no row."""
    if status == "cancelled" and rng.random() < 0.7:
        profile = "dormant"
    else:
        profile = rng.choices(tuple(USAGE_PROFILES), (20, 42, 28, 10))[0]
    tenure = (ref - since).days
    if profile == "dormant" and tenure <= 30:
        return []  # signed up recently and never used it
    chance, low, high = USAGE_PROFILES[profile]
    rows = []
    for feature in PLANS_BY_CODE[plan].features:
        if rng.random() >= chance and not (feature == "notes" and profile != "dormant"):
            continue
        uses = rng.randint(low, high)
        last_days = rng.randint(0, min(29, tenure)) if uses else rng.randint(31, min(300, tenure))
        first_days = rng.randint(last_days, tenure)
        last_used = b.utc_at(ref - last_days * DAY, rng.randint(0, 23), rng.randint(0, 59))
        first_used = min(b.utc_at(ref - first_days * DAY, 10), last_used)
        rows.append(b.usage(feature=feature, uses_last_30d=uses, first_used_at=first_used, last_used_at=last_used))
    return rows


def _loyalty(rng: random.Random, ref: dt.date, since: dt.date, orders: list[Order]) -> LoyaltyAccount:
    spent = sum(o.total_cents for o in orders if o.status not in ("cancelled", "returned"))
    tenure = (ref - since).days
    lifetime = (tenure // 30) * rng.randint(20, 120) + spent // 100
    points = lifetime - lifetime * rng.randint(0, 70) // 100
    return b.loyalty(lifetime_points=lifetime, points=points, tier_since=since + rng.randint(0, tenure) * DAY)


def _identities(
    rng: random.Random, ref: dt.date, since: dt.date, number: int, phone: str | None
) -> list[ChannelIdentity]:
    """Some customers linked Telegram or WhatsApp (through Twilio); ids unique by customer number."""
    tenure = (ref - since).days
    identities = []
    if rng.random() < 0.18:
        identities.append(
            ChannelIdentity(
                channel="telegram",
                external_id=f"7{number:04d}{rng.randint(1000, 9999)}",
                linked_at=b.utc_at(since + rng.randint(0, tenure) * DAY, 15),
            )
        )
    if phone and rng.random() < 0.15:
        identities.append(
            ChannelIdentity(
                channel="twilio",
                external_id="whatsapp:+" + "".join(ch for ch in phone if ch.isdigit()),
                linked_at=b.utc_at(since + rng.randint(0, tenure) * DAY, 16),
            )
        )
    return identities


def _preferred_channel(rng: random.Random, identities: list[ChannelIdentity]) -> str:
    channels = [i.channel for i in identities]
    if "telegram" in channels:
        return rng.choice(("telegram", "web"))
    if "twilio" in channels:
        return "whatsapp"
    return rng.choices(("web", "email"), (65, 35))[0]
