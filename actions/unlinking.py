"""Unlinking a messaging account, only after the customer's yes to "Unlink this … account?".

Linking itself (codes, redeeming them) is ``actions.linking``; undoing it is an account
change like any other, so it is asked and recorded first (``actions.changes``), and made by
``supportbot.services.changes`` after the yes.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.linking import CHANNEL_NAMES
from supportbot.services.linking import WEB_CHANNELS


class ActionRequestUnlink(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_request_unlink"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        channel = ctx.conversation.channel or "unknown"
        if channel in WEB_CHANNELS:
            dispatcher.utter_message(response="utter_unlink_from_the_app")
            return []
        if ctx.customer_id is None:
            dispatcher.utter_message(response="utter_link_how")
            return []
        return ask_to_confirm(
            session=session,
            ctx=ctx,
            dispatcher=dispatcher,
            kind="unlink",
            parameters={"channel": channel, "external_id": tracker.sender_id},
            response="utter_confirm_unlink",
            variables={"channel": CHANNEL_NAMES.get(channel, channel)},
        )
