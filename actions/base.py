"""The shared shape of every action that touches the profile store (abstract: not registered)."""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import runtime
from actions.context import ActionContext
from supportbot.errors import InvalidRequestError, NotFoundError

logger = logging.getLogger(__name__)

Events = list[dict[str, Any]]


class StoreAction(Action, abc.ABC):
    """Resolves the customer, runs ``perform`` in one transaction, turns errors into answers.

    The work runs in a worker thread: SQLAlchemy is synchronous, and blocking the
    action server's event loop would stall every other conversation.
    """

    requires_customer: ClassVar[bool] = True
    anonymous_response: ClassVar[str] = "utter_need_sign_in"
    """What a visitor who is not verified gets instead: general help, never profile data."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        return await asyncio.to_thread(self._run_in_transaction, dispatcher, tracker, domain)

    def _run_in_transaction(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        try:
            with runtime.sessions().begin() as session:
                ctx = ActionContext.build(session=session, tracker=tracker, domain=domain)
                self.preface(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
                if self.requires_customer and ctx.customer_id is None:
                    dispatcher.utter_message(response=self.anonymous_response)
                    return self.anonymous_events(tracker)
                return self.perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
        except InvalidRequestError as exc:
            dispatcher.utter_message(text=str(exc))
            return self.failure_events(tracker)
        except NotFoundError as exc:
            logger.warning("%s: %s (conversation %s)", self.name(), exc, tracker.sender_id)
            dispatcher.utter_message(response=self.anonymous_response)
            return self.failure_events(tracker)
        except SQLAlchemyError:
            logger.exception("%s failed on the profile store (conversation %s)", self.name(), tracker.sender_id)
            dispatcher.utter_message(response="utter_technical_problem")
            return self.failure_events(tracker)

    def preface(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> None:
        """Said before the action's own answer, for a visitor too (``actions.help_quotes``); nothing by default."""

    @abc.abstractmethod
    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        """Do the work for a resolved context; ``ctx.customer_id`` is set when ``requires_customer``."""

    def anonymous_events(self, tracker: Tracker) -> Events:
        return []

    def failure_events(self, tracker: Tracker) -> Events:
        return []


def customer_id_of(ctx: ActionContext) -> str:
    """The verified customer id; only call where ``requires_customer`` guarantees one."""
    if ctx.customer_id is None:  # pragma: no cover - guarded by StoreAction
        raise NotFoundError("no verified customer in this conversation")
    return ctx.customer_id
