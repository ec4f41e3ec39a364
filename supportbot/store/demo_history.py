"""Two years of invented history for the demo customers, so every console page has figures on the first run.

``load_demo_history`` adds, for the 300 demo customers (``demo``) and some anonymous visitors:

- **conversations** in Rasa's tracker store (``demo_tracker``, ``demo_dialogues``): questions about
  plans, renewals, orders and points, handoffs, problem reports, opt-outs, small talk and misfires,
  each settled one ending in thanks and, often, the CSAT question, NPS when due, the open question,
  the programme invitation;
- what those leave in the profile store: **ratings and feedback texts** (in themes: ``demo_texts``),
  follow-ups for detractors who asked, **handoffs and problem reports**, promoter invitations;
- **outreach** that was sent (renewal reminders, birthdays, anniversaries, usage tips, CSAT after a
  handoff, referral and programme invitations) with its conversation, and some that was skipped;
- the **referral programme**: promoters' codes, referrals (from an import, or told in chat after a
  yes) and the referrer's points in the loyalty ledger;
- **usage snapshots** at each of the last 13 month ends (``feature_usage`` as it would have been),
  so churn scores and segments can be computed as of past months (``intelligence backfill``).

It is history only: nothing after the day before the reference date, no customer's current state
changed except the points referrals earned. Customers who cancelled had more problems, handoffs
and poor ratings in their last months, as churn looks in real data. Deterministic like the rest of
the demo: a random generator per customer, seeded by its number; no clock; the same reference date
gives byte-identical databases (``tests/unit/test_demo_history.py``). Loaded once: the
``demo_datasets`` row ``history`` marks it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from supportbot.formatting import long_date, money, relative_days
from supportbot.outreach.config import CAMPAIGNS, Tip, load_config
from supportbot.services.referrals import perk_words
from supportbot.settings import get_settings
from supportbot.store import demo_build as b
from supportbot.store import demo_dialogues as d
from supportbot.store import demo_tracker
from supportbot.store.demo import SEED
from supportbot.store.demo_catalogue import PRODUCT_CODES
from supportbot.store.demo_models import DemoDataset
from supportbot.store.demo_texts import NEGATIVE_THEMES, POSITIVE_THEMES, PROBLEMS, THEMES
from supportbot.store.demo_tracker import Conversation
from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, PromoterInvitation
from supportbot.store.growth_models import CODE_ALPHABET, CODE_LENGTH, CODE_PREFIX, Referral, ReferralCode
from supportbot.store.intelligence_models import UsageSnapshot
from supportbot.store.models import Customer, Subscription, SupportInteraction
from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant

DAY = dt.timedelta(days=1)
HISTORY_DAYS = 730
CONVERSATION_EVERY_DAYS = 55
"""Mean days between a regular customer's conversations once the assistant is in full use."""
ANONYMOUS_CONVERSATIONS = 180
REFERRED_SHARE = 0.12
"""Of the customers who joined in the two years, this many came through a referral."""
SNAPSHOT_MONTHS = 13


@dataclass
class HistoryReport:
    conversations: int = 0
    events: int = 0
    ratings: int = 0
    texts: int = 0
    outreach: int = 0
    interactions: int = 0
    referrals: int = 0
    snapshots: int = 0
    orders: int = 0


@dataclass
class _World:
    session: Session
    ref: dt.date
    tips: tuple[Tip, ...]
    reward: str
    conversations: list[Conversation] = field(default_factory=list)
    promoters: list[tuple[str, dt.date]] = field(default_factory=list)
    """(customer, day of an NPS 9-10 answer): who refers friends, and when."""
    codes: dict[str, str] = field(default_factory=dict)
    """Referral codes made so far (customer → code)."""
    report: HistoryReport = field(default_factory=HistoryReport)
    order_refs: set[str] = field(default_factory=set)
    """Every order number in use (the demo's own and those added here): six digits, unique."""

    def next_order_ref(self, rng: random.Random) -> str:
        while True:
            ref = str(rng.randint(100_000, 999_999))
            if ref not in self.order_refs:
                self.order_refs.add(ref)
                return ref

    @property
    def start(self) -> dt.date:
        return self.ref - HISTORY_DAYS * DAY


