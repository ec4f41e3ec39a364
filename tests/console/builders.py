"""Realistic data for console tests: Rasa tracker events as Rasa 3.6's SQL tracker store writes them,
and a small world of customers, conversations, feedback and outreach around them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, FeedbackTheme, ThemeQuote
from supportbot.store.models import ChannelIdentity, Consent, Customer, LinkAttempt, SupportInteraction
from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent
from tests.factories import add_customer, add_order

# The DDL Rasa 3.6's SQLTrackerStore creates on SQLite (copied from a tracker.db it made).
RASA_EVENTS_DDL = (
    "CREATE TABLE events (id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
    "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))",
    "CREATE INDEX ix_events_sender_id ON events (sender_id)",
)
MODEL_META = {"model_id": "5c2f0fc5af2b429b9eda422317bf967f", "assistant_id": "lumen-support"}
XSS_TEXT = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    '<svg onload="window.__pwned = 3"></svg>"><b>bold</b> my order never came'
)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


# The same table as Rasa 3.6 creates it on PostgreSQL (its sequence is ``optional``: PostgreSQL
# gets SERIAL; compiled from Rasa's own SQLEvent columns with the PostgreSQL dialect).
RASA_EVENTS_DDL_POSTGRESQL = (
    "CREATE TABLE events (id SERIAL NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
    "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))",
    "CREATE INDEX ix_events_sender_id ON events (sender_id)",
)


def create_tracker(engine: Engine) -> None:
    ddl = RASA_EVENTS_DDL_POSTGRESQL if engine.dialect.name == "postgresql" else RASA_EVENTS_DDL
    with engine.begin() as connection:
        for statement in ddl:
            connection.execute(text(statement))


@dataclass
class Conversation:
    """Appends events to one conversation, with timestamps moving on one second per event."""

    engine: Engine
    sender_id: str
    at: dt.datetime
    channel: str = "rest"
    verified: bool = True
    rows: list[dict[str, Any]] = field(default_factory=list)

    def _add(
        self, type_name: str, data: dict[str, Any], *, intent: str | None = None, action: str | None = None
    ) -> None:
        self.at += dt.timedelta(seconds=1)
        ts = self.at.timestamp()
        event = {"event": type_name, "timestamp": ts, "metadata": dict(MODEL_META), **data}
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": type_name,
                "timestamp": ts,
                "intent_name": intent,
                "action_name": action,
                "data": json.dumps(event),
            }
        )

    def start(self) -> Conversation:
        self._add(
            "action", {"name": "action_session_start", "policy": None, "confidence": 1.0}, action="action_session_start"
        )
        self._add("session_started", {})
        self.slot("session_started_metadata", {"verified": self.verified})
        return self.listen()

    def listen(self) -> Conversation:
        self._add("action", {"name": "action_listen", "policy": None, "confidence": None}, action="action_listen")
        return self

    def user(
        self, text_: str, intent: str, confidence: float = 0.93, entities: list[dict[str, Any]] | None = None
    ) -> Conversation:
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "text": text_,
            "message_id": "m" + str(len(self.rows)),
            "metadata": {"verified": self.verified},
            "intent_ranking": [{"name": intent, "confidence": confidence}],
        }
        self._add(
            "user",
            {"text": text_, "parse_data": parse, "input_channel": self.channel, "message_id": parse["message_id"]},
            intent=intent,
        )
        self._add("user_featurization", {"use_text_for_featurization": False})
        return self

    def external(self, intent: str, outbox_id: int) -> Conversation:
        """What ``trigger_intent`` leaves in the tracker for a proactive message."""
        parse = {
            "intent": {"name": intent},
            "entities": [{"entity": "outbox_id", "value": str(outbox_id)}],
            "text": f"EXTERNAL: {intent}",
            "message_id": None,
            "metadata": {"is_external": True},
        }
        self._add(
            "user",
            {"text": f"EXTERNAL: {intent}", "parse_data": parse, "input_channel": None, "message_id": None},
            intent=intent,
        )
        return self

    def action(self, name: str, confidence: float = 1.0) -> Conversation:
        self._add("action", {"name": name, "policy": "RulePolicy", "confidence": confidence}, action=name)
        return self

    def bot(self, text_: str, buttons: list[str] | None = None) -> Conversation:
        data = {"elements": None, "buttons": [{"title": b, "payload": "/x"} for b in buttons or []] or None}
        self._add("bot", {"text": text_, "data": data})
        return self

    def slot(self, name: str, value: Any) -> Conversation:
        self._add("slot", {"name": name, "value": value}, action=name)
        return self

    def save(self) -> Conversation:
        with self.engine.begin() as connection:
            for row in self.rows:
                connection.execute(
                    text(
                        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                        "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
                    ),
                    row,
                )
        self.rows.clear()
        return self


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def outbox(customer_id: str, campaign: str, kind: str, at: dt.datetime, **fields: Any) -> OutboxMessage:
    """An outbox row planned for ``at`` (its status and outcome in ``fields``)."""
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "campaign": campaign,
        "kind": kind,
        "occasion": f"{campaign}:{at.date()}",
        "idempotency_key": f"{customer_id}:{campaign}:{at.date()}",
        "local_day": at.date(),
        "intent": f"EXTERNAL_{campaign}",
        "template": f"utter_outreach_{campaign}",
        "channel": "rest",
        "conversation_id": f"cust:{customer_id}:web",
        "status": "planned",
        "not_before": at,
        "planned_at": at,
    }
    return OutboxMessage(**{**values, **fields})


@dataclass(frozen=True)
class World:
    """What ``build_world`` made, for assertions."""

    maya: str = "C100001"
    leo: str = "C100002"
    maya_email: str = "c100001@example.com"
    telegram_id: str = "tg-99812"


def build_world(session: Session, tracker_engine: Engine) -> World:
    """Two verified customers (one linked on Telegram), an anonymous visitor, feedback and outreach."""
    world = World()
    add_customer(session, world.maya, first_name="Maya")
    session.get(Customer, world.maya).last_name = "Patel"  # type: ignore[union-attr]
    session.get(Customer, world.maya).phone = "+1 212 555 0147"  # type: ignore[union-attr]
    add_customer(session, world.leo, first_name="Leo")
    add_order(session, world.maya, "A1001", product="Lumen Pen", days_ago=3, status="shipped")
    session.add(ChannelIdentity(customer_id=world.maya, channel="telegram", external_id=world.telegram_id))
    session.add(LinkAttempt(channel="telegram", external_id=world.telegram_id))
    session.add(Consent(customer_id=world.leo, kind="tips", granted=False, source="chat", updated_at=days_ago(1.9)))

    # Maya on the website: a renewal question, then she wants a person (handoff), then rates CSAT 2.
    (
        Conversation(tracker_engine, f"cust:{world.maya}:web", days_ago(2))
        .start()
        .user("hi", "greet", 0.99)
        .action("action_greet")
        .bot("Hi Maya! How can I help?")
        .listen()
        .user("when does my plan renew? write to maya.patel@mail.example", "ask_renewal", 0.87)
        .action("action_show_renewal")
        .bot("Your Plus plan renews on 1 May, Maya.")
        .listen()
        .user("i want to talk to a human", "human_handoff", 0.99)
        .action("action_handoff")
        .bot("Of course, Maya. I've asked a member of our support team to take over.")
        .slot("handoff_requested", True)
        .listen()
        .save()
    )
    # Maya on Telegram (linked): tells her phone number.
    (
        Conversation(tracker_engine, world.telegram_id, days_ago(1), channel="telegram")
        .start()
        .user(
            "call me on +1 212 555 0147 about order A1001",
            "order_status",
            0.71,
            [{"entity": "order_ref", "value": "A1001"}],
        )
        .slot("order_ref", "A1001")
        .action("action_order_status")
        .bot("Order A1001 has shipped.")
        .listen()
        .save()
    )
    # An anonymous visitor whose message is an XSS attempt the bot did not understand (fallback).
    (
        Conversation(tracker_engine, "anon:3f9a", days_ago(1), verified=False)
        .start()
        .user(XSS_TEXT, "nlu_fallback", 0.3)
        .action("action_default_fallback")
        .bot("Sorry, I didn't get that.")
        .listen()
        .save()
    )
    # Leo gets a proactive renewal reminder, replies, renews; then a usage tip he opts out of.
    reminder = outbox(world.leo, "renewal_reminder", "renewal", days_ago(3), status="sent", sent_at=days_ago(3))
    tip = outbox(world.leo, "usage_tips", "tips", days_ago(2), status="sent", sent_at=days_ago(2))
    skipped = outbox(world.maya, "usage_tips", "tips", days_ago(1), status="skipped", skip_reason="frequency cap")
    planned = outbox(world.maya, "birthday", "milestones", NOW + dt.timedelta(days=2), planned_at=days_ago(0.5))
    session.add_all([reminder, tip, skipped, planned])
    session.flush()
    session.add(OutreachTipSent(customer_id=world.leo, tip_id="sync-1", outbox_id=tip.id))
    session.add(
        SupportInteraction(
            customer_id=world.leo, kind="renewal", summary="renewed plus early", created_at=days_ago(2.5)
        )
    )
    session.add(
        SupportInteraction(
            customer_id=world.maya,
            conversation_id=f"cust:{world.maya}:web",
            kind="handoff",
            summary="Maya Patel asked for a person",
        )
    )
    leo = Conversation(tracker_engine, f"cust:{world.leo}:web", days_ago(3) - dt.timedelta(seconds=5))
    leo.start().external("EXTERNAL_renewal_reminder", reminder.id).action("action_deliver_outreach")
    leo.bot("Hi Leo, your plan renews in 14 days.", buttons=["Stop renewal reminders"]).listen()
    leo.at = days_ago(3) + dt.timedelta(hours=1)
    leo.user("renew it now please", "renew_now", 0.95).action("action_renew").bot("Done, Leo.").listen()
    leo.at = days_ago(2) - dt.timedelta(seconds=3)
    leo.external("EXTERNAL_usage_tip", tip.id).action("action_deliver_outreach").bot("Tip: try sync.").listen()
    leo.at = days_ago(2) + dt.timedelta(minutes=5)
    leo.user("stop sending tips", "opt_out", 0.9, [{"entity": "outreach_kind", "value": "tips"}]).action(
        "action_opt_out"
    )
    leo.save()

    # Feedback: Maya's CSAT 2 (a detractor awaiting follow-up), Leo's CSAT 5 and NPS 10, an anonymous NPS 3.
    low = Feedback(
        customer_id=world.maya,
        conversation_id=f"cust:{world.maya}:web",
        channel="rest",
        kind="csat",
        rating=2,
        prompted_by="handoff_closed",
        created_at=days_ago(2),
    )
    text_fb = Feedback(
        customer_id=world.maya,
        conversation_id=f"cust:{world.maya}:web",
        channel="rest",
        kind="text",
        text="Maya here, the app logs me out",
        text_redacted="[NAME] here, the app logs me out",
        prompted_by="resolution",
        created_at=days_ago(2),
    )
    session.add_all(
        [
            low,
            text_fb,
            Feedback(
                customer_id=world.leo,
                conversation_id=f"cust:{world.leo}:web",
                channel="rest",
                kind="csat",
                rating=5,
                prompted_by="resolution",
                created_at=days_ago(3),
            ),
            Feedback(
                customer_id=world.leo,
                conversation_id=f"cust:{world.leo}:web",
                channel="rest",
                kind="nps",
                rating=10,
                prompted_by="nps_survey",
                created_at=days_ago(3),
            ),
            Feedback(
                conversation_id="anon:3f9a",
                channel="rest",
                kind="nps",
                rating=3,
                prompted_by="nps_survey",
                created_at=days_ago(1),
            ),
        ]
    )
    session.flush()
    session.add(FeedbackFollowUp(feedback_id=low.id, customer_id=world.maya, reason="csat detractor"))
    theme = FeedbackTheme(
        label="logged out of the app",
        key_phrases='["logged out", "sign in"]',
        size=4,
        centroid=b"\x00" * 16,
        embedding_model="test",
        polarity="negative",
        polarity_score=-0.8,
        trend=json.dumps({"2026-W45": 1, "2026-W46": 3}),
    )
    session.add(theme)
    session.flush()
    text_fb.theme_id = theme.id
    session.add(ThemeQuote(theme_id=theme.id, feedback_id=text_fb.id, rank=0, similarity=0.9))
    return world


def tracker_url(path: Path) -> str:
    return f"sqlite:///{path}"


PHONE_CONVERSATION = "whatsapp:+4915112345678"
"""A WhatsApp conversation: Twilio names it by the customer's phone number."""
ODD_CONVERSATION = "partner/acme/user #42?x=%2F&y"
"""The callback channel accepts any sender id: slashes, spaces, ``#``, ``?``, ``%``."""
LINK_CODE = "7KQ4-M2XP"


