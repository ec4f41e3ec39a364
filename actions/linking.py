"""Linking a messaging account to a verified customer (``supportbot.services.linking``).

On the website (verified): "link my Telegram" → a one-time code to send from the app.
In the messaging app: "LINK 7KQ4-M2XP" → this app account is linked; from then on
the assistant answers there from the customer's profile. "Unlink this account" undoes it.

Linking the account to a new owner, and unlinking it, start a fresh conversation: what
was said there before belongs to somebody else (``bot.channels.fresh_start``).
"""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from bot.channels.fresh_start import fresh_start_event
from supportbot.services.linking import (
    CODE_TTL,
    WEB_CHANNELS,
    CodeNotValidError,
    LinkingPausedError,
    TooManyAttemptsError,
    create_link_code,
    find_code,
    redeem_link_code,
    unlink,
)

CHANNEL_NAMES = {
    "telegram": "Telegram",
    "slack": "Slack",
    "facebook": "Messenger",
    "twilio": "WhatsApp/SMS",
    "callback": "messaging",
}


def _on_web(ctx: ActionContext) -> bool:
    return (ctx.conversation.channel or "") in WEB_CHANNELS


class ActionStartLinking(StoreAction):
    """Website, verified: hand out a code. Elsewhere: explain where to get one."""

    requires_customer = False

    def name(self) -> str:
        return "action_start_linking"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if not _on_web(ctx):
            if ctx.customer_id is not None:
                dispatcher.utter_message(response="utter_link_already_linked")
            else:
                dispatcher.utter_message(response="utter_link_how")
            return []
        if ctx.customer_id is None:
            dispatcher.utter_message(response="utter_need_sign_in")
            return []
        code = create_link_code(session=session, customer_id=customer_id_of(ctx), now=dt.datetime.now(dt.UTC))
        dispatcher.utter_message(response="utter_link_code", code=code, minutes=int(CODE_TTL.total_seconds() // 60))
        return []


class ActionLinkAccount(StoreAction):
    """Messaging app: a code was sent; link this account if it is valid."""

    requires_customer = False

    def name(self) -> str:
        return "action_link_account"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if _on_web(ctx):
            dispatcher.utter_message(response="utter_link_code_wrong_place")
            return []
        code = find_code(ctx.latest_text)
        if code is None:
            dispatcher.utter_message(response="utter_link_how")
            return []
        try:
            linked = redeem_link_code(
                session=session,
                code=code,
                channel=ctx.conversation.channel or "unknown",
                external_id=tracker.sender_id,
                now=dt.datetime.now(dt.UTC),
            )
        except LinkingPausedError:
            dispatcher.utter_message(response="utter_link_paused")
            return []
        except TooManyAttemptsError:
            dispatcher.utter_message(response="utter_link_too_many_attempts")
            return []
        except CodeNotValidError:  # the failed attempt is recorded and committed
            dispatcher.utter_message(response="utter_link_code_invalid")
            return []
        channel_name = CHANNEL_NAMES.get(linked.channel, linked.channel)
        dispatcher.utter_message(response="utter_link_done", name=linked.first_name, channel=channel_name)
        return [fresh_start_event(reason="linked")] if linked.owner_changed else []


class ActionUnlinkAccount(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_unlink_account"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if _on_web(ctx):
            dispatcher.utter_message(response="utter_unlink_from_the_app")
            return []
        removed = unlink(session=session, channel=ctx.conversation.channel or "unknown", external_id=tracker.sender_id)
        dispatcher.utter_message(response="utter_unlinked" if removed else "utter_link_how")
        return [fresh_start_event(reason="unlinked")] if removed else []
