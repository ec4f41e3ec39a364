"""The demo's past conversations, step by step as the real dialogue runs them (``data/rules``, ``actions``).

Each function appends one exchange to a ``demo_tracker.Conversation``: the customer's message with
the intent the classifier gave it, the action the rules choose, the bot's words from ``domain.yml``
with the values the action would have filled in, the slots and forms the actions set. What the
exchange leaves in the profile store (a rating, a handoff, a referral) is written by
``demo_history``, which calls these.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

from supportbot.formatting import long_date, money, relative_days
from supportbot.services.handoff import WaitEstimate, describe_wait
from supportbot.store.demo_texts import REQUESTS
from supportbot.store.demo_tracker import Conversation, response

KIND_NAMES = {
    "tips": "usage tips",
    "renewal": "renewal reminders",
    "milestones": "birthday and anniversary messages",
    "perks": "offers and perks",
    "feedback": "feedback requests",
}
"""As ``actions.preferences.KIND_NAMES`` (a test keeps them equal): the words of "Stop …" buttons."""


def opt_out_button(kind: str) -> dict[str, str]:
    return {"title": f"Stop {KIND_NAMES[kind]}", "payload": '/opt_out{"outreach_kind": "' + kind + '"}'}


@dataclass(frozen=True)
class Who:
    """What the actions would read about the customer on that day."""

    first_name: str
    plan: str
    period: str
    price_cents: int
    since: dt.date
    renews_on: dt.date | None
    points: int
    tier: str


FALLBACKS = {"nlu_fallback": "utter_default", "out_of_scope": "utter_out_of_scope"}
"""What ``action_answer_help`` says when no help-centre article fits (actions/helpcentre.py FALLBACK_RESPONSES)."""


def ask(conv: Conversation, rng: random.Random, intent: str, *, confidence: tuple[float, float] = (0.72, 0.99)) -> str:
    """The customer writes one of the demo's phrasings of ``intent``."""
    message = rng.choice(REQUESTS[intent])
    conv.user(message, intent, round(rng.uniform(*confidence), 4), seconds=rng.uniform(8, 90))
    return message


def greet(conv: Conversation, rng: random.Random, who: Who) -> None:
    ask(conv, rng, "greet")
    conv.action("action_greet").say("utter_greet_customer", name=who.first_name, context_line="").listen()


def renewal_question(conv: Conversation, rng: random.Random, who: Who, day: dt.date) -> None:
    ask(conv, rng, "ask_renewal")
    conv.action("action_show_renewal")
    if who.renews_on is None:
        conv.say("utter_no_subscription").listen()
        return
    conv.say(
        "utter_renewal_info",
        name=who.first_name,
        plan=who.plan,
        status="active",
        period=who.period,
        price=money(who.price_cents),
        date=long_date(who.renews_on),
        when=relative_days(who.renews_on, day),
        since=long_date(who.since),
    ).listen()


def plan_question(conv: Conversation, rng: random.Random, who: Who, day: dt.date) -> None:
    ask(conv, rng, "ask_plan")
    conv.action("action_show_plan")
    if who.renews_on is None:
        conv.say("utter_no_subscription").listen()
        return
    conv.say(
        "utter_plan_status",
        plan=who.plan,
        period=who.period,
        price=money(who.price_cents),
        since=long_date(who.since),
        when=relative_days(who.renews_on, day),
        date=long_date(who.renews_on),
    ).listen()


def order_question(conv: Conversation, rng: random.Random, order_ref: str, items: str, eta: dt.date | None) -> None:
    """ "Where is my order?" a few days after ordering: the action's own words (``actions.orders``)."""
    ask(conv, rng, "order_status")
    conv.action("action_order_status")
    words = f"Order #{order_ref} ({items}) is on its way"
    conv.say_text(words + (f" and should arrive by {long_date(eta)}." if eta else ".")).listen()


def loyalty_question(conv: Conversation, rng: random.Random, who: Who) -> None:
    ask(conv, rng, "ask_loyalty")
    conv.action("action_loyalty").say(
        "utter_loyalty", name=who.first_name, points=f"{who.points:,}", tier=who.tier.title(), rewards=""
    ).listen()


