"""The demo's two years of history: the same bytes every time, only the past, consistent with itself,
and conversations that are the real dialogue's (every intent, action, slot, form and bot text checked
against domain.yml and the rules in data/rules)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions.preferences import KIND_NAMES
from supportbot.settings import PROJECT_ROOT
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data
from supportbot.store.demo_dialogues import KIND_NAMES as DEMO_KIND_NAMES
from supportbot.store.demo_history import load_demo_history
from supportbot.store.demo_texts import THEMES
from supportbot.store.demo_tracker import fill
from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, PromoterInvitation
from supportbot.store.growth_models import Referral, ReferralCode
from supportbot.store.models import Customer, LoyaltyAccount, Order, SupportInteraction
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import LoyaltyLedgerEntry
from tests.console.builders import RASA_EVENTS_DDL
from tests.factories import migrated_store

REF = dt.date(2026, 12, 1)
MIDNIGHT = dt.datetime.combine(REF, dt.time(), dt.UTC)
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
BUILT_IN_ACTIONS = {"action_listen", "action_session_start", "action_default_fallback"}
BUILT_IN_SLOTS = {"requested_slot", "session_started_metadata"}


def build(folder: Path) -> tuple[str, str]:
    """A demo store with its history, and its tracker store; their URLs."""
    url = migrated_store(folder / "support.db", catalogue=False)
    tracker_url = f"sqlite:///{folder / 'tracker.db'}"
    engine, tracker = make_engine(url), make_engine(tracker_url)
    try:
        sessions = session_factory(engine)
        assert load_demo_data(session_factory=sessions, reference_date=REF) == 300
        report = load_demo_history(session_factory=sessions, tracker_engine=tracker, reference_date=REF)
        assert report is not None and report.conversations > 1000
    finally:
        engine.dispose()
        tracker.dispose()
    return url, tracker_url


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return build(tmp_path_factory.mktemp("history"))


@pytest.fixture
def sessions(demo: tuple[str, str]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(demo[0])
    yield session_factory(engine)
    engine.dispose()


def events(demo: tuple[str, str]) -> list[tuple[int, str, str, float, dict[str, Any]]]:
    connection = sqlite3.connect(demo[1].removeprefix("sqlite:///"))
    try:
        rows = connection.execute("SELECT id, sender_id, type_name, timestamp, data FROM events ORDER BY id").fetchall()
    finally:
        connection.close()
    return [(i, s, t, ts, json.loads(data)) for i, s, t, ts, data in rows]


def dump(path: str) -> list[str]:
    connection = sqlite3.connect(path.removeprefix("sqlite:///"))
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_same_reference_date_gives_byte_identical_stores(demo: tuple[str, str], tmp_path: Path) -> None:
    again = build(tmp_path)
    assert dump(again[0]) == dump(demo[0])
    assert dump(again[1]) == dump(demo[1])


def test_the_tracker_table_is_the_one_rasa_creates(demo: tuple[str, str]) -> None:
    connection = sqlite3.connect(demo[1].removeprefix("sqlite:///"))
    try:
        ddl = [row[0] for row in connection.execute("SELECT sql FROM sqlite_master ORDER BY name")]
    finally:
        connection.close()
    normalise = " ".join
    assert sorted(normalise(d.split()) for d in ddl) == sorted(normalise(d.split()) for d in RASA_EVENTS_DDL)


def test_only_the_past(demo: tuple[str, str], sessions: sessionmaker[Session]) -> None:
    assert max(ts for _, _, _, ts, _ in events(demo)) < MIDNIGHT.timestamp()
    with sessions() as session:
        for column in (
            Feedback.created_at,
            SupportInteraction.created_at,
            OutboxMessage.sent_at,
            OutboxMessage.not_before,
            Referral.recorded_at,
            PromoterInvitation.created_at,
        ):
            latest = session.scalar(select(func.max(column)))
            assert latest is not None and latest < MIDNIGHT, column


def test_conversations_use_only_what_the_domain_has(demo: tuple[str, str]) -> None:
    intents = set(DOMAIN["intents"]) | {"nlu_fallback"}
    actions = set(DOMAIN["actions"]) | set(DOMAIN["responses"]) | set(DOMAIN["forms"]) | BUILT_IN_ACTIONS
    slots = set(DOMAIN["slots"]) | BUILT_IN_SLOTS
    seen: Counter[str] = Counter()
    for _, _, kind, _, event in events(demo):
        seen[kind] += 1
        if kind == "user":
            assert event["parse_data"]["intent"]["name"] in intents, event
        elif kind == "action":
            assert event["name"] in actions, event
        elif kind == "slot":
            assert event["name"] in slots, event
        elif kind == "active_loop":
            assert event["name"] is None or event["name"] in DOMAIN["forms"], event
    assert set(seen) == {"action", "session_started", "slot", "user", "user_featurization", "bot", "active_loop"}


def rendered(name: str, values: dict[str, Any]) -> list[tuple[str, list[dict[str, str]]]]:
    out = []
    for variation in DOMAIN["responses"][name]:
        buttons = [{"title": fill(b["title"], values), "payload": b["payload"]} for b in variation.get("buttons") or []]
        out.append((fill(variation["text"], values), buttons))
    return out


def test_every_bot_message_from_a_response_is_that_response_filled_in(demo: tuple[str, str]) -> None:
    checked = 0
    for _, _, kind, _, event in events(demo):
        if kind != "bot" or "utter_action" not in event["metadata"]:
            continue
        name = event["metadata"]["utter_action"]
        buttons = (event["data"] or {}).get("buttons") or []
        opt_out = [b for b in buttons if b["payload"].startswith("/opt_out")]
        own = [b for b in buttons if b not in opt_out]
        assert (event["text"], own) in rendered(name, event["metadata"]), event
        assert "{" not in event["text"], event  # no placeholder left unfilled
        for button in opt_out:  # the one action_deliver_outreach adds (actions/outreach.py)
            kind_ = json.loads(button["payload"].removeprefix("/opt_out"))["outreach_kind"]
            assert button["title"] == f"Stop {KIND_NAMES[kind_]}"
        checked += 1
    assert checked > 5000


def rule_pairs() -> dict[str, set[str]]:
    """intent → the actions a rule in data/rules runs right after it."""
    pairs: dict[str, set[str]] = defaultdict(set)
    for path in sorted((PROJECT_ROOT / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", []):
            steps = rule.get("steps", [])
            for step, after in itertools.pairwise(steps):
                if "intent" in step and "action" in after:
                    pairs[step["intent"]].add(after["action"])
    return pairs


def test_outside_forms_each_message_is_answered_by_the_action_its_rule_names(demo: tuple[str, str]) -> None:
    pairs, checked = rule_pairs(), 0
    stream = events(demo)
    loop: dict[str, str | None] = {}
    for index, (_, sender, kind, _, event) in enumerate(stream):
        if kind == "active_loop":
            loop[sender] = event["name"]
        if kind != "user" or loop.get(sender):
            continue
        intent = event["parse_data"]["intent"]["name"]
        following = next(e for _, s, k, _, e in stream[index + 1 :] if s == sender and k == "action")
        if intent in pairs:
            assert following["name"] in pairs[intent] | {"action_answer_question"}, (intent, following)
            checked += 1
    assert checked > 1000


def test_the_stop_buttons_say_what_the_real_action_says() -> None:
    assert {k: v for k, v in KIND_NAMES.items() if k != "all"} == DEMO_KIND_NAMES


def test_every_sent_message_is_in_its_conversation_with_its_outbox_id(
    demo: tuple[str, str], sessions: sessionmaker[Session]
) -> None:
    shown = {
        (sender, event["metadata"]["outbox_id"])
        for _, sender, kind, _, event in events(demo)
        if kind == "bot" and "outbox_id" in event["metadata"]
    }
    with sessions() as session:
        sent = {
            (r.conversation_id, str(r.id))
            for r in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent"))
        }
        skipped = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == "skipped")))
    assert sent == shown and len(sent) > 1000
    assert skipped and all(r.skip_reason and r.skip_reason.startswith("consent withdrawn for") for r in skipped)
    assert {r.campaign for r in skipped} <= {"birthday", "anniversary", "renewal_reminder", "usage_tip"}


def test_ratings_texts_and_themes_a_console_can_chart(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        kinds = Counter(session.scalars(select(Feedback.kind)))
        texts = list(session.scalars(select(Feedback.text).where(Feedback.kind == "text")))
        last_month = session.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.created_at >= MIDNIGHT - dt.timedelta(days=30))
        )
        follow_ups = list(session.scalars(select(FeedbackFollowUp)))
        nps_gaps = session.execute(
            select(Feedback.customer_id, Feedback.created_at)
            .where(Feedback.kind == "nps")
            .order_by(Feedback.created_at)
        ).all()
    assert kinds["csat"] > 300 and kinds["nps"] > 80 and kinds["text"] > 200
    assert last_month and last_month > 30
    by_theme = Counter(theme for text in texts for theme, variants in THEMES.items() if text in variants)
    assert sum(by_theme.values()) == len(texts) and len(by_theme) == len(THEMES) and min(by_theme.values()) >= 10
    assert follow_ups and {f.status for f in follow_ups} <= {"open", "done"}
    last: dict[str, dt.datetime] = {}
    for customer, at in nps_gaps:  # NPS at most every 90 days, as the real rule asks
        assert customer not in last or (at - last[customer]).days >= 89, customer
        last[customer] = at


def test_referrals_codes_and_the_referrers_points_add_up(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        referrals = list(session.scalars(select(Referral)))
        codes = {c.customer_id: c.code for c in session.scalars(select(ReferralCode))}
        assert len(referrals) >= 10 and {r.source for r in referrals} == {"import", "conversation"}
        for referral in referrals:
            assert referral.referrer_id is not None and codes[referral.referrer_id] == referral.code
            friend = session.get(Customer, referral.customer_id)
            assert friend is not None and referral.recorded_at.date() >= friend.customer_since
        for account in session.scalars(select(LoyaltyAccount)):
            ledger = session.scalar(
                select(func.sum(LoyaltyLedgerEntry.points)).where(LoyaltyLedgerEntry.customer_id == account.customer_id)
            )
            if ledger is not None:
                assert ledger == account.points, account.customer_id


def test_earlier_orders_over_two_years_with_unique_numbers(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        orders = list(session.scalars(select(Order)))
        refs = [o.order_ref for o in orders]
        assert len(refs) == len(set(refs)) and len(orders) > 600
        assert min(o.placed_at for o in orders) < MIDNIGHT - dt.timedelta(days=600)
        assert all(o.total_cents == sum(i.quantity * i.unit_price_cents for i in o.items) for o in orders)


def test_history_is_loaded_once_and_only_onto_the_demo(tmp_path: Path) -> None:
    url = migrated_store(tmp_path / "support.db")
    engine, tracker = make_engine(url), make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    try:
        sessions = session_factory(engine)
        with sessions.begin() as session:  # a real customer, no demo mark
            session.add(
                Customer(id="X1", first_name="Real", last_name="Person", email="x@example.com", customer_since=REF)
            )
        assert load_demo_history(session_factory=sessions, tracker_engine=tracker, reference_date=REF) is None
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Feedback)) == 0
    finally:
        engine.dispose()
        tracker.dispose()


def test_loading_the_history_again_adds_nothing(demo: tuple[str, str]) -> None:
    engine, tracker = make_engine(demo[0]), make_engine(demo[1])
    before = len(events(demo))
    try:
        again = load_demo_history(session_factory=session_factory(engine), tracker_engine=tracker, reference_date=REF)
    finally:
        engine.dispose()
        tracker.dispose()
    assert again is None and len(events(demo)) == before
