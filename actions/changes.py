"""Consent before change, in conversation: ask with the exact terms, act only on a yes to that question.

Every action that would change an account calls ``ask_to_confirm`` instead: it renders the
question from domain.yml with the terms (what, when, how much, which plan), records it in the
store (``supportbot.services.confirmations``) and shows Yes/No buttons whose payloads carry
the request id. ``actions.answers`` takes the reply; on a yes ``apply`` confirms the request
(only the newest pending one of this conversation can be), makes the change
(``supportbot.services.changes``) and says what was done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, customer_id_of
from actions.context import ActionContext
from actions.questions import Question, ask
from actions.wording import render
from supportbot.buttons import parse_payload, payload
from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.formatting import PROFILE_FIELD_NAMES, long_date, money, profile_value
from supportbot.services.changes import Applied, ChangeContext, apply_confirmed
from supportbot.services.confirmations import StaleRequestError, confirm, record_outcome, request_change


def with_request(button: dict[str, str], request_id: int, entities: dict[str, Any] | None = None) -> dict[str, str]:
    """The button with the request id (and any entities) in its payload."""
    parsed = parse_payload(button["payload"])
    if parsed is None:  # pragma: no cover - domain payloads are /intent
        raise ValueError(f"button payload {button['payload']!r} is not /intent")
    # A button asked again for a new request (actions.resume) drops the old request's id.
    kept = {k: v for k, v in parsed.entities.items() if k != "change_request"}
    return {
        "title": button["title"],
        "payload": payload(parsed.intent, **kept, **(entities or {}), change_request=str(request_id)),
    }


def ask_to_confirm(
    *,
    session: Session,
    ctx: ActionContext,
    dispatcher: CollectingDispatcher,
    kind: str,
    parameters: dict[str, Any],
    response: str,
    variables: dict[str, Any],
    context: dict[str, Any] | None = None,
    family: str = "change",
    button_entities: dict[str, dict[str, Any]] | None = None,
    drop_buttons: frozenset[str] = frozenset(),
) -> Events:
    """Record the question ``response`` (filled with ``variables``) and ask it.

    ``button_entities`` adds entities to the payload of the button with that intent (the plan
    to switch to); ``drop_buttons`` leaves out buttons by intent (no cheaper plan to offer).
    """
    rendered = render(ctx.responses, response, **variables)
    buttons = [
        b for b in rendered.buttons if (p := parse_payload(b["payload"])) is not None and p.intent not in drop_buttons
    ]
    shown = type(rendered)(rendered.text, buttons)
    request = request_change(
        session=session,
        customer_id=customer_id_of(ctx),
        conversation=ctx.conversation,
        kind=kind,
        parameters=parameters,
        prompt=shown.as_recorded(),
    )
    entities = button_entities or {}
    return ask(
        dispatcher,
        text=rendered.text,
        buttons=[with_request(b, request.id, entities.get(str(parse_payload(b["payload"]).intent))) for b in buttons],  # type: ignore[union-attr]
        question=Question("change", request.id, {"change": kind, "family": family, **(context or {})}),
    )


def apply(
    *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, question: Question, answer: str
) -> Applied | None:
    """The customer said yes to ``question``: confirm it and make the change, or say why not."""
    assert question.request_id is not None
    try:
        request = confirm(
            session=session,
            request_id=question.request_id,
            conversation_id=ctx.conversation.conversation_id,
            answer=ctx.latest_text or answer,
        )
    except StaleRequestError:
        dispatcher.utter_message(response="utter_question_expired")
        return None
    try:
        applied = apply_confirmed(
            ChangeContext(
                session=session,
                customer_id=customer_id_of(ctx),
                conversation=ctx.conversation,
                today=ctx.today,
                external_id=ctx.conversation.conversation_id,
            ),
            request,
        )
    except (InvalidRequestError, NotFoundError) as exc:
        record_outcome(session=session, request_id=request.id, outcome=str(exc), failed=True)
        dispatcher.utter_message(
            text=str(exc) if isinstance(exc, InvalidRequestError) else "Sorry, that is no longer available."
        )
        return None
    record_outcome(session=session, request_id=request.id, outcome=applied.summary)
    tell_done(dispatcher, applied, today=ctx.today)
    return applied


def _date(day: dt.date | None, fallback: str) -> str:
    return long_date(day) if day else fallback


def tell_done(dispatcher: CollectingDispatcher, applied: Applied, *, today: dt.date) -> None:
    """What the customer reads once a change is made: the facts from the store, not the question."""
    facts = applied.facts
    if applied.kind in ("renew", "change_plan", "cancel", "retention_offer"):
        sub = facts["subscription"]
        if applied.kind == "renew":
            dispatcher.utter_message(
                response="utter_renewed",
                plan=sub.plan.name,
                price=money(sub.price_on(today), sub.currency),
                date=_date(sub.renews_on, ""),
            )
        elif applied.kind == "change_plan":
            dispatcher.utter_message(
                response="utter_plan_changed",
                plan=sub.plan.name,
                price=money(sub.price_cents, sub.currency),
                period=sub.billing_period.removesuffix("ly"),
                date=_date(sub.renews_on, "your next renewal"),
            )
        elif applied.kind == "cancel":
            dispatcher.utter_message(
                response="utter_cancelled",
                plan=sub.plan.name,
                date=_date(sub.renews_on, "the end of your billing period"),
            )
        else:
            dispatcher.utter_message(
                response="utter_retention_accepted", discount=sub.discount_percent, until=_date(sub.discount_until, "")
            )
    elif applied.kind == "redeem_points":
        terms = facts["terms"]
        dispatcher.utter_message(
            response="utter_redeemed",
            reward=terms.reward_name,
            points=f"{terms.points_cost:,}",
            left=f"{terms.points_after:,}",
        )
    elif applied.kind == "profile_update":
        dispatcher.utter_message(
            response="utter_profile_updated",
            field=PROFILE_FIELD_NAMES[facts["field"]],
            value=profile_value(facts["field"], facts["value"]),
        )
    elif applied.kind == "unlink":
        dispatcher.utter_message(response="utter_unlinked")
    elif applied.kind == "referral":
        dispatcher.utter_message(response="utter_referral_recorded", reward=facts["reward"])


def ask_profile_change(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, field: str, value: str
) -> Events:
    """ "Change your birthday to 14 March 1990?", recorded with its answer buttons."""
    return ask_to_confirm(
        session=session,
        ctx=ctx,
        dispatcher=dispatcher,
        kind="profile_update",
        parameters={"field": field, "value": value},
        response="utter_confirm_profile_update",
        variables={"field": PROFILE_FIELD_NAMES[field], "value": profile_value(field, value)},
        context={"field": field, "value": value},
    )