def add_awkward_conversations(session: Session, tracker_engine: Engine, *, url_characters: bool = True) -> None:
    """Conversations whose ids or texts once broke the console or leaked through it (issue 14);
    ``url_characters``: also the one whose id has ``/`` (it made the whole list fail before)."""
    (
        Conversation(tracker_engine, PHONE_CONVERSATION, days_ago(0.5), channel="twilio", verified=False)
        .start()
        .user(f"LINK {LINK_CODE}", "link_account", 0.95)
        .action("action_link_account")
        .bot("That code is not valid any more; ask for a new one on the website.")
        .listen()
        .save()
    )
    (
        Conversation(tracker_engine, f"cust:{World.maya}:app", days_ago(0.4))
        .start()
        .user("link my whatsapp", "link_account", 0.97)
        .action("action_link_account")
        .bot(f'Here is your link code: {LINK_CODE}. Within 15 minutes, send "LINK {LINK_CODE}" to Lumen.')
        .listen()
        .save()
    )
    if url_characters:
        (
            Conversation(tracker_engine, ODD_CONVERSATION, days_ago(0.3), channel="callback", verified=False)
            .start()
            .user("where is my parcel", "order_status", 0.8)
            .action("action_order_status")
            .bot("Please sign in on the website first.")
            .listen()
            .save()
        )
    # Customer ids may not contain ':' (bot.conversation_ids): cust:C77:b is C77's website
    # conversation, and cust:C77:b:x is nobody's (once a customer "C77:b" could have had it).
    add_customer(session, "C77", first_name="Ines")
    for sender_id in ("cust:C77:b", "cust:C77:b:x"):
        Conversation(tracker_engine, sender_id, days_ago(0.2)).start().user("hello", "greet").bot("Hi!").save()