def load_demo_history(
    *, session_factory: sessionmaker[Session], tracker_engine: Engine, reference_date: dt.date
) -> HistoryReport | None:
    """Add the history once, to a store holding the demo customers; None when there is nothing to do.

    The tracker rows are written inside the profile store's transaction, before its commit: if
    they cannot be written, none of the history is kept.
    """
    with session_factory.begin() as session:
        if session.get(DemoDataset, "history") is not None or session.get(DemoDataset, "customers") is None:
            return None
        config = load_config()
        world = _World(
            session=session,
            ref=reference_date,
            tips=config.campaigns.usage_tip.tips,
            reward=perk_words(config.campaigns.referral_invitation.referrer_perk),
        )
        customers = list(
            session.scalars(
                select(Customer)
                .order_by(Customer.id)
                .options(
                    selectinload(Customer.subscriptions).selectinload(Subscription.plan),
                    selectinload(Customer.orders),
                    selectinload(Customer.usage),
                    selectinload(Customer.consents),
                    selectinload(Customer.loyalty),
                    selectinload(Customer.channel_identities),
                )
            )
        )
        world.order_refs = {o.order_ref for c in customers for o in c.orders}
        for number, customer in enumerate(customers, start=1):
            _customer_history(world, customer, random.Random(f"supportbot-demo-history-{SEED}-{number}"))
        _referrals(world, {c.id: c for c in customers}, random.Random(f"supportbot-demo-referrals-{SEED}"))
        _anonymous(world, random.Random(f"supportbot-demo-anonymous-{SEED}"))
        session.add(
            DemoDataset(
                name="history",
                reference_date=reference_date,
                description="two years of invented conversations, ratings, feedback, outreach and referrals",
            )
        )
        session.flush()
        world.report.conversations = len(world.conversations)
        world.report.events = demo_tracker.write(tracker_engine, world.conversations)
    return world.report


def _customer_history(world: _World, customer: Customer, rng: random.Random) -> None:
    sub = customer.subscriptions[0]
    start = max(customer.customer_since, world.start)
    end = sub.cancelled_at.date() if sub.cancelled_at else world.ref
    if end <= start:
        return
    life = _Life(world, customer, sub, rng, start, end)
    _snapshots(world, customer, sub, rng)
    _orders(world, customer, rng, start, end)
    life.conversations()
    life.outreach()
    world.conversations.extend(_in_order(life.talks))


def _in_order(talks: list[Conversation]) -> list[Conversation]:
    """Per conversation id, oldest first, and never overlapping: one that would start before the
    previous one ended starts a minute after it (Rasa reads a tracker in timestamp order)."""
    ordered = sorted(talks, key=lambda c: (c.sender_id, float(c.rows[0]["timestamp"])))
    for previous, conv in itertools.pairwise(ordered):
        if previous.sender_id == conv.sender_id:
            gap = float(previous.rows[-1]["timestamp"]) + 60 - float(conv.rows[0]["timestamp"])
            if gap > 0:
                conv.shift(gap)
    return ordered


def _engagement(customer: Customer) -> float:
    uses = sum(u.uses_last_30d for u in customer.usage)
    if uses >= 200:
        return 1.4
    if uses >= 40:
        return 1.0
    return 0.7 if uses > 0 else 0.4


