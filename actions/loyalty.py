"""Loyalty points, tier and what they can be redeemed for; redeeming them (after a yes)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
from actions.questions import Question, ask
from actions.wording import render
from supportbot.buttons import payload
from supportbot.parsing import find_reward
from supportbot.services.changes import jsonable
from supportbot.services.redemption import redeemable_rewards, redemption_terms
from supportbot.store.models import LOYALTY_TIERS
from supportbot.store.repo import (
    LedgerEntryView,
    PerkView,
    RewardView,
    get_profile,
    granted_perks,
    loyalty_history,
    loyalty_rewards,
)


def affordable(rewards: list[RewardView], *, points: int, tier: str) -> list[RewardView]:
    rank = LOYALTY_TIERS.index(tier) if tier in LOYALTY_TIERS else 0
    return [r for r in rewards if r.points_cost <= points and LOYALTY_TIERS.index(r.min_tier) <= rank]


def perks_text(history: list[LedgerEntryView], perks: list[PerkView]) -> str:
    """Points credited lately (with what for) and rewards waiting to be claimed, from the store."""
    parts = []
    credits = [e for e in history if e.source == "perk" and e.points > 0][:2]
    if credits:
        parts.append("Recently added: " + "; ".join(f"{e.points:,} points ({e.reason})" for e in credits) + ".")
    waiting = [p for p in perks if p.status == "claimable"]
    if waiting:
        parts.append(f"You also have {len(waiting)} reward{'s' if len(waiting) != 1 else ''} waiting: just ask us.")
    return " ".join(parts)


class ActionLoyalty(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_loyalty"

    def name(self) -> str:
        return "action_loyalty"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        if profile is None or profile.loyalty is None:
            dispatcher.utter_message(response="utter_no_loyalty")
            return []
        loyalty = profile.loyalty
        rewards = loyalty_rewards(session=session)
        can_have = affordable(rewards, points=loyalty.points, tier=loyalty.tier)
        if can_have:
            # every reward within reach, as "Which reward would you like?" lists them: a shorter list
            # here would contradict that one
            rewards_text = "You can redeem: " + "; ".join(f"{r.name} ({r.points_cost:,} pts)" for r in can_have)
        else:
            cheapest = min(rewards, key=lambda r: r.points_cost, default=None)
            rewards_text = (
                f"You're {cheapest.points_cost - loyalty.points:,} points away from {cheapest.name}."
                if cheapest
                else ""
            )
        customer_id = customer_id_of(ctx)
        extra = perks_text(
            loyalty_history(session=session, customer_id=customer_id),
            granted_perks(session=session, customer_id=customer_id),
        )
        rewards_text = " ".join(part for part in (extra, rewards_text) if part)
        dispatcher.utter_message(
            response="utter_loyalty",
            name=profile.first_name,
            points=f"{loyalty.points:,}",
            tier=loyalty.tier.title(),
            rewards=rewards_text,
        )
        return []


def reward_button(reward: RewardView) -> dict[str, str]:
    return {
        "title": f"{reward.name} ({reward.points_cost:,} pts)",
        "payload": payload("redeem_points", reward=reward.code),
    }


class ActionRedeemPoints(QuotesHelpCentre, StoreAction):
    """ "Redeem my points for the stylus tips": which reward (if not named), then the terms as a
    question. Points come off only after a yes (``actions.answers``)."""

    anonymous_response = "utter_anon_loyalty"

    def name(self) -> str:
        return "action_redeem_points"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        points, can_have = redeemable_rewards(session=session, customer_id=customer_id_of(ctx))
        every = loyalty_rewards(session=session)
        named = tracker.get_slot("reward")
        known = {r.code for r in every}
        code = named if named in known else find_reward(ctx.latest_text, [(r.code, r.name) for r in every])
        if code:
            return [SlotSet("reward", None), *ask_redemption(session, ctx, dispatcher, str(code))]
        if not can_have:
            cheapest = min(every, key=lambda r: r.points_cost, default=None)
            dispatcher.utter_message(
                response="utter_nothing_to_redeem",
                points=f"{points:,}",
                cheapest=cheapest.name if cheapest else "a reward",
                cost=f"{cheapest.points_cost:,}" if cheapest else "more",
            )
            return [SlotSet("reward", None)]
        rendered = render(ctx.responses, "utter_ask_which_reward", points=f"{points:,}")
        return [
            SlotSet("reward", None),
            *ask(
                dispatcher,
                text=rendered.text,
                buttons=[reward_button(r) for r in can_have[-6:]],
                question=Question("choose_reward"),
            ),
        ]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("reward", None)]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("reward", None)]


def ask_redemption(session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, reward_code: str) -> Events:
    """ "Redeem 400 points for Stylus tips (6-pack)? You'd have 800 points left.", recorded."""
    terms = redemption_terms(session=session, customer_id=customer_id_of(ctx), reward_code=reward_code)
    return ask_to_confirm(
        session=session,
        ctx=ctx,
        dispatcher=dispatcher,
        kind="redeem_points",
        parameters={"reward": terms.reward, "terms": jsonable(terms)},
        response="utter_confirm_redeem",
        variables={"points": f"{terms.points_cost:,}", "reward": terms.reward_name, "left": f"{terms.points_after:,}"},
    )
