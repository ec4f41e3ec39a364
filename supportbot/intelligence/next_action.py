"""Next best action: for each customer, the one thing to do next and why, as a logged decision.

The rules, in order (the first that applies and passes consent and cool-down wins):

1. ``not_subscribed``: no running subscription → nothing.
2. ``contact_cap`` / ``recently_contacted``: contacted enough this week, or in the last days → nothing.
3. ``retention_offer``: churn risk at or above the threshold and the renewal within the window.
4. ``usage_tip``: the plan includes a feature the customer has not used in 30 days.
5. ``referral_invitation``: a promoter (latest NPS 9–10 within a year).
6. ``loyalty_perk``: a long-standing (two years) or gold/platinum customer.
7. ``nothing_due``: none applies (the reason lists what was considered and why not).

Each action names the outreach campaign that would carry it and the consent kind it needs; an
action without consent, or sent through its campaign within its cool-down, is passed over (and
said so in the reason). The outreach planner keeps the last word on priorities and caps: this
module decides *what* would help most, the planner *whether and when* a message goes out.
``decide`` is pure (facts in, decision out) so every rule has its own test; ``decide_all``
gathers the facts from the store and logs every decision in ``next_best_actions``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import ChurnScore, IntelRun, NextBestAction
from supportbot.store.models import Consent, Customer, FeatureUsage, LoyaltyAccount, Plan, Subscription
from supportbot.store.outreach_models import OutboxMessage

DAY = dt.timedelta(days=1)
ACTION_CAMPAIGN = {
    "retention_offer": "retention_offer",
    "usage_tip": "usage_tip",
    "referral_invitation": "referral_invitation",
    "loyalty_perk": "surprise_perk",
}
"""The campaign that carries out each action (``retention_offer`` and ``referral_invitation`` are
new campaigns for ``config/campaigns.yml``; the other two exist)."""
ACTION_CONSENT = {
    "retention_offer": "renewal",
    "usage_tip": "tips",
    "referral_invitation": "perks",
    "loyalty_perk": "perks",
}


@dataclass(frozen=True)
class Policy:
    risk_threshold: float = 0.4
    renewal_window_days: int = 30
    weekly_contact_cap: int = 2
    min_days_between_contacts: int = 2
    loyal_tenure_days: int = 730
    loyal_tiers: tuple[str, ...] = ("gold", "platinum")
    cooldown_days: dict[str, int] = field(
        default_factory=lambda: {"retention_offer": 90, "usage_tip": 14, "referral_invitation": 180, "loyalty_perk": 90}
    )


@dataclass(frozen=True)
class ActionFacts:
    customer_id: str
    subscribed: bool
    renews_on: dt.date | None = None
    churn_risk: float | None = None
    churn_reasons: tuple[str, ...] = ()
    plan_name: str = ""
    unused_paid_features: tuple[str, ...] = ()
    latest_nps: int | None = None
    tenure_days: int = 0
    loyalty_tier: str | None = None
    withheld_consents: frozenset[str] = frozenset()
    """Consent kinds the customer opted out of (no row means granted, as in the outreach rules)."""
    sent_last_7d: int = 0
    last_contact_at: dt.datetime | None = None
    last_sent: dict[str, dt.datetime] = field(default_factory=dict)
    """Campaign → when it last reached this customer."""


@dataclass(frozen=True)
class Decision:
    action: str
    rule: str
    reason: str
    campaign: str | None = None
    details: dict[str, object] = field(default_factory=dict)


def decide(facts: ActionFacts, *, now: dt.datetime, policy: Policy | None = None) -> Decision:
    """The one next action for this customer, and why."""
    policy = policy or Policy()
    if not facts.subscribed:
        return Decision("none", "not_subscribed", "No running subscription: nothing to offer now.")
    if facts.sent_last_7d >= policy.weekly_contact_cap:
        return Decision(
            "none",
            "contact_cap",
            f"Contacted {facts.sent_last_7d} times in the last 7 days (cap {policy.weekly_contact_cap}): "
            "leave them be.",
        )
    if facts.last_contact_at is not None and now - facts.last_contact_at < policy.min_days_between_contacts * DAY:
        return Decision(
            "none",
            "recently_contacted",
            f"Contacted on {facts.last_contact_at.date()}: less than {policy.min_days_between_contacts} days ago.",
        )
    passed_over: list[str] = []
    for action, why in _candidates(facts, now, policy):
        if why is None:
            continue
        kind = ACTION_CONSENT[action]
        campaign = ACTION_CAMPAIGN[action]
        if kind in facts.withheld_consents:
            passed_over.append(f"{action.replace('_', ' ')}: opted out of {kind} messages")
            continue
        last = facts.last_sent.get(campaign)
        if last is not None and now - last < policy.cooldown_days[action] * DAY:
            passed_over.append(f"{action.replace('_', ' ')}: already sent on {last.date()}")
            continue
        reason = why + (f" (passed over: {'; '.join(passed_over)})" if passed_over else "")
        return Decision(action, action, reason, campaign, {"consent": kind, "passed_over": passed_over})
    reason = "Nothing due" + (f": {'; '.join(passed_over)}." if passed_over else ".")
    return Decision("none", "nothing_due", reason, None, {"passed_over": passed_over})


def _candidates(facts: ActionFacts, now: dt.datetime, policy: Policy) -> list[tuple[str, str | None]]:
    return [
        ("retention_offer", _retention(facts, now, policy)),
        ("usage_tip", _tip(facts)),
        (
            "referral_invitation",
            (
                f"A promoter (last NPS {facts.latest_nps}): invite them to refer a friend."
                if facts.latest_nps is not None and facts.latest_nps >= 9
                else None
            ),
        ),
        ("loyalty_perk", _perk(facts, policy)),
    ]


def _retention(facts: ActionFacts, now: dt.datetime, policy: Policy) -> str | None:
    if facts.churn_risk is None or facts.churn_risk < policy.risk_threshold or facts.renews_on is None:
        return None
    days = (facts.renews_on - now.date()).days
    if not 0 <= days <= policy.renewal_window_days:
        return None
    because = f": {', '.join(facts.churn_reasons)}" if facts.churn_reasons else ""
    return (
        f"Renews on {facts.renews_on} (in {days} days) with churn risk {facts.churn_risk:.0%}{because}:"
        " make a retention offer before the renewal."
    )


def _tip(facts: ActionFacts) -> str | None:
    if not facts.unused_paid_features:
        return None
    feature = facts.unused_paid_features[0]
    return f"Pays for {feature} ({facts.plan_name} plan) but has not used it in 30 days: send a usage tip."


def _perk(facts: ActionFacts, policy: Policy) -> str | None:
    if facts.loyalty_tier in policy.loyal_tiers:
        return f"A {facts.loyalty_tier} loyalty member: thank them with a perk."
    if facts.tenure_days >= policy.loyal_tenure_days:
        return f"A customer for {facts.tenure_days // 365} years: thank them with a perk."
    return None


def gather_facts(*, session: Session, now: dt.datetime) -> list[ActionFacts]:
    """The facts of every customer, in a handful of queries."""
    plans = {p.code: p for p in session.scalars(select(Plan))}
    subs: dict[str, Subscription] = {}
    for s in session.scalars(select(Subscription).order_by(Subscription.started_on, Subscription.id)):
        if s.status != "cancelled" and s.started_on <= now.date():
            subs[s.customer_id] = s
    risks = {r.customer_id: r for r in session.scalars(select(ChurnScore))}
    used: dict[str, set[str]] = defaultdict(set)
    for u in session.scalars(select(FeatureUsage).where(FeatureUsage.uses_last_30d > 0)):
        used[u.customer_id].add(u.feature)
    nps: dict[str, int] = {}
    query = select(Feedback.customer_id, Feedback.rating).where(
        Feedback.kind == "nps",
        Feedback.rating.is_not(None),
        Feedback.created_at >= now - 365 * DAY,
        Feedback.created_at < now,
    )
    for cid, rating in session.execute(query.order_by(Feedback.created_at)):
        if cid is not None and rating is not None:
            nps[cid] = rating
    tiers = {k: v for k, v in session.execute(select(LoyaltyAccount.customer_id, LoyaltyAccount.tier))}
    withheld: dict[str, set[str]] = defaultdict(set)
    for c in session.scalars(select(Consent).where(Consent.granted.is_(False))):
        withheld[c.customer_id].add(c.kind)
    sent: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    query_sent = select(OutboxMessage.customer_id, OutboxMessage.sent_at, OutboxMessage.campaign).where(
        OutboxMessage.status == "sent", OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < now
    )
    for cid, at, campaign in session.execute(query_sent):
        if at is not None:
            sent[cid].append((at, campaign))
    out = []
    for customer in session.scalars(select(Customer).order_by(Customer.id)):
        sub = subs.get(customer.id)
        plan = plans.get(sub.plan_code) if sub else None
        paid = [f for f in (plan.features.split(",") if plan else []) if f]
        risk = risks.get(customer.id)
        history = sorted(sent.get(customer.id, []))
        last_sent: dict[str, dt.datetime] = {}
        for at, campaign in history:
            last_sent[campaign] = at
        out.append(
            ActionFacts(
                customer_id=customer.id,
                subscribed=sub is not None,
                renews_on=sub.renews_on if sub else None,
                churn_risk=risk.probability if risk else None,
                churn_reasons=tuple(r["text"] for r in json.loads(risk.reasons)) if risk else (),
                plan_name=plan.name if plan else "",
                unused_paid_features=tuple(f for f in paid if f not in used[customer.id]),
                latest_nps=nps.get(customer.id),
                tenure_days=(now.date() - customer.customer_since).days,
                loyalty_tier=tiers.get(customer.id),
                withheld_consents=frozenset(withheld[customer.id]),
                sent_last_7d=sum(at >= now - 7 * DAY for at, _ in history),
                last_contact_at=history[-1][0] if history else None,
                last_sent=last_sent,
            )
        )
    return out


def decide_all(*, session: Session, now: dt.datetime, policy: Policy | None = None) -> IntelRun:
    """Decide for every customer and log each decision (``none`` included) with its reason."""
    run = IntelRun(kind="next_best_action", as_of=now)
    session.add(run)
    session.flush()
    counts: dict[str, int] = defaultdict(int)
    for facts in gather_facts(session=session, now=now):
        decision = decide(facts, now=now, policy=policy)
        counts[decision.action] += 1
        session.add(
            NextBestAction(
                customer_id=facts.customer_id,
                run_id=run.id,
                decided_at=now,
                action=decision.action,
                rule=decision.rule,
                reason=decision.reason,
                campaign=decision.campaign,
                details=json.dumps(decision.details, default=str),
            )
        )
    run.rows = sum(counts.values())
    run.summary = json.dumps(dict(sorted(counts.items())))
    session.flush()
    return run


def latest_decision(*, session: Session, customer_id: str) -> Decision | None:
    """The newest logged decision for one customer (for the agent's view and the planner)."""
    row = session.scalar(
        select(NextBestAction)
        .where(NextBestAction.customer_id == customer_id)
        .order_by(NextBestAction.decided_at.desc(), NextBestAction.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return Decision(row.action, row.rule, row.reason, row.campaign, json.loads(row.details))


__all__ = ["ActionFacts", "Decision", "Policy", "asdict", "decide", "decide_all", "gather_facts", "latest_decision"]