class _Life:
    """One customer's two years: their conversations and the proactive messages they got."""

    def __init__(
        self, world: _World, customer: Customer, sub: Subscription, rng: random.Random, start: dt.date, end: dt.date
    ) -> None:
        self.world, self.customer, self.sub, self.rng = world, customer, sub, rng
        self.start, self.end = start, end
        self.zone = ZoneInfo(customer.time_zone)
        self.engagement = _engagement(customer)
        self.mood = rng.gauss(0.35 + 0.3 * (self.engagement - 1), 0.45) - (0.35 if sub.status == "past_due" else 0)
        self.consents = {c.kind: c.granted for c in customer.consents}
        self.talks: list[Conversation] = []
        self.last_nps: dt.date | None = None
        self.asked_programme = False
        self.promoted: dt.date | None = None
        """The first NPS 9-10: a referral invitation follows, and the programme one if not asked in chat."""
        telegram = [i.external_id for i in customer.channel_identities if i.channel == "telegram"]
        self.telegram = telegram[0] if telegram else None

    # -- where and when ----------------------------------------------------------------------
    def at(self, day: dt.date, hours: tuple[int, int] = (8, 21)) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(self.rng.randint(*hours), self.rng.randint(0, 59)), self.zone)
        return local.astimezone(dt.UTC)

    def conversation(self, day: dt.date, *, telegram_share: float = 0.3) -> Conversation:
        if self.telegram and self.rng.random() < telegram_share:
            conv = Conversation(self.telegram, "telegram", True, self.at(day))
        else:
            conv = Conversation(f"cust:{self.customer.id}:web", "socketio", True, self.at(day))
        self.talks.append(conv)
        return conv.start_session()

    def who(self, day: dt.date) -> d.Who:
        sub, loyalty = self.sub, self.customer.loyalty
        renews = b.next_renewal(sub.started_on, sub.billing_period, after=day) if day < self.end else None
        return d.Who(
            first_name=self.customer.first_name,
            plan=sub.plan.name,
            period=sub.billing_period,
            price_cents=sub.price_cents,
            since=sub.started_on,
            renews_on=renews,
            points=loyalty.points if loyalty else 0,
            tier=loyalty.tier if loyalty else "bronze",
        )

    def leaving(self, day: dt.date) -> bool:
        """Within the last four months before a cancellation: more trouble, lower ratings."""
        return self.sub.cancelled_at is not None and (self.end - day).days < 120

    def days(self, every: float) -> Iterator[dt.date]:
        """Days of the customer's life in the window, thinner two years ago (the assistant was new)."""
        last = min(self.end, self.world.ref - DAY)  # the evening of the day before, in the west, is R in UTC
        span = (last - self.start).days
        for offset in range(span):
            day = self.start + offset * DAY
            ramp = 0.3 + 0.7 * (day - self.world.start).days / HISTORY_DAYS
            if self.rng.random() < ramp / every:
                yield day

    # -- conversations -----------------------------------------------------------------------
    def conversations(self) -> None:
        for day in self.days(CONVERSATION_EVERY_DAYS / self.engagement):
            self.one_conversation(day)
        for order in self.customer.orders:
            placed = order.placed_at.date()
            if (
                self.start <= placed < self.world.ref - 7 * DAY
                and order.status != "cancelled"
                and self.rng.random() < 0.3
            ):
                conv = self.conversation(placed + self.rng.randint(2, 5) * DAY)
                items = ", ".join(i.product_name for i in order.items)
                d.order_question(conv, self.rng, order.order_ref, items, order.expected_delivery)
                self.settle(conv, placed + 3 * DAY)

    def one_conversation(self, day: dt.date) -> None:
        rng, leaving = self.rng, self.leaving(day)
        trouble = 0.18 + (0.35 if leaving else 0.0) + (0.15 if self.mood < 0 else 0.0)
        conv = self.conversation(day)
        if rng.random() < 0.3:
            d.greet(conv, rng, self.who(day))
        pick = rng.random()
        if pick < trouble / 2:
            self.handoff(conv, day)
            return
        if pick < trouble:
            self.problem(conv, day)
        elif pick < trouble + 0.25:
            d.renewal_question(conv, rng, self.who(day), day)
        elif pick < trouble + 0.4:
            d.plan_question(conv, rng, self.who(day), day)
        elif pick < trouble + 0.52:
            d.loyalty_question(conv, rng, self.who(day))
        elif pick < trouble + 0.6 and not self.consents.get("tips", True):
            d.opt_out(conv, rng, "tips")
        elif pick < trouble + 0.68:
            self.volunteer(conv, day)
            return
        else:
            d.small_talk(conv, rng)
            return
        self.settle(conv, day)

    def settle(self, conv: Conversation, day: dt.date) -> None:
        """The customer says thanks (or bye); often the CSAT question follows, and what comes after it."""
        rng = self.rng
        if rng.random() < 0.25:
            return  # left without a word
        asked = self.consents.get("feedback", True) and rng.random() < 0.6
        mood = self.mood - (0.6 if self.leaving(day) else 0.0)
        csat = max(1, min(5, round(3.7 + 1.3 * mood + rng.gauss(0, 0.8)))) if asked else None
        d.wrap_up(conv, rng, rated=csat, ending=rng.random() < 0.3)
        if csat is None:
            return
        prompt = "resolution"
        self.rating(conv, "csat", csat, prompt)
        if csat <= 2:
            d.rating_reply(conv, "csat", "detractor")
            self.follow_up_offer(conv, day, prompt)
        elif csat == 3:
            d.rating_reply(conv, "csat", "passive")
            self.open_question(conv, "better", prompt, positive=False)
        else:
            d.rating_reply(conv, "csat", "promoter")
            if (self.last_nps is None or (day - self.last_nps).days >= 90) and rng.random() < 0.6:
                self.nps(conv, day, mood)
            else:
                conv.listen()

    def nps(self, conv: Conversation, day: dt.date, mood: float) -> None:
        rng = self.rng
        score = max(0, min(10, round(7.2 + 2.6 * mood + rng.gauss(0, 1.3))))
        self.last_nps = day
        conv.slot("feedback_prompt", "nps_survey").slot("nps_score", None)
        d.rating(conv, rng, form="nps_form", slot="nps_score", question="utter_ask_nps_score", value=score)
        self.rating(conv, "nps", score, "nps_survey")
        if score <= 6:
            d.rating_reply(conv, "nps", "detractor")
            self.follow_up_offer(conv, day, "nps_survey")
        elif score <= 8:
            d.rating_reply(conv, "nps", "passive")
            self.open_question(conv, "better_for_you", "nps_survey", positive=False)
        else:
            d.rating_reply(conv, "nps", "promoter")
            self.world.promoters.append((self.customer.id, day))
            self.promoted = self.promoted or day
            if self.asked_programme or rng.random() < 0.4:  # else the programme invitation asks later
                conv.listen()
                return
            self.asked_programme = True
            joins = rng.random() < 0.55
            d.programme_question(conv, rng, joins)
            self.world.session.add(PromoterInvitation(customer_id=self.customer.id, accepted=joins, created_at=conv.at))

    def follow_up_offer(self, conv: Conversation, day: dt.date, prompt: str) -> None:
        rng = self.rng
        wants = rng.random() < 0.4
        conv.slot("wants_follow_up", None).action("follow_up_offer_form").loop("follow_up_offer_form")
        conv.slot("requested_slot", "wants_follow_up").say("utter_ask_wants_follow_up").listen()
        d.ask(conv, rng, "affirm" if wants else "deny")
        conv.action("follow_up_offer_form").slot("wants_follow_up", wants).slot("requested_slot", None).loop(None)
        conv.action("action_submit_follow_up_offer")
        if not wants:
            conv.say("utter_follow_up_declined")
            self.open_question(conv, "better", prompt, positive=False)
            return
        conv.say("utter_follow_up_promised")
        rated = self.world.session.scalars(
            select(Feedback).where(Feedback.conversation_id == conv.sender_id).order_by(Feedback.id.desc()).limit(1)
        ).first()
        recent = (self.world.ref - day).days < 10
        if rated is not None:
            self.world.session.add(
                FeedbackFollowUp(
                    feedback_id=rated.id,
                    customer_id=self.customer.id,
                    status="open" if recent else "done",
                    reason="detractor asked for a follow-up",
                    created_at=conv.at,
                    done_at=None if recent else conv.at + rng.randint(2, 30) * dt.timedelta(hours=1),
                    done_by=None if recent else "lead@lumen.example",
                    note=None if recent else "Called back; walked them through the fix.",
                )
            )
        self.open_question(conv, "details", prompt, positive=False)

    def open_question(self, conv: Conversation, question: str, prompt: str, *, positive: bool) -> None:
        text = self.theme_text(positive) if self.rng.random() < 0.7 else None
        d.open_question(conv, self.rng, question, text)
        if text is not None:
            self.text(conv, text, prompt)

    def volunteer(self, conv: Conversation, day: dt.date) -> None:
        text = self.theme_text(self.mood > 0.5 and not self.leaving(day))
        d.volunteered(conv, self.rng, text)
        self.text(conv, text, "volunteered")

    def theme_text(self, positive: bool) -> str:
        rng = self.rng
        if positive:
            theme = rng.choice(POSITIVE_THEMES)
        elif self.sub.cancel_reason == "too expensive" and rng.random() < 0.6:
            theme = "price"
        else:
            theme = rng.choice(NEGATIVE_THEMES)
        return rng.choice(THEMES[theme])

    def rating(self, conv: Conversation, kind: str, value: int, prompt: str) -> None:
        self.world.session.add(
            Feedback(
                customer_id=self.customer.id,
                conversation_id=conv.sender_id,
                channel=conv.channel or "socketio",
                kind=kind,
                rating=value,
                prompted_by=prompt,
                created_at=conv.at,
            )
        )
        self.world.session.flush()
        self.world.report.ratings += 1

    def text(self, conv: Conversation, words: str, prompt: str) -> None:
        self.world.session.add(
            Feedback(
                customer_id=self.customer.id,
                conversation_id=conv.sender_id,
                channel=conv.channel or "socketio",
                kind="text",
                text=words,
                text_redacted=words,
                prompted_by=prompt,
                created_at=conv.at,
            )
        )
        self.world.report.texts += 1

    def handoff(self, conv: Conversation, day: dt.date) -> None:
        d.handoff(conv, self.rng, self.who(day))
        closed = conv.at + dt.timedelta(minutes=self.rng.randint(12, 240))
        open_now = closed >= dt.datetime.combine(self.world.ref, dt.time(), dt.UTC)
        interaction = self.interaction(conv, "handoff", "asked for a person", closed=None if open_now else closed)
        if not open_now and self.consents.get("feedback", True) and self.rng.random() < 0.5:
            self.csat_followup(interaction, closed + 2 * dt.timedelta(hours=1))

    def problem(self, conv: Conversation, day: dt.date) -> None:
        description = self.rng.choice(PROBLEMS)
        recent = (self.world.ref - day).days < 7
        interaction = self.interaction(
            conv, "problem_report", description, closed=None if recent else conv.at + self.rng.randint(1, 5) * DAY
        )
        d.problem_report(conv, self.rng, description, interaction.id)

    def interaction(
        self, conv: Conversation, kind: str, summary: str, *, closed: dt.datetime | None
    ) -> SupportInteraction:
        row = SupportInteraction(
            customer_id=self.customer.id,
            conversation_id=conv.sender_id,
            channel=conv.channel,
            kind=kind,
            status="open" if closed is None else "closed",
            summary=summary,
            created_at=conv.at,
            closed_at=closed,
        )
        self.world.session.add(row)
        self.world.session.flush()
        self.world.report.interactions += 1
        return row

    # -- outreach ----------------------------------------------------------------------------
    def outreach(self) -> None:
        self.renewal_reminders()
        self.yearly_greetings()
        self.tips()
        if self.promoted is not None:
            self.referral_invitation(self.promoted + self.rng.randint(7, 40) * DAY)
            if not self.asked_programme:
                self.programme_invitation(self.promoted + self.rng.randint(14, 60) * DAY)

    def referral_invitation(self, day: dt.date) -> None:
        if day >= min(self.end, self.world.ref) or not self.consents.get("perks", True):
            return
        code = self.world.codes.get(self.customer.id)
        if code is None:
            code = self.world.codes[self.customer.id] = _code(self.rng)
            self.world.session.add(
                ReferralCode(customer_id=self.customer.id, code=code, created_at=self.at(day, (9, 9)))
            )
        name = self.customer.first_name
        occasion = f"referral:{day.year}H{1 if day.month <= 6 else 2}"
        payload = {"name": name, "reward": self.world.reward, "decision_id": None}
        self.send("referral_invitation", occasion, day, payload, name=name, code=code, reward=self.world.reward)

    def programme_invitation(self, day: dt.date) -> None:
        if day >= min(self.end, self.world.ref) or not self.consents.get("feedback", True):
            return
        name = self.customer.first_name
        row = self.send("programme_invitation", f"programme:{day.year}", day, {"name": name}, name=name)
        if row is None or row.status != "sent":
            return
        conv = self.talks[-1]
        if conv.rows[-1]["type_name"] == "action":
            conv.rows.pop()  # the listen after the message: programme_form follows at once instead
        joins = self.rng.random() < 0.5
        d.programme_question(conv, self.rng, joins)
        self.asked_programme = True
        self.world.session.add(PromoterInvitation(customer_id=self.customer.id, accepted=joins, created_at=conv.at))

    def send(
        self, campaign: str, occasion: str, day: dt.date, payload: Mapping[str, object], **values: Any
    ) -> OutboxMessage | None:
        """An outbox row for local ``day``; sent (with its conversation) unless its kind was opted out of."""
        spec = CAMPAIGNS[campaign]
        if day >= self.world.ref - DAY or day < self.start or day >= self.end:
            return None
        at = self.at(day, (10, 10))
        granted = self.consents.get(spec.kind, True)
        telegram = bool(self.telegram and self.customer.preferred_channel == "telegram")
        row = OutboxMessage(
            customer_id=self.customer.id,
            campaign=campaign,
            kind=spec.kind,
            occasion=occasion,
            idempotency_key=f"{self.customer.id}:{campaign}:{occasion}",
            local_day=day,
            intent=spec.intent,
            template=spec.template,
            payload=json.dumps(payload, sort_keys=True),
            channel="telegram" if telegram else "socketio",
            conversation_id=self.telegram if telegram and self.telegram else f"cust:{self.customer.id}:web",
            priority=0,
            status="sent" if granted else "skipped",
            not_before=at,
            planned_at=at - dt.timedelta(hours=self.rng.randint(8, 30)),
            sent_at=at + dt.timedelta(seconds=self.rng.randint(1, 40)) if granted else None,
            attempts=1 if granted else 0,
            confirmed_by="response" if granted else None,
            rendered_at=at if granted else None,
            renders=1 if granted else 0,
            skip_reason=None if granted else f"consent withdrawn for {spec.kind}",
        )
        self.world.session.add(row)
        self.world.session.flush()
        self.world.report.outreach += 1
        if granted:
            conv = Conversation(row.conversation_id, row.channel, True, row.sent_at or at)
            self.talks.append(conv.start_session())
            d.proactive(conv, row.id, spec.intent, spec.template, spec.kind, **values)
            conv.listen(hide=True)
            if self.rng.random() < 0.15:
                conv.user("no thanks", "deny", round(self.rng.uniform(0.8, 0.99), 4), seconds=self.rng.uniform(30, 600))
                conv.action("utter_outreach_declined").say("utter_outreach_declined").listen()
        return row

    def renewal_reminders(self) -> None:
        sub, months = self.sub, b.period_months(self.sub.billing_period)
        renewal = b.next_renewal(sub.started_on, sub.billing_period, after=self.start)
        while renewal < self.end:
            offset = 14 if months == 12 else 3
            if months == 12 or self.rng.random() < 0.3:
                day = renewal - offset * DAY
                payload = {"name": self.customer.first_name, "plan": sub.plan.name, "renews_on": renewal.isoformat()}
                self.send(
                    "renewal_reminder",
                    f"sub{sub.id}:{renewal.isoformat()}:{offset}d",
                    day,
                    {**payload, "subscription_id": sub.id},
                    name=self.customer.first_name,
                    plan=sub.plan.name,
                    date=long_date(renewal),
                    when=relative_days(renewal, day),
                    price=money(sub.price_cents),
                )
            renewal = b.add_months(renewal, months)

    def yearly_greetings(self) -> None:
        name = self.customer.first_name
        for year in range(self.world.start.year, self.world.ref.year + 1):
            if self.customer.birthday is not None:
                day = b.birthday_in(year, self.customer.birthday)
                self.send("birthday", f"birthday:{year}", day, {"name": name, "perk": None}, name=name, perk="")
            since = self.customer.customer_since
            day = b.birthday_in(year, since)
            if day > since:
                years = year - since.year
                payload = {"name": name, "years": years, "perk": None}
                self.send("anniversary", f"anniversary:{year}", day, payload, name=name, years=years, perk="")

    def tips(self) -> None:
        used = {u.feature for u in self.customer.usage}
        plan_features = set(self.sub.plan.features.split(","))
        fitting = [t for t in self.world.tips if t.feature in plan_features and t.feature not in used]
        day = self.start + self.rng.randint(20, 90) * DAY
        for tip in fitting[:3]:
            row = self.send(
                "usage_tip",
                day.isoformat(),
                day,
                {"name": self.customer.first_name, "tip": tip.text, "tip_id": tip.id},
                name=self.customer.first_name,
                tip=tip.text,
            )
            if row is not None and row.status == "sent":
                self.world.session.add(
                    OutreachTipSent(customer_id=self.customer.id, tip_id=tip.id, outbox_id=row.id, sent_at=row.sent_at)
                )
            day += self.rng.randint(60, 150) * DAY

    def csat_followup(self, interaction: SupportInteraction, due: dt.datetime) -> None:
        day = due.astimezone(self.zone).date()
        row = self.send(
            "csat_followup",
            f"handoff{interaction.id}",
            day,
            {"name": self.customer.first_name, "interaction_id": interaction.id},
            name=self.customer.first_name,
        )
        if row is None or row.status != "sent":
            return
        conv = self.talks[-1]
        if conv.rows[-1]["type_name"] == "action":
            conv.rows.pop()  # the listen after the message: the CSAT form follows at once instead
        conv.slot("feedback_prompt", "handoff_closed").slot("csat_score", None)
        score = max(1, min(5, round(3.9 + self.mood + self.rng.gauss(0, 0.7))))
        d.rating(conv, self.rng, form="csat_form", slot="csat_score", question="utter_ask_csat_score", value=score)
        self.rating(conv, "csat", score, "handoff_closed")
        d.rating_reply(conv, "csat", "detractor" if score <= 2 else "passive" if score == 3 else "promoter")
        conv.listen()


