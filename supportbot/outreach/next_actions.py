"""Customer intelligence in planning: the next best action, campaign audiences, the programme invitation.

One small step beside the planner's own (``planner.plan_batch`` calls it after
``selection.select_candidates`` and before ``rules.decide``), so the campaign rules and the rules that
protect the customer stay as they are:

1. ``load_insights`` reads, for a batch of customers, the latest *fresh* next best action
   (``next_best_actions``, decided within ``next_best_action.max_age_hours``), the computed segment
   (``customer_segments``), the latest NPS answer and whether they were ever asked to the programme.
2. ``extend`` adds the candidates only intelligence can name: a ``retention_offer`` and a
   ``referral_invitation`` where the customer's next best action is that campaign, and a
   ``programme_invitation`` for a promoter never asked; then drops every candidate whose campaign
   has an ``audience`` the customer is not in (an ``Exclusion`` with the reason).
3. ``priorities`` raises the campaign the next best action names to ``next_best_action.priority``
   for that customer: it goes first when the caps leave room for only some. Consent, caps, quiet
   hours and idempotency keys are ``rules.decide``'s, exactly as for every campaign.

Without intelligence data (no run yet, decisions too old, the campaigns off) this changes nothing:
no candidates are added and no priority moves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.formatting import long_date, relative_days
from supportbot.outreach.config import CAMPAIGNS, Campaigns, OutreachConfig, derived
from supportbot.outreach.facts import _span
from supportbot.outreach.selection import (
    RENEWABLE_STATUSES,
    Candidate,
    CustomerFacts,
    Exclusion,
    perk_payload,
)
from supportbot.services.referrals import perk_words
from supportbot.store.feedback_models import Feedback, PromoterInvitation
from supportbot.store.intelligence_models import CustomerSegment, NextBestAction

NBA_CAMPAIGNS = ("retention_offer", "referral_invitation")
"""Campaigns planned only where the customer's next best action names them."""


@dataclass(frozen=True)
class Insight:
    """What intelligence says about one customer, as planning reads it."""

    segment: str | None = None
    action_campaign: str | None = None
    """The campaign of the latest fresh next best action (None: no action, or too old)."""
    action_reason: str = ""
    decision_id: int | None = None
    latest_nps: int | None = None
    latest_nps_at: dt.datetime | None = None
    asked_to_programme: bool = False


NO_INSIGHT = Insight()
"""A customer intelligence knows nothing about."""


def _in_batch(column: object, ids: Sequence[str]) -> object:
    """``column BETWEEN min AND max``: a batch is a contiguous run of ids (keyset pagination);
    ids picked out of a batch (``facts.Scattered``) are looked up one by one."""
    return _span(column, ids)


def load_insights(
    *, session: Session, ids: Sequence[str], now: dt.datetime, config: OutreachConfig
) -> dict[str, Insight]:
    """One query per table for the batch; customers without any intelligence get an empty ``Insight``."""
    if not ids:
        return {}
    wanted = set(ids)
    segments = {
        cid: code
        for cid, code in session.execute(
            select(CustomerSegment.customer_id, CustomerSegment.segment).where(
                _in_batch(CustomerSegment.customer_id, ids)  # type: ignore[arg-type]
            )
        )
        if cid in wanted
    }
    actions: dict[str, tuple[str | None, str, int | None]] = {}
    if config.next_best_action.enabled:
        since = now - dt.timedelta(hours=config.next_best_action.max_age_hours)
        query = (
            select(NextBestAction.customer_id, NextBestAction.campaign, NextBestAction.reason, NextBestAction.id)
            .where(
                _in_batch(NextBestAction.customer_id, ids),  # type: ignore[arg-type]
                NextBestAction.decided_at >= since,
                NextBestAction.decided_at <= now,
            )
            .order_by(NextBestAction.decided_at, NextBestAction.id)
        )
        for cid, campaign, reason, row_id in session.execute(query):
            if cid in wanted:
                actions[cid] = (campaign, reason, row_id)  # the newest wins
    nps: dict[str, tuple[int, dt.datetime]] = {}
    ratings = (
        select(Feedback.customer_id, Feedback.rating, Feedback.created_at)
        .where(
            _in_batch(Feedback.customer_id, ids),  # type: ignore[arg-type]
            Feedback.kind == "nps",
            Feedback.rating.is_not(None),
            Feedback.created_at <= now,
        )
        .order_by(Feedback.created_at, Feedback.id)
    )
    for owner, rating, at in session.execute(ratings):
        if owner is not None and owner in wanted and rating is not None:
            nps[owner] = (rating, at)
    asked = set(
        session.scalars(
            select(PromoterInvitation.customer_id).where(
                _in_batch(PromoterInvitation.customer_id, ids)  # type: ignore[arg-type]
            )
        )
    )
    out = dict.fromkeys(ids, NO_INSIGHT)  # most customers: nothing known (Insight is frozen, so shared)
    for cid in segments.keys() | actions.keys() | nps.keys() | (asked & wanted):
        campaign, reason, decision_id = actions.get(cid, (None, "", None))
        rating, rated_at = nps.get(cid, (None, None))
        out[cid] = Insight(
            segment=segments.get(cid),
            action_campaign=campaign,
            action_reason=reason,
            decision_id=decision_id,
            latest_nps=rating,
            latest_nps_at=rated_at,
            asked_to_programme=cid in asked,
        )
    return out


