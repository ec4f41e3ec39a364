"""``action_answer_question``: acting on the answer to the question just asked.

``actions.dialogue_state`` has already decided that the latest message answers the pending
question and put the answer in the ``answer`` slot as a button payload, the same for a tap,
a typed title, or a plain yes/no. One rule sends every answer here; each kind of question has
its handler. Tapped or typed, the same handler runs, so buttons and words mean the same.
"""

from __future__ import annotations

from collections.abc import Callable

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.cancellation import ask_to_confirm_cancellation
from actions.changes import apply, ask_profile_change
from actions.context import ActionContext
from actions.loyalty import ask_redemption
from actions.orders import tell_order_status
from actions.plans import ask_plan_change
from actions.preferences import CHANGED_SLOT, ActionOptIn, ActionOptOut
from actions.profile_form import corrected_value
from actions.questions import ANSWER_SLOT, CORRECTION, KEEP, Question, forget, pending
from actions.support import answer_email_follow_up as email_follow_up
from actions.support import answer_withdraw_handoff as withdraw_handoff
from actions.support import hand_over
from bot.channels.fresh_start import fresh_start_event
from supportbot.buttons import Payload, parse_payload
from supportbot.formatting import PROFILE_FIELD_NAMES
from supportbot.parsing import normalise_outreach_kind
from supportbot.services.confirmations import StaleRequestError, decline

ENTITY_SLOTS = ("plan", "reward", "outreach_kind", "order_ref")
Handler = Callable[[Session, ActionContext, CollectingDispatcher, Question, str, Payload | None], Events]
DECLINED = {
    "renew": "utter_renew_declined",
    "change_plan": "utter_change_plan_declined",
    "cancel": "utter_kept_subscription",
    "retention_offer": "utter_kept_subscription",
    "redeem_points": "utter_redeem_declined",
    "profile_update": "utter_profile_left_alone",
    "unlink": "utter_unlink_declined",
    "referral": "utter_referral_declined",
}


def _decline(session: Session, ctx: ActionContext, question: Question, answer: str) -> bool:
    assert question.request_id is not None
    try:
        decline(
            session=session,
            request_id=question.request_id,
            conversation_id=ctx.conversation.conversation_id,
            answer=ctx.latest_text or answer,
        )
    except StaleRequestError:
        return False
    return True


