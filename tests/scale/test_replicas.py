"""The scaled stack of issue 19 under traffic and faults, counted at the receiving end: sockets
on the other replica, Rasa's tracker store, the outbox and the perks granted.

Order matters (one stack for the module): the replica kill is last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.console.auth import create_user
from supportbot.console.relay import ConversationRelay
from supportbot.console.takeover import HAND_BACK_LINE, Takeover
from supportbot.identity import mint_customer_token
from supportbot.outreach.config import DEFAULT_CONFIG_PATH, load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.planner import PlanReport, insert_ignoring_duplicates, plan_batch
from supportbot.outreach.rasa_client import RasaClient
from supportbot.scaleout.services import run_services
from supportbot.scaleout.stack import ScaledStack
from supportbot.store.db import make_engine, session_factory
from supportbot.store.models import SupportInteraction
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import PerkGrant
from tests.scale.traffic import Conversation, converse, tracker_turns, turn_problems, user_message_ids
from tests.scale.widget_tabs import WidgetTab, talk
from tests.scheduler.builders import add
from tests.sio_client import SocketIOClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sessions(scaled: ScaledStack) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(scaled.database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def tracker(scaled: ScaledStack) -> Iterator[Engine]:
    engine = make_engine(scaled.tracker_url)
    yield engine
    engine.dispose()


def token(scaled: ScaledStack, customer: str) -> str:
    return mint_customer_token(customer_id=customer, secret=scaled.secrets.customer_token_secret, ttl_seconds=3600)


def tab(scaled: ScaledStack, replica: int, customer: str) -> SocketIOClient:
    """The widget of ``customer`` connected straight to one replica, its session confirmed."""
    client = SocketIOClient(scaled.replica_url(replica), auth={"customer_token": token(scaled, customer)})
    client.emit("session_request")
    assert client.wait_for("session_confirm")["verified"] is True
    client.wait_for("history")
    return client


def lock_errors(scaled: ScaledStack, *, redis_restarted: bool = False) -> list[str]:
    """Every lock problem the replicas logged: a message refused for want of a lock, or a ticket
    gone from Redis (which, unless Redis restarted, would mean a lease lapsed under a live holder)."""
    found = []
    for log in scaled.workdir.glob("rasa-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            gone = "was gone from Redis" in line
            if "LockError" in line or "Could not acquire lock" in line or (gone and not redis_restarted):
                found.append(f"{log.name}: {line}")
    return found


def replies(scaled: ScaledStack, conversations: list[Conversation], turns: int) -> list[Conversation]:
    return asyncio.run(
        converse(
            scaled.rasa_url,
            conversations,
            turns=turns,
            secret=scaled.secrets.customer_token_secret,
        )
    )


# ---------------------------------------------------------------------------
# Across replicas
# ---------------------------------------------------------------------------


def test_a_conversation_reaches_the_customers_tab_on_the_other_replica(scaled: ScaledStack) -> None:
    with tab(scaled, 0, "C000001") as typing, tab(scaled, 1, "C000001") as watching:
        seen = len(watching.events)
        typing.emit("user_uttered", {"message": "how many loyalty points do I have?"})
        assert watching.wait_for("user_echo", after=seen)["text"] == "how many loyalty points do I have?"
        answer = watching.wait_for("bot_uttered", after=seen)["text"]
        assert "points" in answer and answer == typing.wait_for("bot_uttered")["text"]


def fast_config(path: Path, *, only: tuple[str, ...] = ("birthday",)) -> Path:
    """The shipped campaigns with only ``only`` on, due at midnight, with short timeouts and backoff."""
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["send_time"] = "00:00"
    for name, campaign in data["campaigns"].items():
        campaign["enabled"] = name in only
    data["delivery"] = {
        "batch_size": 3,
        "lease_seconds": 20,
        "max_attempts": 100,
        "retry_base_seconds": 0.5,
        "retry_max_seconds": 3,
        "poll_seconds": 0.3,
        "timeouts": {"connect": 1, "read": 6, "write": 1, "pool": 1},
    }
    data["schedule"] = {"plan_every_minutes": 0.1, "deliver_every_seconds": 2}
    path.write_text(yaml.safe_dump(data))
    return path


def birthdays_today(sessions: sessionmaker[Session], ids: list[str], cfg_path: Path | None = None) -> None:
    """New customers (no quiet hours, no plan: the other tests never pick them) born today; with
    ``cfg_path``, their greetings planned into the outbox now."""
    today = dt.datetime.now(dt.UTC).date()
    with sessions.begin() as session:
        for customer in ids:
            add(session, customer, birthday=today.replace(year=1992), quiet=(dt.time(0), dt.time(0)), plan=None)
    if cfg_path is not None:
        with sessions.begin() as session:
            report = PlanReport(day=today, dry_run=False)
            rows = plan_batch(
                session=session,
                ids=ids,
                day=today,
                now=dt.datetime.now(dt.UTC),
                config=load_config(cfg_path),
                report=report,
            )
            insert_ignoring_duplicates(session, rows)
        assert report.planned["birthday"] == len(ids)


def test_a_proactive_message_reaches_a_socket_on_the_other_replica(
    scaled: ScaledStack, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cfg_path = fast_config(tmp_path / "campaigns.yml")
    birthdays_today(sessions, ["PRO0001"], cfg_path)
    cfg = load_config(cfg_path)
    with tab(scaled, 1, "PRO0001") as customer:
        seen = len(customer.events)
        # The scheduler's own delivery, talking to replica 0 only: the socket is on replica 1.
        with RasaClient(
            base_url=scaled.replica_url(0), token=scaled.secrets.api_token, timeouts=cfg.delivery.timeouts
        ) as client:
            report = Deliverer(
                sessions=sessions, client=client, config=cfg, clock=lambda: dt.datetime.now(dt.UTC)
            ).deliver_all_due()
        assert (report.sent, report.failed) == (1, 0)
        greeting = customer.wait_for("bot_uttered", after=seen)
        assert "birthday" in greeting["text"].lower()


def test_an_agents_reply_reaches_the_customers_socket_on_the_other_replica(
    scaled: ScaledStack, sessions: sessionmaker[Session], tracker: Engine
) -> None:
    """Issue 17's takeover in the scaled mode: the console's relay reaches replica 0 only, the
    customer's widget is connected to replica 1; the agent's join, message and hand-back reach it
    (socket.io's Redis manager), with the agent's name, and the bot stays quiet in between."""
    customer = "C000250"  # no other test of this module talks as this customer
    with sessions.begin() as session:
        agent = create_user(
            session=session, email="ana.scaled@lumen.example", role="agent", password="correct horse battery staple"
        )
        agent.display_name = "Ana"
        session.flush()
        agent_id = agent.id
    takeover = Takeover(
        sessions=sessions,
        relay=ConversationRelay(base_url=scaled.replica_url(0), token=scaled.secrets.api_token),
    )
    conversation = f"cust:{customer}:web"
    with tab(scaled, 1, customer) as widget:
        seen = len(widget.events)
        widget.emit("user_uttered", {"message": "I'd like to talk to a person please"})
        assert "support team" in widget.wait_for("bot_uttered", after=seen)["text"]
        with sessions() as session:
            handoff = session.scalar(
                select(SupportInteraction).where(
                    SupportInteraction.conversation_id == conversation, SupportInteraction.kind == "handoff"
                )
            )
            assert handoff is not None and (handoff.status, handoff.channel) == ("open", "socketio")
            handoff_id = handoff.id

        seen = len(widget.events)
        takeover.claim(handoff_id, agent_id)
        joined = widget.wait_for("bot_uttered", after=seen)
        assert joined["text"] == "Ana from support joined the conversation."
        assert joined["agent"] == {"name": "Ana", "event": "joined"}

        seen = len(widget.events)
        widget.emit("user_uttered", {"message": "my sync stopped working"})
        wait_until(
            lambda: "my sync stopped working" in [t for t, _ in tracker_turns(tracker, conversation)],
            timeout=120,
            what="the customer's message in the paused conversation",
        )
        takeover.reply(handoff_id, agent_id, "Hi, I'm looking at your account now.")
        reply = widget.wait_for("bot_uttered", after=seen)
        assert reply["text"] == "Hi, I'm looking at your account now."  # the bot said nothing before it
        assert reply["agent"] == {"name": "Ana", "event": "message"}

        seen = len(widget.events)
        takeover.hand_back(handoff_id, agent_id)
        deadline = time.monotonic() + 60
        while HAND_BACK_LINE not in [d.get("text") for n, d in widget.events[seen:] if n == "bot_uttered"]:
            assert time.monotonic() < deadline, f"the hand-back never reached the widget: {widget.events[seen:]}"
            widget.pump(1)
        left = widget.wait_for("bot_uttered", after=seen)
        assert left["agent"] == {"name": "Ana", "event": "left"}
    by_agent = [
        e
        for _, events in tracker_turns(tracker, conversation)
        for e in events
        if e.get("event") == "bot" and (e.get("metadata") or {}).get("agent")
    ]
    assert [e["text"] for e in by_agent][:2] == [
        "Ana from support joined the conversation.",
        "Hi, I'm looking at your account now.",
    ]
    (while_paused,) = [
        events for message, events in tracker_turns(tracker, conversation) if message == "my sync stopped working"
    ]
    paused = list(itertools.takewhile(lambda e: e.get("event") != "resume", while_paused))
    spoken = [e for e in paused if e.get("event") == "bot"]
    assert spoken and all((e.get("metadata") or {}).get("agent") for e in spoken)  # only Ana spoke until the resume
    assert [e.get("text") for e in while_paused if e.get("event") == "bot"][-1] == HAND_BACK_LINE


def test_two_replicas_take_turns_on_one_conversation(scaled: ScaledStack, tracker: Engine) -> None:
    """Each round sends one message of a conversation to each replica at the same moment: the
    lock store must make one wait for the other (Rasa's own races across servers, rasa#9213)."""
    customers = [f"C{n:06d}" for n in range(20, 28)]
    rounds = 10

    async def run() -> None:
        async with httpx.AsyncClient(timeout=180) as client:

            async def say(replica: int, customer: str, text: str) -> None:
                response = await client.post(
                    f"{scaled.replica_url(replica)}/webhooks/rest/webhook",
                    json={"sender": "both", "message": text, "metadata": {"customer_token": token(scaled, customer)}},
                )
                assert response.status_code == 200 and response.json(), response.text

            for _ in range(rounds):
                await asyncio.gather(
                    *(say(0, c, "hello") for c in customers), *(say(1, c, "what plan am I on?") for c in customers)
                )

    asyncio.run(run())
    for customer in customers:
        turns = tracker_turns(tracker, f"cust:{customer}:both")
        assert Counter(t for t, _ in turns) == {"hello": rounds, "what plan am I on?": rounds}
        for message, events in turns:  # one turn at a time: each ends listening before the next begins
            assert events and events[-1].get("name") == "action_listen", (customer, message, events)
            assert any(e.get("event") == "bot" for e in events), (customer, message)
    assert lock_errors(scaled) == []


def test_64_conversations_of_50_turns_across_both_replicas(scaled: ScaledStack, tracker: Engine) -> None:
    access = scaled.workdir / "nginx" / "access.log"
    before = len(access.read_text().splitlines()) if access.exists() else 0
    conversations = [Conversation(customer=f"C{n % 300 + 1:06d}", sender=f"load-{n}") for n in range(64)]
    replies(scaled, conversations, turns=50)
    assert [f for c in conversations for f in c.failures] == []
    problems = [p for c in conversations for p in turn_problems(tracker, c)]
    assert problems == [], problems[:10]
    assert sum(len(c.sent) for c in conversations) == 64 * 50
    assert lock_errors(scaled) == []
    time.sleep(2)  # nginx flushes its access log every second
    served = Counter(
        line.split()[0] for line in access.read_text().splitlines()[before:] if line.endswith("/webhooks/rest/webhook")
    )
    assert len(served) == 2 and min(served.values()) > 0.3 * 64 * 50, served  # both replicas did a fair share


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def test_after_a_redis_restart_the_replicas_recover_without_restarting(scaled: ScaledStack, tracker: Engine) -> None:
    with tab(scaled, 0, "C000003") as typing, tab(scaled, 1, "C000003") as watching:
        conversations = [Conversation(customer=f"C{n:06d}", sender=f"redis-{n}") for n in range(40, 48)]
        talking = threading.Thread(target=replies, args=(scaled, conversations, 12))
        talking.start()
        time.sleep(2)
        run_services("restart", "redis", timeout=120)
        talking.join(timeout=600)
        assert not talking.is_alive()
        # Conversations carried on through the restart: the lock store retried and reconnected.
        assert [p for c in conversations for p in turn_problems(tracker, c)] == []
        # The socket.io queue resubscribes by itself: a message typed on one replica reaches the other tab again.
        deadline = time.monotonic() + 120
        while True:
            seen = len(watching.events)
            typing.emit("user_uttered", {"message": "hello"})
            try:
                watching.wait_for("bot_uttered", after=seen, timeout=5)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "the other replica's sockets never got messages again"
    assert all(scaled.servers[f"rasa-{n}"].process.poll() is None for n in (0, 1))  # nobody restarted
    assert lock_errors(scaled, redis_restarted=True) == []


def outcome(
    sessions: sessionmaker[Session], tracker: Engine, prefix: str
) -> tuple[Counter[str], Counter[int], Counter[int]]:
    """(outbox statuses, rendered bot messages per row in Rasa's tracker store, perks granted per row)
    for the customers whose ids start with ``prefix``."""
    with sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id.startswith(prefix))))
        grants = Counter(
            outbox_id
            for (outbox_id,) in session.execute(
                select(PerkGrant.outbox_id).where(PerkGrant.customer_id.startswith(prefix))
            )
        )
    shown: Counter[int] = Counter()
    for conversation in {r.conversation_id for r in rows}:
        for _, events in tracker_turns(tracker, conversation):
            for event in events:
                if event.get("event") == "bot" and (outbox_id := (event.get("metadata") or {}).get("outbox_id")):
                    shown[int(outbox_id)] += 1
    return Counter(r.status for r in rows), shown, Counter({r.id: grants[r.id] for r in rows})


