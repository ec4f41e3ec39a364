"""A yes when no question is open.

"Ok do it" after the plan options agrees to no one of them: with one plan offered that switch is
asked (with its terms, to say yes to), otherwise "which one?" with the same buttons. After an
account change that another question interrupted, the change is asked again
(``actions.resume.ask_again``). Otherwise: "not sure what that's a yes to", and nothing changes.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.plans import ask_plan_change
from actions.questions import PENDING_SLOT, Question, ask, last_bot_buttons, set_in_last_turn
from actions.resume import INTERRUPTED_SLOT, ask_again
from actions.wording import render
from supportbot.buttons import parse_payload

CHOICES_TO_DO = frozenset({"choose_plan", "choose_reward"})
"""Choices of something to do, which a bare "ok do it" agrees to without saying which."""


class ActionAffirmNothingPending(StoreAction):
    """A yes with no question open: "which one?" right after a choice (the plan options), the
    interrupted account change asked again, or "not sure what that's a yes to"."""

    requires_customer = False

    def name(self) -> str:
        return "action_affirm_nothing_pending"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        again = ask_again(session, ctx, dispatcher, tracker, lead="utter_ask_again")
        choice = Question.from_slot(set_in_last_turn(tracker, PENDING_SLOT))
        buttons = [{"title": b.title, "payload": b.payload} for b in last_bot_buttons(tracker)]
        if again is None and choice is not None and choice.kind in CHOICES_TO_DO and buttons:
            only = parse_payload(buttons[0]["payload"]) if len(buttons) == 1 else None
            if choice.kind == "choose_plan" and only is not None and "plan" in only.entities:
                # "ok do it" when one plan was offered: that switch, with its terms, to say yes to
                return ask_plan_change(session, ctx, dispatcher, only.entities["plan"])
            # "ok do it" right after the plan options: a yes to no one of them, so which one?
            rendered = render(ctx.responses, "utter_which_one")
            return ask(dispatcher, text=rendered.text, buttons=buttons, question=choice)
        if again is None:
            dispatcher.utter_message(response="utter_nothing_pending")
            return [SlotSet(INTERRUPTED_SLOT, None)]
        return again

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet(INTERRUPTED_SLOT, None)]
