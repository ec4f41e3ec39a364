"""The referral programme in conversation: a customer's own code, and recording who referred them (after a yes).

"How do I refer a friend?" shows the customer's code (made the first time it is asked for) and what
they get once a friend's referral is recorded. "A friend referred me, code LUMEN-7KQ4MX" asks
"Record that a friend referred you with code …?" with the exact terms
(``supportbot.services.referrals.referral_terms``); only a yes to that question records it and
thanks the referrer (``supportbot.services.changes``, kind ``referral``). The code is read from the
message text itself (one pattern, ``services.referrals.CODE_PATTERN``), so "lumen 7kq4mx" works as
well as a pasted code; without a code in the message the assistant asks for it, and the customer's
next message (the code alone reads as ``report_referral``) continues.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
from supportbot.services.changes import jsonable
from supportbot.services.referrals import code_for, configured_reward, perk_words, referral_terms
from supportbot.store.growth_models import mistyped_code, normalise_code
from supportbot.store.models import utcnow


class ActionReferralCode(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_referral"

    def name(self) -> str:
        return "action_referral_code"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        code = code_for(session=session, customer_id=customer_id_of(ctx), now=utcnow())
        dispatcher.utter_message(response="utter_referral_code", code=code, reward=perk_words(configured_reward()))
        return []


class ActionReportReferral(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_referral"

    def name(self) -> str:
        return "action_report_referral"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        code = normalise_code(ctx.latest_text or "")
        if code is None:
            typed = mistyped_code(ctx.latest_text or "")
            if typed is not None:
                dispatcher.utter_message(response="utter_referral_code_not_valid", code=typed)
            else:
                dispatcher.utter_message(response="utter_ask_referral_code")
            return []
        terms = referral_terms(session=session, customer_id=customer_id_of(ctx), code=code, reward=configured_reward())
        return ask_to_confirm(
            session=session,
            ctx=ctx,
            dispatcher=dispatcher,
            kind="referral",
            parameters={"code": terms.code, "terms": jsonable(terms)},
            response="utter_confirm_referral",
            variables={"code": terms.code, "reward": terms.reward},
        )