def widget_problems(tracker: Engine, tabs: list[WidgetTab]) -> None:
    """Each tab's messages in its conversation once, in the order typed, acknowledged (or found in the
    history after a reconnect); and the kill hit at least one of them in flight."""
    for tab in tabs:
        assert tab.problems == []
        ids = user_message_ids(tracker, tab.conversation_id)
        assert ids == [message_id for message_id, _ in tab.sent], (tab.customer, tab.resent, tab.dropped)
        statuses = {tab.acks[i]["status"] for i in tab.acks}
        assert statuses <= {"handled", "duplicate"}, (tab.customer, tab.acks)
        assert set(tab.acks) | set(tab.dropped) == set(ids)
    print(
        f"widget tabs: {sum(len(t.sent) for t in tabs)} messages, {sum(t.reconnects for t in tabs)} connections lost "
        f"under a message, {sum(len(t.resent) for t in tabs)} sent again, {sum(len(t.dropped) for t in tabs)} "
        "found in the history instead"
    )
    assert sum(t.reconnects for t in tabs) >= 1, "the kill hit no widget message in flight: the test proved nothing"


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_postgresql_restarted_during_delivery_loses_and_doubles_nothing(
    scaled: ScaledStack, sessions: sessionmaker[Session], tracker: Engine, tmp_path: Path
) -> None:
    ids = [f"PGR{n:04d}" for n in range(40)]
    cfg_path = fast_config(tmp_path / "campaigns.yml")
    birthdays_today(sessions, ids, cfg_path)
    names = [f"deliver-pg-{n}" for n in (1, 2)]
    for name in names:
        scaled.start_scheduler(name, "--config", str(cfg_path), "deliver", supervise=True)
    supervising = scaled.watching()
    try:
        wait_until(lambda: outcome(sessions, tracker, "PGR")[0]["sent"] >= 5, timeout=300, what="the first greetings")
        run_services("restart", "postgres", timeout=300)
        wait_until(lambda: outcome(sessions, tracker, "PGR")[0]["sent"] == 40, timeout=600, what="every greeting")
    finally:
        supervising.set()
        for name in names:
            scaled.unsupervise(name)
            scaled.servers[name].stop(timeout=30)
    statuses, shown, grants = outcome(sessions, tracker, "PGR")
    assert statuses == {"sent": 40}
    assert set(shown.values()) == {1} and len(shown) == 40  # each in its conversation once
    assert set(grants.values()) == {1}  # each birthday's points granted once


