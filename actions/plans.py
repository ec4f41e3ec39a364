"""Upgrade and downgrade options, and changing plan."""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
from actions.questions import Question, ask
from actions.resume import ask_again
from actions.wording import render
from supportbot.buttons import payload
from supportbot.formatting import feature_name, join_words, long_date, money
from supportbot.parsing import find_plan, find_plans
from supportbot.services.account import PlanOption, plan_change_terms, plan_options
from supportbot.services.changes import jsonable
from supportbot.store.repo import PlanView, SubscriptionView, plan_catalogue


def price_per_period(sub: SubscriptionView) -> str:
    """``$24.00/month`` or ``$240.00/year``."""
    return f"{money(sub.price_cents, sub.currency)}/{sub.billing_period.removesuffix('ly')}"


def describe_option(option: PlanOption) -> str:
    change = []
    if option.gains:
        change.append(f"adds {join_words(option.gains)}")
    if option.losses:
        change.append(f"drops {join_words(option.losses)}")
    detail = f" ({'; '.join(change)})" if change else ""
    difference = f" ({option.difference})" if option.difference else ""
    return f"• {option.plan.name}: {option.price}{difference}, {option.direction}{detail}"


def plan_button(option: PlanOption) -> dict[str, str]:
    verb = "Upgrade" if option.direction == "upgrade" else "Switch"
    return {"title": f"{verb} to {option.plan.name}", "payload": payload("change_plan", plan=option.plan.code)}


_CHEAPEST = re.compile(r"\b(?:cheapest|least expensive|lowest[- ]price[d]?|most affordable|lowest)\b", re.IGNORECASE)
_DEAREST = re.compile(r"\b(?:most expensive|priciest|highest|top (?:plan|tier|one))\b", re.IGNORECASE)


def by_price(
    text: str, current: SubscriptionView | None, options: list[PlanOption]
) -> tuple[PlanOption | None, str] | None:
    """For "the cheapest one" / "the most expensive plan": (that option or None if the customer is
    on it already, what to say); None when the message names no such plan."""
    cheapest = _CHEAPEST.search(text) is not None
    if not options or not (cheapest or _DEAREST.search(text)):
        return None
    word = "cheapest" if cheapest else "most expensive"
    pick = (min if cheapest else max)(options, key=lambda o: o.plan.monthly_price_cents)
    if current is not None and (
        (cheapest and current.plan.monthly_price_cents <= pick.plan.monthly_price_cents)
        or (not cheapest and current.plan.monthly_price_cents >= pick.plan.monthly_price_cents)
    ):
        return None, f"You're already on our {word} plan, {current.plan.name} ({price_per_period(current)})."
    return pick, f"Our {word} plan is {pick.plan.name}, at {pick.price}."


_UP = re.compile(r"\b(?:upgrad\w*|go up|step up|more features|higher plan|bigger plan)\b", re.IGNORECASE)
_DOWN = re.compile(
    r"\b(?:downgrad\w*|cheaper|go down|step down|smaller plan|lower plan|pay less|less expensive)\b", re.IGNORECASE
)


def wanted_direction(text: str) -> str | None:
    """ "I'd like to upgrade" → ``upgrade``; "a cheaper plan" → ``downgrade``; None for neither or both."""
    up, down = _UP.search(text) is not None, _DOWN.search(text) is not None
    if up == down:
        return None
    return "upgrade" if up else "downgrade"


_PRICE = re.compile(r"\b(?:how much|cost\w*|price\w*|charged?|pay)\b", re.IGNORECASE)
_ANY_PLAN = re.compile(r"\b(?:plans|options|each|every|all|other|others)\b", re.IGNORECASE)
"""A price question that asks about the plans in general ("how much does each plan cost?")."""
_VERSUS = re.compile(r"\b(?:differen\w*|compar\w*|vs\.?|versus)\b", re.IGNORECASE)
TOP_OR_BOTTOM = {
    "upgrade": "You're on our top plan already, {plan}: there's nothing to upgrade to.",
    "downgrade": "You're on our lowest-priced plan already, {plan}.",
}


def compare(
    names: list[str], current: SubscriptionView | None, options: list[PlanOption], catalogue: list[PlanView]
) -> str:
    """ "What's the difference between Plus and Pro?": price and what one has that the other lacks."""
    prices = {o.plan.code: o.price for o in options}
    if current is not None:
        prices[current.plan.code] = f"{price_per_period(current)}, your plan"
    plans = {p.code: p for p in catalogue}
    first, second = plans[names[0]], plans[names[1]]
    low, high = sorted((first, second), key=lambda p: p.rank)
    extra = [feature_name(f) for f in high.features if f not in low.features]
    missing = [feature_name(f) for f in low.features if f not in high.features]
    text = f"{high.name} ({prices.get(high.code, '')}) has {join_words(extra) if extra else 'nothing more'}"
    text += f" that {low.name} ({prices.get(low.code, '')}) doesn't"
    text += (
        f"; {low.name} has {join_words(missing)} that {high.name} doesn't."
        if missing
        else "; everything else is the same."
    )
    return text.replace(" ()", "")