def _orders(world: _World, customer: Customer, rng: random.Random, start: dt.date, end: dt.date) -> None:
    """Earlier purchases, as buy-till-you-die models assume: each customer buys at their own rate
    (gamma-distributed across customers) until they silently stop (after each purchase, with their
    own chance); the demo's recent orders (``demo``) stay as they were."""
    rate = rng.gammavariate(0.7, 1 / 12) / 7  # purchases per day while still buying
    stop = rng.betavariate(1.2, 3.5)
    day, last = start + rng.randint(0, 60) * DAY, min(end, world.ref - 12 * DAY)
    while rate > 0 and day < last:
        gap = rng.expovariate(rate)
        if gap >= (last - day).days:
            break
        day += max(1, round(gap)) * DAY
        products = rng.sample(PRODUCT_CODES, rng.choices((1, 2), (75, 25))[0])
        status = rng.choices(("delivered", "returned", "cancelled"), (92, 4, 4))[0]
        ref = world.next_order_ref(rng)
        placed = b.utc_at(day, rng.randint(7, 22), rng.randint(0, 59))
        customer.orders.append(
            b.order(
                order_ref=ref,
                placed_at=placed,
                status=status,
                items=[(code, 1) for code in products],
                tracking_code=f"LMN{ref}{rng.randint(0, 999):03d}" if status != "cancelled" else None,
                expected_delivery=None if status == "cancelled" else placed.date() + rng.randint(3, 7) * DAY,
            )
        )
        world.report.orders += 1
        if rng.random() < stop:
            break