def retention_offer(facts: CustomerFacts, insight: Insight, day: dt.date, config: OutreachConfig) -> Candidate | None:
    """The offer for the coming renewal; one per renewal date (the occasion), whatever the cadence of decisions."""
    sub = facts.subscription
    if sub is None or sub.renews_on is None or sub.status not in RENEWABLE_STATUSES or sub.renews_on < day:
        return None
    payload = {
        "name": facts.first_name,
        "plan": sub.plan_name,
        "date": long_date(sub.renews_on),
        "renews_on": sub.renews_on.isoformat(),
        "when": relative_days(sub.renews_on, day),
        "subscription_id": sub.id,
        "perk": perk_payload(config.campaigns.retention_offer.perk, facts),
        "decision_id": insight.decision_id,
    }
    return Candidate(
        customer_id=facts.customer_id,
        campaign="retention_offer",
        occasion=f"sub{sub.id}:{sub.renews_on.isoformat()}",
        payload=payload,
        reason=f"next best action: {insight.action_reason}",
    )


def referral_invitation(facts: CustomerFacts, insight: Insight, day: dt.date, config: OutreachConfig) -> Candidate:
    """At most one invitation per half year (the occasion): the decision's own cool-down is 180 days."""
    half = 1 if day.month <= 6 else 2
    return Candidate(
        customer_id=facts.customer_id,
        campaign="referral_invitation",
        occasion=f"referral:{day.year}H{half}",
        payload={
            "name": facts.first_name,
            "reward": perk_words(config.campaigns.referral_invitation.referrer_perk),
            "decision_id": insight.decision_id,
        },
        reason=f"next best action: {insight.action_reason}",
    )


def programme_invitation(
    facts: CustomerFacts, insight: Insight, day: dt.date, config: OutreachConfig
) -> Candidate | None:
    """A promoter (latest NPS 9-10, recent enough) who was never asked to the advisory / beta programme."""
    cfg = config.campaigns.programme_invitation
    if insight.asked_to_programme or insight.latest_nps is None or insight.latest_nps < 9:
        return None
    assert insight.latest_nps_at is not None
    if (day - insight.latest_nps_at.date()).days > cfg.promoter_within_days:
        return None
    return Candidate(
        customer_id=facts.customer_id,
        campaign="programme_invitation",
        occasion=f"programme:{day.year}",
        payload={"name": facts.first_name, "nps": insight.latest_nps},
        reason=f"promoter (NPS {insight.latest_nps} on {insight.latest_nps_at.date()}), not asked to the programme yet",
    )


def extend(
    facts: CustomerFacts,
    candidates: list[Candidate],
    insight: Insight,
    *,
    day: dt.date,
    config: OutreachConfig,
) -> tuple[list[Candidate], list[Exclusion]]:
    """The planner's candidates plus intelligence's own, minus those outside their campaign's audience."""
    campaigns = config.campaigns
    audiences = derived(campaigns, _audiences)
    if insight.action_campaign is None and insight.latest_nps is None and not audiences:
        return candidates, []  # nothing to add (each addition needs one of the two), no audience to check
    found = list(candidates)
    if insight.action_campaign == "retention_offer" and campaigns.enabled("retention_offer"):
        offer = retention_offer(facts, insight, day, config)
        if offer is not None:
            found.append(offer)
    if insight.action_campaign == "referral_invitation" and campaigns.enabled("referral_invitation"):
        found.append(referral_invitation(facts, insight, day, config))
    if campaigns.enabled("programme_invitation"):
        invitation = programme_invitation(facts, insight, day, config)
        if invitation is not None:
            found.append(invitation)
    if not audiences:
        return found, []
    kept, exclusions = [], []
    for candidate in found:
        audience = audiences.get(candidate.campaign)
        if audience and insight.segment not in audience:
            where = f"in segment {insight.segment}" if insight.segment else "in no segment yet"
            exclusions.append(
                Exclusion(facts.customer_id, candidate.campaign, f"{where}, not in the audience {', '.join(audience)}")
            )
            continue
        kept.append(candidate)
    return kept, exclusions


def _audiences(campaigns: Campaigns) -> dict[str, tuple[str, ...]]:
    """The campaigns limited to an audience, and theirs (most configurations: none)."""
    return {name: audience for name in CAMPAIGNS if (audience := campaigns.audience_of(name))}


def priorities(insight: Insight, config: OutreachConfig) -> dict[str, int]:
    """Campaign → priority for this customer where the next best action changes it (else empty)."""
    if not config.next_best_action.enabled or insight.action_campaign is None:
        return {}
    return {insight.action_campaign: config.next_best_action.priority}