def test_two_planners_started_by_mistake_still_send_every_message_once(
    scaled: ScaledStack, sessions: sessionmaker[Session], tracker: Engine, tmp_path: Path
) -> None:
    ids = [f"TWO{n:04d}" for n in range(20)]
    cfg_path = fast_config(tmp_path / "campaigns.yml")
    birthdays_today(sessions, ids)  # not planned: the two schedulers plan them
    schedulers = [scaled.start_scheduler(f"scheduler-{n}", "--config", str(cfg_path), "run") for n in (1, 2)]
    try:
        wait_until(lambda: outcome(sessions, tracker, "TWO")[0]["sent"] == 20, timeout=600, what="every greeting")
        time.sleep(15)  # both keep planning every 6 s: nothing new may appear
    finally:
        for scheduler in schedulers:
            scheduler.stop(timeout=30)
    statuses, shown, grants = outcome(sessions, tracker, "TWO")
    assert statuses == {"sent": 20}
    assert set(shown.values()) == {1} and len(shown) == 20
    assert set(grants.values()) == {1}
    with sessions() as session:
        keys = session.scalar(
            select(func.count(OutboxMessage.idempotency_key.distinct())).where(
                OutboxMessage.customer_id.startswith("TWO")
            )
        )
    assert keys == 20