def _snapshots(world: _World, customer: Customer, sub: Subscription, rng: random.Random) -> None:
    """``feature_usage`` as it would have read at each past month end (training and backfill read these)."""
    month = world.ref.replace(day=1)
    for _ in range(SNAPSHOT_MONTHS):
        taken = month - DAY
        month = taken.replace(day=1)
        if taken < customer.customer_since or (sub.cancelled_at is not None and taken >= sub.cancelled_at.date()):
            continue
        for usage in customer.usage:
            if usage.first_used_at is None or usage.first_used_at.date() > taken:
                continue
            last = usage.last_used_at
            if last is not None and last.date() <= taken:  # stopped before then: as it is now
                uses, seen = 0 if (taken - last.date()).days > 30 else max(1, usage.uses_last_30d // 2), last
            else:
                base = usage.uses_last_30d or rng.randint(1, 6)
                uses = max(0, round(base * rng.uniform(0.6, 1.4)))
                seen = b.utc_at(taken - rng.randint(0, 6) * DAY, 12)
            world.session.add(
                UsageSnapshot(
                    customer_id=customer.id,
                    taken_on=taken,
                    feature=usage.feature,
                    uses_last_30d=uses,
                    last_used_at=seen,
                )
            )
            world.report.snapshots += 1


def _code(rng: random.Random) -> str:
    return CODE_PREFIX + "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _referrals(world: _World, customers: dict[str, Customer], rng: random.Random) -> None:
    """Promoters refer friends who join later: a code each, the invitation, the referral, the thank-you points."""
    session, codes = world.session, world.codes
    joined = sorted(
        (c for c in customers.values() if world.start < c.customer_since < world.ref - 3 * DAY),
        key=lambda c: (c.customer_since, c.id),
    )
    for friend in joined:
        earlier = [
            (cid, day) for cid, day in world.promoters if day < friend.customer_since - 5 * DAY and cid != friend.id
        ]
        if not earlier or rng.random() >= REFERRED_SHARE * 2:
            continue
        referrer, promoted_on = rng.choice(sorted(earlier))
        if referrer not in codes:
            codes[referrer] = _code(rng)
            session.add(ReferralCode(customer_id=referrer, code=codes[referrer], created_at=b.utc_at(promoted_on, 13)))
        joined_at = b.utc_at(friend.customer_since, 12)
        in_chat = rng.random() < 0.3
        recorded = joined_at + rng.randint(1, 10) * DAY if in_chat else joined_at
        if recorded.date() >= world.ref:
            recorded = joined_at
            in_chat = False
        referral = Referral(
            customer_id=friend.id,
            referrer_id=referrer,
            code=codes[referrer],
            source="conversation" if in_chat else "import",
            conversation_id=f"cust:{friend.id}:web" if in_chat else None,
            recorded_at=recorded,
        )
        session.add(referral)
        session.flush()
        if in_chat:
            _referral_conversation(world, friend, referral, rng)
        _thank_referrer(session, customers[referrer], referral, world)
        world.report.referrals += 1


def _referral_conversation(world: _World, friend: Customer, referral: Referral, rng: random.Random) -> None:
    conv = Conversation(f"cust:{friend.id}:web", "socketio", True, referral.recorded_at).start_session()
    words, _ = demo_tracker.response("utter_confirm_referral", code=referral.code, reward=world.reward)
    request = AccountChangeRequest(
        customer_id=friend.id,
        conversation_id=conv.sender_id,
        channel="socketio",
        kind="referral",
        parameters=json.dumps({"code": referral.code}),
        prompt=f"{words}\n[Yes, record it] [No, leave it]",
        status="confirmed",
        created_at=referral.recorded_at,
        expires_at=referral.recorded_at + dt.timedelta(minutes=30),
        resolved_at=referral.recorded_at + dt.timedelta(minutes=1),
        confirmed_at=referral.recorded_at + dt.timedelta(minutes=1),
        answer="yes please",
        outcome=f"referred with {referral.code}",
    )
    world.session.add(request)
    world.session.flush()
    d.referral_recorded(conv, rng, referral.code, world.reward, request.id)
    world.conversations.append(conv)


def _thank_referrer(session: Session, referrer: Customer, referral: Referral, world: _World) -> None:
    """The referrer's points, as ``services.perks`` grants them: a grant, a ledger entry, the balance."""
    account = referrer.loyalty
    if account is None:
        return
    opened = session.scalar(select(LoyaltyLedgerEntry.id).where(LoyaltyLedgerEntry.customer_id == referrer.id).limit(1))
    if opened is None:
        session.add(
            LoyaltyLedgerEntry(
                customer_id=referrer.id,
                points=account.points,
                reason="balance before the ledger",
                source="opening",
                created_at=b.utc_at(world.start, 0),
            )
        )
    points = 500
    grant = PerkGrant(
        customer_id=referrer.id,
        grant_key=f"referral:{referral.id}",
        kind="points",
        points=points,
        status="granted",
        description=f"We've added {points:,} bonus loyalty points to your account.",
        reason="referred a friend",
        granted_at=referral.recorded_at,
    )
    session.add(grant)
    session.flush()
    session.add(
        LoyaltyLedgerEntry(
            customer_id=referrer.id,
            points=points,
            reason="referred a friend",
            source="perk",
            perk_grant_id=grant.id,
            created_at=referral.recorded_at,
        )
    )
    account.points += points
    account.lifetime_points += points


def _anonymous(world: _World, rng: random.Random) -> None:
    """Visitors who did not sign in: general questions, the same rules, the anonymous answers."""
    for number in range(ANONYMOUS_CONVERSATIONS):
        offset = HISTORY_DAYS - int(HISTORY_DAYS * rng.random() ** 0.6)  # more of them lately
        day = world.start + min(offset, HISTORY_DAYS - 1) * DAY
        at = b.utc_at(day, rng.randint(6, 22), rng.randint(0, 59))
        conv = Conversation(f"anon:web:{number:04x}{rng.randrange(16**8):08x}", "socketio", False, at).start_session()
        intent, action, answer = rng.choice(
            (
                ("ask_plan", "action_show_plan", "utter_anon_plan"),
                ("ask_renewal", "action_show_renewal", "utter_anon_renewal"),
                ("ask_loyalty", "action_loyalty", "utter_anon_loyalty"),
                ("ask_orders", "action_recent_orders", "utter_anon_orders"),
                ("ask_referral_code", "action_referral_code", "utter_anon_referral"),
                ("help", "action_help_menu", "utter_help"),
                ("bot_challenge", "utter_iamabot", "utter_iamabot"),
                ("out_of_scope", "action_answer_help", d.FALLBACKS["out_of_scope"]),
            )
        )
        d.ask(conv, rng, intent)
        conv.action(action).say(answer).listen()
        if rng.random() < 0.15:
            d.visitor_handoff(conv, rng, email=get_settings().support_email)
            row = SupportInteraction(
                conversation_id=conv.sender_id,
                channel="socketio",
                kind="handoff",
                status="closed",
                summary="a visitor asked for a person",
                created_at=conv.at,
                closed_at=conv.at + dt.timedelta(minutes=rng.randint(10, 120)),
            )
            world.session.add(row)
            world.report.interactions += 1
        world.conversations.append(conv)