def answer_change(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    """Yes applies the change; no leaves everything; the offer's other buttons lead on."""
    change = str(question.context.get("change") or "")
    asked_id = parsed.entities.get("change_request") if parsed else None
    if asked_id is not None and str(asked_id) != str(question.request_id):
        dispatcher.utter_message(response="utter_question_expired")
        return []
    if answer == CORRECTION:
        fixed = corrected_value(question.context, ctx.latest_text)
        if fixed is not None:
            return ask_profile_change(session, ctx, dispatcher, *fixed)
    intent = parsed.intent if parsed else ""
    if intent == "affirm":
        applied = apply(session=session, ctx=ctx, dispatcher=dispatcher, question=question, answer=answer)
        if applied is not None and applied.kind == "unlink":
            # What was said while the account was linked belongs to its owner: a fresh start
            # (bot.channels.fresh_start purges it after this turn; issue 14 finding 9).
            return [fresh_start_event(reason="unlinked")]
        return []
    if not _decline(session, ctx, question, answer):
        dispatcher.utter_message(response="utter_question_expired")
        return []
    if change == "retention_offer" and intent == "change_plan" and parsed and parsed.entities.get("plan"):
        return [SlotSet("plan", None), *ask_plan_change(session, ctx, dispatcher, str(parsed.entities["plan"]))]
    if change == "retention_offer" and intent == "deny" and answer != KEEP:
        return ask_to_confirm_cancellation(session=session, ctx=ctx, dispatcher=dispatcher)
    field = str(question.context.get("field") or "")
    dispatcher.utter_message(
        response=DECLINED.get(change, "utter_ok_nevermind"), field=PROFILE_FIELD_NAMES.get(field, "details")
    )
    return []


def answer_choose_kind(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    kind = normalise_outreach_kind(str(parsed.entities.get("outreach_kind") or "")) if parsed else None
    intent = parsed.intent if parsed else None
    return _change_consent(session, ctx, dispatcher, kind, intent, otherwise="utter_ok_nevermind")


def answer_confirm_consent(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    """The yes or no to "Do you want me to stop sending you …?" (or to start again)."""
    kind = normalise_outreach_kind(str(question.context.get("kind") or ""))
    if not (parsed and parsed.intent == "affirm"):
        kind = None
    intent = question.context.get("intent")
    events = _change_consent(session, ctx, dispatcher, kind, intent, otherwise="utter_consent_unchanged")
    # A change made on an explicit yes is no surprise to undo: "never mind" after it is the usual one.
    return [e for e in events if e.get("name") != CHANGED_SLOT]


def _change_consent(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    kind: str | None,
    intent: object,
    *,
    otherwise: str,
) -> Events:
    """Opt in (``intent`` "opt_in") or out of ``kind``; with no kind or no verified customer, the
    ``otherwise`` response and nothing changes."""
    if kind is None or ctx.customer_id is None:
        dispatcher.utter_message(response=otherwise)
        return []
    action = ActionOptIn() if intent == "opt_in" else ActionOptOut()
    return action.set_kind(session, ctx, dispatcher, kind)


def answer_choose_reward(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    reward = parsed.entities.get("reward") if parsed else None
    if not reward or ctx.customer_id is None:
        dispatcher.utter_message(response="utter_ok_nevermind")
        return []
    return ask_redemption(session, ctx, dispatcher, str(reward))


def answer_choose_plan(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    plan = parsed.entities.get("plan") if parsed else None
    if not plan or ctx.customer_id is None:
        dispatcher.utter_message(response="utter_ok_nevermind")
        return []
    return [SlotSet("plan", None), *ask_plan_change(session, ctx, dispatcher, str(plan))]


def answer_choose_order(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    ref = parsed.entities.get("order_ref") if parsed else None
    if not ref or ctx.customer_id is None:
        dispatcher.utter_message(response="utter_ok_nevermind")
        return []
    tell_order_status(session, ctx.customer_id, dispatcher, str(ref))
    return [SlotSet("order_ref", None)]


def answer_offer_person(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    if parsed and parsed.intent == "human_handoff":
        reason = str(question.context.get("reason") or "asked for a person after reporting a problem")
        return hand_over(session, ctx, dispatcher, reason=reason)
    dispatcher.utter_message(response="utter_anything_else")
    return []


def answer_retry_form(
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    question: Question,
    answer: str,
    parsed: Payload | None,
) -> Events:
    intent = parsed.intent if parsed else ""
    if intent == "human_handoff":
        return hand_over(session, ctx, dispatcher, reason="asked for a person after a form it could not finish")
    if intent == "affirm":
        return [SlotSet("update_field", question.context.get("field")), FollowupAction(str(question.context["form"]))]
    dispatcher.utter_message(
        response="utter_profile_left_alone",
        field=PROFILE_FIELD_NAMES.get(str(question.context.get("field")), "details"),
    )
    return []


YesNoStep = Callable[[Session, ActionContext, CollectingDispatcher, bool], Events]


def yes_or_no(step: YesNoStep) -> Handler:
    """A handler for a plain yes/no question whose step takes only the yes."""

    def handler(
        session: Session,
        ctx: ActionContext,
        dispatcher: CollectingDispatcher,
        question: Question,
        answer: str,
        parsed: Payload | None,
    ) -> Events:
        return step(session, ctx, dispatcher, bool(parsed and parsed.intent == "affirm"))

    return handler


HANDLERS: dict[str, Handler] = {
    "email_follow_up": yes_or_no(email_follow_up),
    "withdraw_handoff": yes_or_no(withdraw_handoff),
    "change": answer_change,
    "choose_kind": answer_choose_kind,
    "confirm_consent": answer_confirm_consent,
    "choose_reward": answer_choose_reward,
    "choose_plan": answer_choose_plan,
    "choose_order": answer_choose_order,
    "offer_person": answer_offer_person,
    "retry_form": answer_retry_form,
}


class ActionAnswerQuestion(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_answer_question"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        question = pending(tracker)
        answer = str(tracker.get_slot(ANSWER_SLOT) or "")
        handler = HANDLERS.get(question.kind) if question else None
        if question is None or handler is None or not answer:
            dispatcher.utter_message(response="utter_nothing_pending")
            return forget()
        if question.kind == "change" and ctx.customer_id is None:
            dispatcher.utter_message(response="utter_need_sign_in")
            return forget()
        # An answer's entities (a typed title may carry them too) are for this answer only.
        spent = [SlotSet(name, None) for name in ENTITY_SLOTS if tracker.get_slot(name) is not None]
        return [*forget(), *spent, *handler(session, ctx, dispatcher, question, answer, parse_payload(answer))]

    def failure_events(self, tracker: Tracker) -> Events:
        return forget()

    def anonymous_events(self, tracker: Tracker) -> Events:
        return forget()