def wait_words(rng: random.Random) -> str:
    """What ``action_handoff`` says about the wait (``describe_wait``): a place in the queue, a typical time."""
    estimate = WaitEstimate(position=rng.randint(1, 3), typical=dt.timedelta(minutes=rng.randint(3, 25)))
    return describe_wait(estimate)


def handoff(conv: Conversation, rng: random.Random, who: Who) -> None:
    ask(conv, rng, "human_handoff", confidence=(0.9, 0.99))
    conv.action("action_handoff").say("utter_handoff_customer", name=who.first_name, wait=wait_words(rng))
    conv.slot("handoff_requested", True).listen()


def visitor_handoff(conv: Conversation, rng: random.Random, *, email: str) -> None:
    ask(conv, rng, "human_handoff", confidence=(0.9, 0.99))
    conv.action("action_handoff").say("utter_handoff_anonymous", wait=wait_words(rng), email=email)
    conv.slot("handoff_requested", True).listen()


def problem_report(conv: Conversation, rng: random.Random, description: str, ticket: int) -> None:
    ask(conv, rng, "report_problem")
    conv.action("problem_form").loop("problem_form").slot("requested_slot", "problem_description")
    conv.action("action_ask_problem_description").say("utter_ask_problem_description").listen()
    conv.user(description, "report_problem", round(rng.uniform(0.6, 0.95), 4), seconds=rng.uniform(20, 80))
    conv.action("problem_form").slot("problem_description", description).slot("requested_slot", None).loop(None)
    conv.action("action_report_problem").say("utter_problem_recorded", ticket=f"P-{ticket:05d}")
    conv.slot("problem_description", None).listen()


def small_talk(conv: Conversation, rng: random.Random) -> None:
    intent = rng.choice(("bot_challenge", "help", "out_of_scope", "nlu_fallback"))
    if intent in FALLBACKS:
        # The rules send both to the help centre first (action_answer_help); the demo's phrasings
        # match no article, so the action falls back to the response, as it does live.
        ask(conv, rng, intent, confidence=(0.12, 0.29) if intent == "nlu_fallback" else (0.72, 0.99))
        conv.action("action_answer_help").say(FALLBACKS[intent]).listen()
        return
    ask(conv, rng, intent)
    action, response = {"bot_challenge": ("utter_iamabot",) * 2, "help": ("action_help_menu", "utter_help")}[intent]
    conv.action(action).say(response).listen()


def opt_out(conv: Conversation, rng: random.Random, kind: str) -> None:
    message = {"tips": "please stop sending me tips", "renewal": "no more renewal reminders please"}.get(
        kind, f"stop the {KIND_NAMES[kind]}"
    )
    entities = [{"entity": "outreach_kind", "value": kind}]
    conv.user(message, "opt_out", round(rng.uniform(0.8, 0.99), 4), entities=entities, seconds=rng.uniform(10, 60))
    conv.slot("outreach_kind", kind).action("action_opt_out").say("utter_opt_out_done", kind=KIND_NAMES[kind])
    conv.slot("outreach_kind", None).listen()


def wrap_up(conv: Conversation, rng: random.Random, *, rated: int | None, ending: bool = False) -> None:
    """Thanks (or bye) after a settled request: the CSAT question when ``rated`` is given, else a welcome."""
    ask(conv, rng, "goodbye" if ending else "thanks")
    conv.action("action_wrap_up")
    if rated is None:
        conv.say("utter_goodbye" if ending else "utter_welcome", variation=rng.randrange(2)).listen()
        return
    conv.say("utter_wrap_up_goodbye" if ending else "utter_wrap_up_thanks")
    conv.slot("feedback_prompt", "conversation_end" if ending else "resolution").slot("csat_score", None)
    rating(conv, rng, form="csat_form", slot="csat_score", question="utter_ask_csat_score", value=rated)


def rating(conv: Conversation, rng: random.Random, *, form: str, slot: str, question: str, value: int) -> None:
    conv.action(form).loop(form).slot("requested_slot", slot).say(question).listen()
    typed = str(value) if rng.random() < 0.8 else {5: "five", 4: "four", 1: "one"}.get(value, str(value))
    conv.user(typed, "inform", round(rng.uniform(0.5, 0.95), 4), seconds=rng.uniform(4, 25))
    conv.action(form).slot(slot, float(value)).slot("requested_slot", None).loop(None)
    submit = "action_submit_csat" if form == "csat_form" else "action_submit_nps"
    conv.action(submit)


