"""A customer's chat over REST against the real stack, and what the store holds after it: shared by
the end-to-end dialogue tests (test_dialogue_why.py, test_dialogue_probes.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select

from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.models import Consent, Customer, LoyaltyAccount, Subscription, SupportInteraction
from tests.conftest import Stack, texts


@dataclass(frozen=True)
class Account:
    """What a test asserts did or did not change."""

    plan: str
    status: str
    renews_on: dt.date | None
    discount_percent: int
    birthday: dt.date | None
    points: int | None
    interactions: tuple[str, ...]


class Chat:
    def __init__(self, stack: Stack, customer_id: str) -> None:
        self.stack = stack
        self.customer_id = customer_id
        self.sender = f"why{uuid.uuid4().hex[:10]}"
        self.conversation = f"cust:{customer_id}:{self.sender}"

    def say(self, text: str) -> str:
        return texts(self.stack.say(self.sender, text, token=self.stack.token(self.customer_id)))

    def messages(self, text: str) -> list[dict[str, Any]]:
        return self.stack.say(self.sender, text, token=self.stack.token(self.customer_id))

    def account(self) -> Account:
        with self.stack.sessions() as session:
            sub = session.scalars(
                select(Subscription).where(Subscription.customer_id == self.customer_id).order_by(Subscription.id)
            ).first()
            assert sub is not None
            customer = session.get(Customer, self.customer_id)
            loyalty = session.get(LoyaltyAccount, self.customer_id)
            kinds = session.scalars(
                select(SupportInteraction.kind)
                .where(SupportInteraction.customer_id == self.customer_id)
                .order_by(SupportInteraction.id)
            ).all()
            return Account(
                plan=sub.plan_code,
                status=sub.status,
                renews_on=sub.renews_on,
                discount_percent=sub.discount_percent,
                birthday=customer.birthday if customer else None,
                points=loyalty.points if loyalty else None,
                interactions=tuple(kinds),
            )

    def consents_default(self) -> None:
        """Every kind of message back to the business default (granted), whatever earlier tests did."""
        with self.stack.sessions() as session:
            session.execute(delete(Consent).where(Consent.customer_id == self.customer_id))
            session.commit()

    def requests(self) -> list[tuple[str, str]]:
        with self.stack.sessions() as session:
            rows = session.scalars(
                select(AccountChangeRequest)
                .where(AccountChangeRequest.conversation_id == self.conversation)
                .order_by(AccountChangeRequest.id)
            ).all()
            return [(r.kind, r.status) for r in rows]


@pytest.fixture(scope="module")
def customers(stack: Stack) -> list[str]:
    """Customers on Plus or Pro (the offer names a cheaper plan; Business is one to switch to), away from
    the ones the other end-to-end tests use (the first eight and the last dozen)."""
    with stack.sessions() as session:
        ids = session.scalars(
            select(Subscription.customer_id)
            .where(
                Subscription.status == "active",
                Subscription.auto_renew.is_(True),
                Subscription.renews_on.is_not(None),
                Subscription.plan_code.in_(("plus", "pro")),
                Subscription.discount_percent == 0,
            )
            .order_by(Subscription.customer_id)
        ).all()
    unique = list(dict.fromkeys(ids))[20:-20]
    assert len(unique) >= 44
    return unique