class ActionPlanOptions(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_plan_options"

    def name(self) -> str:
        return "action_plan_options"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if _PRICE.search(ctx.latest_text) and not _ANY_PLAN.search(ctx.latest_text):
            # "wait, how much will it cost?" while a renewal or switch waits for a yes: its terms again
            terms = ask_again(session, ctx, dispatcher, tracker, lead="utter_terms_cost")
            if terms is not None:
                return terms
        current, options = plan_options(session=session, customer_id=customer_id_of(ctx))
        if (picked := by_price(ctx.latest_text, current, options)) is not None:
            # "what's the cheapest one?": that plan, named, and its terms asked about
            dispatcher.utter_message(text=picked[1])
            return [] if picked[0] is None else ask_plan_change(session, ctx, dispatcher, picked[0].plan.code)
        catalogue = plan_catalogue(session=session)
        named = find_plans(ctx.latest_text, [(p.code, p.name) for p in catalogue])
        if (
            len(named) == 1
            and current is not None
            and named[0] != current.plan.code
            and _VERSUS.search(ctx.latest_text)
        ):
            named = [current.plan.code, named[0]]  # "how is Business different?": against the customer's own plan
        if len(named) == 2:
            # "what's the difference between Plus and Pro?": the two compared, a switch offered to the other
            others = [o for o in options if o.plan.code in named]
            text = compare(named, current, options, catalogue)
            if not others:
                dispatcher.utter_message(text=text)
                return []
            buttons = [plan_button(o) for o in others]
            return ask(dispatcher, text=text, buttons=buttons, question=Question("choose_plan"))
        if (direction := wanted_direction(ctx.latest_text)) is not None and current is not None:
            # "I'd like to upgrade": only the plans that way; the one there is asked about at once
            that_way = [o for o in options if o.direction == direction]
            if not that_way:
                dispatcher.utter_message(text=TOP_OR_BOTTOM[direction].format(plan=current.plan.name))
                return []
            if len(that_way) == 1:
                return ask_plan_change(session, ctx, dispatcher, that_way[0].plan.code)
            options = that_way
        rendered = render(
            ctx.responses,
            "utter_plan_options",
            current=f"{current.plan.name} ({price_per_period(current)})" if current else "no plan yet",
            options="\n".join(describe_option(o) for o in options),
        )
        # A question: typing "Upgrade to Pro" must do what tapping it does (actions.answers).
        return ask(
            dispatcher, text=rendered.text, buttons=[plan_button(o) for o in options], question=Question("choose_plan")
        )


class ActionChangePlan(QuotesHelpCentre, StoreAction):
    """ "Switch me to Business": the options when no plan is named, else the terms and a question."""

    anonymous_response = "utter_anon_plan_options"

    def name(self) -> str:
        return "action_change_plan"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        wanted = tracker.get_slot("plan") or find_plan(
            ctx.latest_text, [(p.code, p.name) for p in plan_catalogue(session=session)]
        )
        if not wanted:
            return ActionPlanOptions().perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
        return [SlotSet("plan", None), *ask_plan_change(session, ctx, dispatcher, str(wanted).lower())]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("plan", None)]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("plan", None)]


def ask_plan_change(session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, plan_code: str) -> Events:
    """ "Switch from Plus to Business? From March 3 you'd pay $49.00 per month …", recorded."""
    terms = plan_change_terms(session=session, customer_id=customer_id_of(ctx), plan_code=plan_code)
    change = []
    if terms.gains:
        change.append(f"you'd get {join_words(terms.gains)}")
    if terms.losses:
        change.append(f"you'd lose {join_words(terms.losses)}")
    return ask_to_confirm(
        session=session,
        ctx=ctx,
        dispatcher=dispatcher,
        kind="change_plan",
        parameters={"plan": terms.to_plan, "terms": jsonable(terms)},
        response="utter_confirm_change_plan",
        variables={
            "from_plan": terms.from_name,
            "to_plan": terms.to_name,
            "price": money(terms.price_cents, terms.currency),
            "period": terms.billing_period.removesuffix("ly"),
            "date": long_date(terms.starts_on) if terms.starts_on else "your next renewal",
            "changes": f" ({'; '.join(change)})" if change else "",
        },
    )
