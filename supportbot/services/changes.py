"""Account changes as questions: the terms a question quotes, and applying them after a yes.

Each kind of change has a *preview* (``*_terms`` in the service that owns the change) and
an *apply* function. The preview's terms are stored with the question
(``supportbot.services.confirmations``); after the customer's yes, ``apply_confirmed``
computes the terms again and applies the change only if they are still the ones the
customer agreed to ("renew for $24.00, next renewal on 3 April"): a price or date that
moved in between would make the yes answer a different question.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.services import account, linking, preferences, redemption, referrals
from supportbot.services.confirmations import ChangeRequest
from supportbot.services.support import ConversationRef


def jsonable(terms: Any) -> dict[str, Any]:
    """A terms dataclass as plain JSON values (dates as ISO strings, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {key: plain(value) for key, value in dataclasses.asdict(terms).items()}


@dataclass(frozen=True)
class ChangeContext:
    session: Session
    customer_id: str
    conversation: ConversationRef
    today: dt.date
    external_id: str
    """The conversation's sender id (a messaging account, for unlinking)."""


@dataclass(frozen=True)
class Applied:
    """A change that was made: its kind, a line for the audit trail and the facts to word the reply."""

    kind: str
    summary: str
    facts: dict[str, Any]


def _unchanged(current: Any, agreed: dict[str, Any] | None) -> None:
    if agreed is not None and jsonable(current) != agreed:
        raise InvalidRequestError(
            "Something on your account changed since I asked, so I haven't changed anything. "
            "Ask me again and I'll show you the new terms."
        )


def _renew(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    _unchanged(
        account.renewal_terms(session=ctx.session, customer_id=ctx.customer_id, today=ctx.today), params.get("terms")
    )
    sub = account.renew_now(
        session=ctx.session, customer_id=ctx.customer_id, today=ctx.today, conversation=ctx.conversation
    )
    return Applied("renew", f"renewed {sub.plan.code}, next renewal {sub.renews_on}", {"subscription": sub})


def _change_plan(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    plan = str(params["plan"])
    _unchanged(
        account.plan_change_terms(session=ctx.session, customer_id=ctx.customer_id, plan_code=plan), params.get("terms")
    )
    sub = account.change_plan(
        session=ctx.session, customer_id=ctx.customer_id, plan_code=plan, conversation=ctx.conversation
    )
    return Applied("change_plan", f"moved to {sub.plan.code}", {"subscription": sub})


def _cancel(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    _unchanged(account.cancellation_terms(session=ctx.session, customer_id=ctx.customer_id), params.get("terms"))
    sub = account.cancel_subscription(
        session=ctx.session,
        customer_id=ctx.customer_id,
        reason=str(params.get("reason") or "requested in chat"),
        conversation=ctx.conversation,
    )
    return Applied("cancel", f"cancelled {sub.plan.code}", {"subscription": sub})


def _retention_offer(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    sub = account.accept_retention_offer(
        session=ctx.session,
        customer_id=ctx.customer_id,
        today=ctx.today,
        discount_percent=int(params["discount_percent"]),
        months=int(params["months"]),
        conversation=ctx.conversation,
    )
    return Applied("retention_offer", f"{sub.discount_percent}% off until {sub.discount_until}", {"subscription": sub})


def _redeem(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    code = str(params["reward"])
    _unchanged(
        redemption.redemption_terms(session=ctx.session, customer_id=ctx.customer_id, reward_code=code),
        params.get("terms"),
    )
    terms = redemption.redeem_reward(
        session=ctx.session, customer_id=ctx.customer_id, reward_code=code, conversation=ctx.conversation
    )
    return Applied("redeem_points", f"redeemed {terms.points_cost} points for {terms.reward}", {"terms": terms})


def _profile(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    field, value = str(params["field"]), str(params["value"])
    preferences.update_profile_field(
        session=ctx.session, customer_id=ctx.customer_id, field=field, value=value, conversation=ctx.conversation
    )
    return Applied("profile_update", f"updated {field}", {"field": field, "value": value})


def _unlink(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    removed = linking.unlink(
        session=ctx.session, channel=str(params["channel"]), external_id=str(params["external_id"])
    )
    if not removed:
        raise InvalidRequestError("This account isn't linked any more, so there was nothing to undo.")
    return Applied("unlink", f"unlinked {params['channel']} account", {"channel": params["channel"]})


def _referral(ctx: ChangeContext, params: dict[str, Any]) -> Applied:
    reward = referrals.configured_reward()
    code = str(params["code"])
    terms = referrals.referral_terms(session=ctx.session, customer_id=ctx.customer_id, code=code, reward=reward)
    _unchanged(terms, params.get("terms"))
    referrals.record_referral(
        session=ctx.session,
        customer_id=ctx.customer_id,
        code=code,
        source="conversation",
        now=dt.datetime.now(dt.UTC),
        conversation=ctx.conversation,
        reward=reward,
    )
    return Applied("referral", f"referred with {terms.code}", {"code": terms.code, "reward": terms.reward})


APPLY: dict[str, Callable[[ChangeContext, dict[str, Any]], Applied]] = {
    "renew": _renew,
    "change_plan": _change_plan,
    "cancel": _cancel,
    "retention_offer": _retention_offer,
    "redeem_points": _redeem,
    "profile_update": _profile,
    "unlink": _unlink,
    "referral": _referral,
}


def apply_confirmed(ctx: ChangeContext, request: ChangeRequest) -> Applied:
    """Make the change a confirmed request describes (raises ``InvalidRequestError`` before
    changing anything when it cannot be made as agreed)."""
    if request.customer_id != ctx.customer_id:  # pragma: no cover - requests are looked up per conversation
        raise InvalidRequestError("That request belongs to another account.")
    return APPLY[request.kind](ctx, request.parameters)