def rating_reply(conv: Conversation, scale: str, group: str) -> None:
    conv.say(f"utter_{scale}_{group}")


def open_question(conv: Conversation, rng: random.Random, question: str, text: str | None) -> None:
    """``feedback_form`` asking ``question``; the customer writes ``text`` (or skips)."""
    conv.slot("feedback_question", question).action("feedback_form").loop("feedback_form")
    conv.slot("requested_slot", "feedback_text").action("action_ask_feedback_text")
    conv.say(f"utter_ask_feedback_{question}").listen()
    if text is None:
        conv.user("skip", "nevermind", round(rng.uniform(0.5, 0.9), 4), seconds=rng.uniform(3, 15))
        conv.action("feedback_form").slot("feedback_text", "__dropped__").slot("requested_slot", None).loop(None)
        conv.action("action_submit_feedback").say("utter_feedback_skipped").slot("feedback_text", None).listen()
        return
    conv.user(text, "give_feedback", round(rng.uniform(0.4, 0.9), 4), seconds=rng.uniform(30, 120))
    conv.action("feedback_form").slot("feedback_text", text).slot("requested_slot", None).loop(None)
    conv.action("action_submit_feedback").say("utter_feedback_thanks").slot("feedback_text", None).listen()


def programme_question(conv: Conversation, rng: random.Random, joins: bool) -> None:
    conv.slot("joins_programme", None).action("programme_form").loop("programme_form")
    conv.slot("requested_slot", "joins_programme").say("utter_ask_joins_programme").listen()
    ask(conv, rng, "affirm" if joins else "deny")
    conv.action("programme_form").slot("joins_programme", joins).slot("requested_slot", None).loop(None)
    conv.action("action_submit_programme_invite").say("utter_programme_joined" if joins else "utter_programme_declined")
    conv.slot("joins_programme", None).listen()


def volunteered(conv: Conversation, rng: random.Random, text: str) -> None:
    ask(conv, rng, "give_feedback")
    conv.slot("feedback_prompt", "volunteered").slot("feedback_question", "volunteered")
    conv.action("feedback_form").loop("feedback_form").slot("requested_slot", "feedback_text")
    conv.action("action_ask_feedback_text").say("utter_ask_feedback_volunteered").listen()
    conv.user(text, "give_feedback", round(rng.uniform(0.5, 0.95), 4), seconds=rng.uniform(30, 120))
    conv.action("feedback_form").slot("feedback_text", text).slot("requested_slot", None).loop(None)
    conv.action("action_submit_feedback").say("utter_feedback_thanks").slot("feedback_text", None).listen()


def proactive(conv: Conversation, outbox_id: int, intent: str, template: str, kind: str, **values: Any) -> None:
    """A message the scheduler triggered: the external intent, the rendering action, its opt-out button."""
    conv.external(intent, outbox_id).action("action_deliver_outreach", hide=True)
    buttons = [] if kind == "feedback" else [opt_out_button(kind)]
    conv.say(template, extra_buttons=buttons, metadata={"outbox_id": str(outbox_id)}, **values)
    conv.slot("last_outreach_kind", kind)


def referral_recorded(conv: Conversation, rng: random.Random, code: str, reward: str, request_id: int) -> None:
    """ "A friend referred me, code …": the consent question, a yes, the referral recorded."""
    message = rng.choice(REQUESTS["report_referral"]).format(code=code)
    conv.user(message, "report_referral", round(rng.uniform(0.8, 0.99), 4), seconds=rng.uniform(10, 60))
    conv.action("action_report_referral")
    question = {"kind": "change", "request_id": request_id, "context": {"change": "referral", "family": "change"}}
    words, buttons = response("utter_confirm_referral", code=code, reward=reward)
    for button in buttons:  # actions.changes.with_request: the request id travels in the payload
        button["payload"] = f'{button["payload"]}{{"change_request": "{request_id}"}}'
    conv.say_text(words, buttons=buttons)
    conv.slot("pending_question", json.dumps(question, sort_keys=True)).slot("answer", None).listen()
    ask(conv, rng, "affirm")
    conv.slot("pending_question", None).slot("answer", f'/affirm{{"change_request": "{request_id}"}}')
    conv.action("action_answer_question").say("utter_referral_recorded", reward=reward).slot("answer", None).listen()
