"""The referral programme: a code per customer, referrals recorded once, the referrer thanked with a perk.

A customer's code is made the first time it is needed (``code_for``): when a referral invitation
is rendered or the customer asks for it in chat, so no message ever shows a code that does not
exist. A referral is recorded from an import (the business's sign-up system knew the code) or in
conversation, after the referred customer said yes to "Record that a friend referred you with code
…?" (consent before change: ``supportbot.services.changes``). ``record_referral`` checks what
``referral_terms`` checked when the question was asked, writes the row and grants the referrer's
thank-you (``REFERRER_PERK`` unless the campaign configuration says otherwise) with the key
``referral:<id>`` in the same transaction: what the invitation promised exists when the referral
does.

Rules: a code must exist, nobody refers themselves, a customer is referred once (the first
referral stands; recording the same code again is a no-op, another code is refused).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.outreach.config import load_config
from supportbot.services.perk_types import Perk, PointsPerk
from supportbot.services.perks import grant_perk
from supportbot.services.support import ConversationRef
from supportbot.store.growth_models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_PREFIX,
    REFERRAL_SOURCES,
    Referral,
    ReferralCode,
    normalise_code,
)
from supportbot.store.models import Customer, utcnow

REFERRER_PERK: Perk = PointsPerk(points=500)
"""The thank-you when nothing else is configured (``config/campaigns.yml``: ``referral_invitation.referrer_perk``)."""


@functools.cache
def configured_reward() -> Perk:
    """The referrer's thank-you as ``config/campaigns.yml`` promises it (read once per process)."""
    return load_config().campaigns.referral_invitation.referrer_perk


class ReferralRefused(InvalidRequestError):
    """The referral cannot be recorded (unknown code, one's own code, already referred); the message says why."""


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    return CODE_PREFIX + "".join(CODE_ALPHABET[randbelow(len(CODE_ALPHABET))] for _ in range(CODE_LENGTH))


def code_for(
    *,
    session: Session,
    customer_id: str,
    now: dt.datetime | None = None,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> str:
    """The customer's referral code, made (and flushed) in the caller's transaction if they have none."""
    existing = session.get(ReferralCode, customer_id)
    if existing is not None:
        return existing.code
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id!r} not found")
    for _ in range(20):  # 31^6 ≈ 887 million codes: a collision is rare, twenty in a row is impossible
        code = new_code(randbelow)
        if session.scalar(select(ReferralCode.customer_id).where(ReferralCode.code == code)) is None:
            session.add(ReferralCode(customer_id=customer_id, code=code, created_at=now or utcnow()))
            session.flush()
            return code
    raise RuntimeError("could not find an unused referral code")  # pragma: no cover


@dataclass(frozen=True)
class ReferralTerms:
    """What the consent question quotes, and what recording will check again."""

    code: str
    reward: str
    """What the referrer gets, in words ("500 loyalty points")."""


def perk_words(perk: Perk) -> str:
    config = perk.model_dump()
    if "points" in config:
        return f"{config['points']:,} loyalty points"
    if "reward" in config:
        return f"a free {config['reward']}"
    if "free_months" in config:
        months = config["free_months"]
        return f"{months} free month{'s' if months != 1 else ''}"
    return f"{config['percent_off']}% off their next {config['months']} month{'s' if config['months'] != 1 else ''}"


def _referrer_of(session: Session, code: str) -> str:
    owner = session.scalar(select(ReferralCode.customer_id).where(ReferralCode.code == code))
    if owner is None:
        raise ReferralRefused(f"I can't find the referral code {code}. Could you check it with your friend?")
    return owner


def referral_terms(*, session: Session, customer_id: str, code: str, reward: Perk = REFERRER_PERK) -> ReferralTerms:
    """Check that ``customer_id`` can be recorded as referred with ``code``; the terms to ask about."""
    wanted = normalise_code(code)
    if wanted is None:
        raise ReferralRefused(f"{code!r} is not a referral code; they look like {CODE_PREFIX}7KQ4MX.")
    referrer = _referrer_of(session, wanted)
    if referrer == customer_id:
        raise ReferralRefused("That's your own referral code: share it with a friend, and they can give it to us.")
    existing = session.scalar(select(Referral).where(Referral.customer_id == customer_id))
    if existing is not None:
        raise ReferralRefused("You're already recorded as referred by a friend, thank you!")
    return ReferralTerms(code=wanted, reward=perk_words(reward))


def record_referral(
    *,
    session: Session,
    customer_id: str,
    code: str,
    source: str,
    now: dt.datetime,
    conversation: ConversationRef | None = None,
    reward: Perk = REFERRER_PERK,
) -> Referral:
    """Record that ``customer_id`` was referred with ``code`` and thank the referrer, in the caller's transaction.

    The same code recorded again for the same customer returns the first row (an import run twice
    changes nothing); any other refusal raises ``ReferralRefused``.
    """
    if source not in REFERRAL_SOURCES:
        raise ValueError(f"unknown referral source {source!r}")
    wanted = normalise_code(code)
    existing = session.scalar(select(Referral).where(Referral.customer_id == customer_id))
    if existing is not None and wanted is not None and existing.code == wanted:
        return existing
    terms = referral_terms(session=session, customer_id=customer_id, code=code, reward=reward)
    referral = Referral(
        customer_id=customer_id,
        referrer_id=_referrer_of(session, terms.code),
        code=terms.code,
        source=source,
        conversation_id=conversation.conversation_id if conversation else None,
        recorded_at=now,
    )
    session.add(referral)
    session.flush()
    assert referral.referrer_id is not None
    grant_perk(
        session=session,
        customer_id=referral.referrer_id,
        perk=reward,
        grant_key=f"referral:{referral.id}",
        reason="referred a friend",
        today=now.date(),
    )
    return referral