def test_kill_9_of_a_replica_mid_conversation_the_other_carries_on(scaled: ScaledStack, tracker: Engine) -> None:
    """REST clients through nginx, and widget tabs connected to the replica that is killed
    (tests/scale/widget_tabs.py: they reconnect to the other one and send again what was not
    acknowledged, with its id): every message in its conversation once."""
    conversations = [Conversation(customer=f"C{n:06d}", sender=f"kill-{n}") for n in range(100, 116)]
    progress = [0]
    tabs = [WidgetTab(customer=f"C{n:06d}") for n in range(120, 123)]
    typed, typed_lock = [0], threading.Lock()
    killed_at: list[float] = []

    def kill_when_under_way() -> None:
        wait_until(
            lambda: progress[0] >= 16 * 8 and typed[0] >= 3 * 3, timeout=600, what="the conversations to get going"
        )
        scaled.kill("rasa-1")
        killed_at.append(time.monotonic())

    def keep_typing() -> bool:
        return not killed_at or time.monotonic() < killed_at[0] + 20

    widgets = [
        threading.Thread(
            target=talk,
            args=(tab, [scaled.replica_url(1), scaled.replica_url(0)], lambda c=tab.customer: token(scaled, c)),
            kwargs={"keep_on": keep_typing, "progress": typed, "lock": typed_lock},
        )
        for tab in tabs
    ]
    for widget in widgets:
        widget.start()
    killer = threading.Thread(target=kill_when_under_way)
    killer.start()
    asyncio.run(
        converse(
            scaled.rasa_url,
            conversations,
            turns=24,
            secret=scaled.secrets.customer_token_secret,
            progress=progress,
        )
    )
    killer.join(timeout=60)
    for widget in widgets:
        widget.join(timeout=900)
    assert scaled.servers["rasa-1"].process.returncode == -9
    widget_problems(tracker, tabs)
    problems = [p for c in conversations for p in turn_problems(tracker, c)]
    # A resend answered from the tracker (its first attempt had been handled): logged by the replica.
    replayed = [
        line
        for log in scaled.workdir.glob("rasa-*.log")
        for line in log.read_text(errors="replace").splitlines()
        if "already handled; answering it from the tracker" in line and ":kill-" in line
    ]
    print(f"failed attempts {sum(len(c.failures) for c in conversations)}, answered from the tracker {len(replayed)}")
    if problems:  # the whole story, for whoever reads the failure
        story = [f"{c.conversation_id}: failures {c.failures}" for c in conversations]
        (scaled.workdir / "kill-problems.txt").write_text("\n".join([*problems, *story, *replayed]) + "\n")
    assert problems == [], f"{len(problems)} problems; first: {problems[0][:2000]}; all in {scaled.workdir}"
    # every message in its conversation once, in order, with the id it was sent with, and the
    # answer the client got is the one in the tracker (a resend's too)
    assert sum(len(c.sent) for c in conversations) == 16 * 24
    failed = sum(len(c.failures) for c in conversations)
    assert failed >= 1, "the kill hit no request in flight: the test proved nothing"
    # Each conversation's first message sent again with its id (handled before the kill, by either
    # replica): answered from the tracker with what the client got then, and nothing added.
    with httpx.Client(timeout=180) as client:
        for c in conversations:
            before = tracker_turns(tracker, c.conversation_id)
            body = c.request(0, token(scaled, c.customer))
            again = client.post(f"{scaled.rasa_url}/webhooks/rest/webhook", json=body)
            assert again.status_code == 200 and again.json() == c.answers[0], (c.conversation_id, again.text)
            assert tracker_turns(tracker, c.conversation_id) == before
