"""Recording feedback on a real SQLite file: ratings, texts, NPS frequency, follow-ups, invitations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.feedback import store
from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, PromoterInvitation
from supportbot.store.models import Customer
from tests.feedback.conftest import BracketRedactor

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _nps(session: Session, *, customer_id: str, at: dt.datetime, rating: int | None = 9) -> None:
    if rating is None:
        store.record_skip(
            session=session,
            conversation_id=f"conv-{at:%j}",
            channel="web",
            kind="nps",
            prompted_by="nps_survey",
            customer_id=customer_id,
            now=at,
        )
    else:
        store.record_rating(
            session=session,
            conversation_id=f"conv-{at:%j}",
            channel="web",
            kind="nps",
            rating=rating,
            prompted_by="nps_survey",
            customer_id=customer_id,
            now=at,
        )


def test_rating_is_stored_with_its_context(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        recorded = store.record_rating(
            session=session,
            conversation_id="cust:C1:abc",
            channel="web",
            kind="csat",
            rating=2,
            prompted_by="resolution",
            customer_id="C1",
            now=NOW,
        )
    assert recorded.segment == "detractor"
    with sessions() as session:
        row = session.get(Feedback, recorded.feedback_id)
        assert row is not None
        assert (row.customer_id, row.conversation_id, row.channel, row.kind, row.rating, row.prompted_by) == (
            "C1",
            "cust:C1:abc",
            "web",
            "csat",
            2,
            "resolution",
        )
        assert row.created_at == NOW


def test_anonymous_rating_has_no_customer(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        recorded = store.record_rating(
            session=session, conversation_id="anon:x", channel="web", kind="nps", rating=10, prompted_by="nps_survey"
        )
        assert recorded.segment == "promoter"
        assert session.get(Feedback, recorded.feedback_id).customer_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("kind", "rating"), [("csat", 0), ("csat", 6), ("nps", 11), ("nps", -1)])
def test_out_of_range_rating_is_refused(sessions: sessionmaker[Session], kind: str, rating: int) -> None:
    with sessions.begin() as session, pytest.raises(InvalidRequestError):
        store.record_rating(
            session=session,
            conversation_id="c",
            channel="web",
            kind=kind,
            rating=rating,  # type: ignore[arg-type]
            prompted_by="resolution",
        )


def test_unknown_prompt_and_unknown_customer_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        with pytest.raises(InvalidRequestError):
            store.record_rating(
                session=session, conversation_id="c", channel="web", kind="csat", rating=3, prompted_by="because"
            )
        with pytest.raises(NotFoundError):
            store.record_rating(
                session=session,
                conversation_id="c",
                channel="web",
                kind="csat",
                rating=3,
                prompted_by="resolution",
                customer_id="NOPE",
            )


def test_text_is_stored_raw_and_redacted(sessions: sessionmaker[Session], redactor: BracketRedactor) -> None:
    with sessions.begin() as session:
        feedback_id = store.record_text(
            session=session,
            conversation_id="c",
            channel="telegram",
            text="  your app keeps logging me out ",
            prompted_by="volunteered",
            redactor=redactor,
            customer_id="C2",
        )
    with sessions() as session:
        row = session.get(Feedback, feedback_id)
        assert row is not None
        assert row.kind == "text"
        assert row.text == "your app keeps logging me out"
        assert row.text_redacted == "<your app keeps logging me out>"
        assert row.theme_id is None


def test_empty_text_is_refused(sessions: sessionmaker[Session], redactor: BracketRedactor) -> None:
    with sessions.begin() as session, pytest.raises(InvalidRequestError):
        store.record_text(
            session=session, conversation_id="c", channel="web", text="  ", prompted_by="volunteered", redactor=redactor
        )


def test_nps_due_for_a_customer_never_asked(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert store.nps_due(session=session, customer_id="C1", now=NOW, every_days=90)


@pytest.mark.parametrize(("days_ago", "due"), [(1, False), (89, False), (90, True), (200, True)])
def test_nps_at_most_once_per_90_days(sessions: sessionmaker[Session], days_ago: int, due: bool) -> None:
    with sessions.begin() as session:
        _nps(session, customer_id="C1", at=NOW - dt.timedelta(days=days_ago))
    with sessions() as session:
        assert store.nps_due(session=session, customer_id="C1", now=NOW, every_days=90) is due
        assert store.nps_due(session=session, customer_id="C2", now=NOW, every_days=90)  # others unaffected


def test_a_skipped_nps_survey_counts_as_asked(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _nps(session, customer_id="C1", at=NOW - dt.timedelta(days=10), rating=None)
    with sessions() as session:
        assert not store.nps_due(session=session, customer_id="C1", now=NOW, every_days=90)
        assert store.nps_due(session=session, customer_id="C1", now=NOW, every_days=7)


def test_nps_due_looks_at_the_latest_survey(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _nps(session, customer_id="C1", at=NOW - dt.timedelta(days=300))
        _nps(session, customer_id="C1", at=NOW - dt.timedelta(days=30))
    with sessions() as session:
        assert not store.nps_due(session=session, customer_id="C1", now=NOW, every_days=90)


def test_csat_never_twice_in_one_conversation(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert not store.rated_in_conversation(session=session, conversation_id="c1", kind="csat")
        store.record_rating(
            session=session, conversation_id="c1", channel="web", kind="csat", rating=5, prompted_by="resolution"
        )
        assert store.rated_in_conversation(session=session, conversation_id="c1", kind="csat")
        assert not store.rated_in_conversation(session=session, conversation_id="c1", kind="nps")
        assert not store.rated_in_conversation(session=session, conversation_id="c2", kind="csat")


def test_detractor_follow_up_lifecycle(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first = store.record_rating(
            session=session,
            conversation_id="a",
            channel="web",
            kind="nps",
            rating=3,
            prompted_by="nps_survey",
            customer_id="C1",
            now=NOW,
        )
        second = store.record_rating(
            session=session,
            conversation_id="b",
            channel="web",
            kind="csat",
            rating=1,
            prompted_by="handoff_closed",
            customer_id="C2",
            now=NOW,
        )
        one = store.open_follow_up(session=session, feedback_id=first.feedback_id, reason="NPS 3", now=NOW)
        again = store.open_follow_up(session=session, feedback_id=first.feedback_id, reason="twice", now=NOW)
        two = store.open_follow_up(session=session, feedback_id=second.feedback_id, now=NOW + dt.timedelta(hours=1))
    assert one == again
    with sessions.begin() as session:
        queue = store.open_follow_ups(session=session)
        assert [(f.id, f.customer_id, f.rating, f.reason) for f in queue] == [
            (one, "C1", 3, "NPS 3"),
            (two, "C2", 1, ""),
        ]
        done = store.mark_follow_up_done(
            session=session,
            follow_up_id=one,
            done_by="lead@example.com",
            note="called back",
            now=NOW + dt.timedelta(days=1),
        )
        assert (done.status, done.done_by, done.done_at) == ("done", "lead@example.com", NOW + dt.timedelta(days=1))
    with sessions.begin() as session:
        assert [f.id for f in store.open_follow_ups(session=session)] == [two]
        store.mark_follow_up_done(session=session, follow_up_id=one, done_by="someone else")
        row = session.get(FeedbackFollowUp, one)
        assert row is not None and row.done_by == "lead@example.com"
        with pytest.raises(NotFoundError):
            store.mark_follow_up_done(session=session, follow_up_id=999, done_by="x")
        with pytest.raises(NotFoundError):
            store.open_follow_up(session=session, feedback_id=999)


def test_promoter_invitation_is_recorded(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rated = store.record_rating(
            session=session,
            conversation_id="p",
            channel="web",
            kind="nps",
            rating=10,
            prompted_by="nps_survey",
            customer_id="C1",
        )
        yes = store.record_promoter_invitation(
            session=session, customer_id="C1", accepted=True, feedback_id=rated.feedback_id, now=NOW
        )
        no = store.record_promoter_invitation(session=session, customer_id="C2", accepted=False)
        with pytest.raises(NotFoundError):
            store.record_promoter_invitation(session=session, customer_id="NOPE", accepted=True)
    with sessions() as session:
        rows = {r.id: r for r in session.scalars(select(PromoterInvitation))}
        assert (rows[yes].customer_id, rows[yes].accepted, rows[yes].programme) == ("C1", True, "advisory_beta")
        assert rows[no].accepted is False


def test_deleting_a_customer_deletes_their_feedback(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rated = store.record_rating(
            session=session,
            conversation_id="d",
            channel="web",
            kind="csat",
            rating=1,
            prompted_by="resolution",
            customer_id="C1",
        )
        store.open_follow_up(session=session, feedback_id=rated.feedback_id)
    with sessions.begin() as session:
        session.delete(session.get(Customer, "C1"))
    with sessions() as session:
        assert session.scalars(select(Feedback)).all() == []
        assert session.scalars(select(FeedbackFollowUp)).all() == []
