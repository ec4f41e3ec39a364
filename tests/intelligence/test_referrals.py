"""The referral programme: codes made once, referrals recorded once (from an import or after a yes in chat),
the referrer thanked with the points the invitation promised (real SQLite store)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ImportValidationError
from supportbot.services.perk_types import PointsPerk
from supportbot.services.referrals import (
    ReferralRefused,
    code_for,
    configured_reward,
    new_code,
    record_referral,
    referral_terms,
)
from supportbot.store.growth_models import Referral, ReferralCode, normalise_code
from supportbot.store.importer import import_customers
from supportbot.store.models import Customer, LoyaltyAccount
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant
from tests.factories import add_customer, customer_row, write_csv

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def two_customers(store: sessionmaker[Session]) -> str:
    """Maya (the referrer, 300 points) and Leo; Maya's code."""
    with store.begin() as session:
        maya = add_customer(session, "MAYA", first_name="Maya", loyalty_points=300)
        assert maya.loyalty is not None
        maya.loyalty.lifetime_points = 300
        add_customer(session, "LEO", first_name="Leo")
        return code_for(session=session, customer_id="MAYA", now=NOW)


def test_a_code_is_made_once_per_customer_and_reads_back_however_it_is_typed(store: sessionmaker[Session]) -> None:
    code = two_customers(store)
    with store.begin() as session:
        assert code_for(session=session, customer_id="MAYA") == code
        assert session.scalar(select(func.count()).select_from(ReferralCode)) == 1
    assert code.startswith("LUMEN-") and len(code) == 12
    assert set(code[6:]) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    assert normalise_code(f"my friend's code is {code.lower().replace('-', ' ')}.") == code
    assert normalise_code("LUMEN-0O1IL2") is None  # look-alike characters are never in a code


def test_a_code_never_collides_with_one_in_use(store: sessionmaker[Session]) -> None:
    two_customers(store)
    with store.begin() as session:
        taken = session.scalars(select(ReferralCode.code)).one()
        alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
        tries = iter([alphabet.index(c) for c in taken[6:]] + [0] * 6)  # Maya's code comes up first
        made = code_for(session=session, customer_id="LEO", randbelow=lambda _n: next(tries))
    assert made == new_code(lambda _n: 0) == "LUMEN-222222" != taken


def test_recording_a_referral_thanks_the_referrer_once_in_the_ledger(store: sessionmaker[Session]) -> None:
    code = two_customers(store)
    with store.begin() as session:
        referral = record_referral(session=session, customer_id="LEO", code=code, source="conversation", now=NOW)
        again = record_referral(session=session, customer_id="LEO", code=code.lower(), source="import", now=NOW)
        assert again.id == referral.id
    with store() as session:
        account = session.get(LoyaltyAccount, "MAYA")
        assert account is not None and account.points == 800 and account.lifetime_points == 800
        ledger = [
            (e.points, e.source) for e in session.scalars(select(LoyaltyLedgerEntry).order_by(LoyaltyLedgerEntry.id))
        ]
        assert ledger == [(300, "opening"), (500, "perk")]
        grant = session.scalars(select(PerkGrant)).one()
        assert (grant.customer_id, grant.grant_key, grant.points) == ("MAYA", f"referral:{referral.id}", 500)
        row = session.get(Referral, referral.id)
        assert row is not None and (row.customer_id, row.referrer_id, row.source) == ("LEO", "MAYA", "conversation")


@pytest.mark.parametrize(
    ("who", "code", "message"),
    [
        ("LEO", "LUMEN-ZZZZZZ", "I can't find the referral code LUMEN-ZZZZZZ"),
        ("MAYA", None, "That's your own referral code"),
        ("LEO", "not a code", "is not a referral code"),
    ],
)
def test_refusals_say_why_and_record_nothing(
    store: sessionmaker[Session], who: str, code: str | None, message: str
) -> None:
    maya = two_customers(store)
    with store.begin() as session, pytest.raises(ReferralRefused, match=message):
        referral_terms(session=session, customer_id=who, code=code or maya)
    with store() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 0


def test_a_customer_is_referred_once(store: sessionmaker[Session]) -> None:
    maya = two_customers(store)
    with store.begin() as session:
        add_customer(session, "ANA", first_name="Ana")
        other = code_for(session=session, customer_id="ANA", now=NOW)
        record_referral(session=session, customer_id="LEO", code=maya, source="import", now=NOW)
    with store.begin() as session, pytest.raises(ReferralRefused, match="already recorded as referred"):
        record_referral(session=session, customer_id="LEO", code=other, source="conversation", now=NOW)


def test_the_reward_is_the_one_the_invitation_promises(store: sessionmaker[Session]) -> None:
    assert configured_reward() == PointsPerk(points=500)
    code = two_customers(store)
    with store.begin() as session:
        terms = referral_terms(session=session, customer_id="LEO", code=code, reward=PointsPerk(points=250))
        assert terms.reward == "250 loyalty points"


def test_forgetting_the_referrer_keeps_the_referral_in_the_figures(store: sessionmaker[Session]) -> None:
    code = two_customers(store)
    with store.begin() as session:
        record_referral(session=session, customer_id="LEO", code=code, source="import", now=NOW)
    with store.begin() as session:
        session.delete(session.get(Customer, "MAYA"))
    with store() as session:
        referral = session.scalars(select(Referral)).one()
        assert (referral.customer_id, referral.referrer_id, referral.code) == ("LEO", None, code)
        assert session.scalar(select(func.count()).select_from(ReferralCode)) == 0


def test_an_import_records_the_referrals_it_names(store: sessionmaker[Session], tmp_path: Path) -> None:
    code = two_customers(store)
    rows = [customer_row(1, referral_code=code.lower()), customer_row(2)]
    result = import_customers(session_factory=store, path=write_csv(tmp_path / "new.csv", rows))
    assert (result.created, result.updated) == (2, 0)
    again = import_customers(session_factory=store, path=write_csv(tmp_path / "again.csv", rows))
    assert again.updated == 2
    with store() as session:
        referrals = [(r.customer_id, r.referrer_id, r.source) for r in session.scalars(select(Referral))]
        assert referrals == [("T000001", "MAYA", "import")]
        account = session.get(LoyaltyAccount, "MAYA")
        assert account is not None and account.points == 800  # thanked once, although imported twice


def test_an_import_naming_an_unknown_or_own_code_is_refused_whole(store: sessionmaker[Session], tmp_path: Path) -> None:
    code = two_customers(store)
    rows = [
        customer_row(1, referral_code="LUMEN-ZZZZZZ"),
        customer_row(2, referral_code="LUMEN-12"),
        customer_row(3),
        {**customer_row(4, referral_code=code), "id": "MAYA", "email": "maya@example.com"},
    ]
    with pytest.raises(ImportValidationError) as refused:
        import_customers(session_factory=store, path=write_csv(tmp_path / "bad.csv", rows))
    problems = {(p.row, p.field): p.message for p in refused.value.problems}
    assert problems[(1, "referral_code")] == "no customer has the referral code LUMEN-ZZZZZZ"
    assert "is not a referral code" in problems[(2, "referral_code")]
    assert problems[(4, "referral_code")] == f"{code} is this customer's own code"
    with store() as session:
        assert session.get(Customer, "T000003") is None  # all or nothing
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
