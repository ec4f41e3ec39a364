"""Redeeming loyalty points for a reward from the catalogue (only ever after the customer's yes).

The points come off the balance and an open ``points_redemption`` interaction tells the
support team what to send or switch on, so the reward the assistant promises exists in
someone's queue before the customer reads the promise.

Every change of a balance is a loyalty-ledger entry: the debit is written in the same
transaction as the balance it changes (``supportbot.services.perks.reconcile_ledger`` first
brings in a balance that was set outside the ledger, so the sum stays the balance).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.services.perks import reconcile_ledger
from supportbot.services.support import ConversationRef, record_interaction
from supportbot.store.models import LOYALTY_TIERS, LoyaltyAccount, LoyaltyReward
from supportbot.store.perk_models import LoyaltyLedgerEntry
from supportbot.store.repo import RewardView


def _rank(tier: str) -> int:
    return LOYALTY_TIERS.index(tier) if tier in LOYALTY_TIERS else 0


def _account(session: Session, customer_id: str) -> LoyaltyAccount:
    account = session.get(LoyaltyAccount, customer_id)
    if account is None:
        raise InvalidRequestError("You're not in our loyalty programme yet, so there are no points to redeem.")
    return account


def redeemable_rewards(*, session: Session, customer_id: str) -> tuple[int, list[RewardView]]:
    """The customer's points and the rewards they can have now (tier and balance), cheapest first."""
    account = _account(session, customer_id)
    rewards = session.scalars(select(LoyaltyReward).order_by(LoyaltyReward.points_cost)).all()
    return account.points, [
        RewardView(r.code, r.name, r.points_cost, r.min_tier)
        for r in rewards
        if r.points_cost <= account.points and _rank(r.min_tier) <= _rank(account.tier)
    ]


@dataclass(frozen=True)
class RedemptionTerms:
    reward: str
    reward_name: str
    points_cost: int
    points_before: int
    points_after: int


def redemption_terms(*, session: Session, customer_id: str, reward_code: str) -> RedemptionTerms:
    account = _account(session, customer_id)
    reward = session.get(LoyaltyReward, reward_code)
    if reward is None:
        raise NotFoundError(f"no reward {reward_code!r}")
    if _rank(reward.min_tier) > _rank(account.tier):
        raise InvalidRequestError(f"{reward.name} is for {reward.min_tier.title()} members and above.")
    if reward.points_cost > account.points:
        raise InvalidRequestError(f"{reward.name} needs {reward.points_cost:,} points and you have {account.points:,}.")
    return RedemptionTerms(
        reward=reward.code,
        reward_name=reward.name,
        points_cost=reward.points_cost,
        points_before=account.points,
        points_after=account.points - reward.points_cost,
    )


def redeem_reward(
    *, session: Session, customer_id: str, reward_code: str, conversation: ConversationRef | None
) -> RedemptionTerms:
    """Take the points off and queue the reward for the support team; returns what was done."""
    terms = redemption_terms(session=session, customer_id=customer_id, reward_code=reward_code)
    account = _account(session, customer_id)
    reconcile_ledger(session=session, account=account)
    session.add(
        LoyaltyLedgerEntry(
            customer_id=customer_id,
            points=-terms.points_cost,
            reason=f"redeemed for {terms.reward_name}"[:200],
            source="redemption",
        )
    )
    account.points = terms.points_after
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="points_redemption",
        summary=f"redeemed {terms.points_cost} points for {terms.reward_name} ({terms.reward}): to be fulfilled",
        conversation=conversation,
        status="open",
    )
    session.flush()
    return terms
