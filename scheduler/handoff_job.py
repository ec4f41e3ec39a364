"""The scheduler's handoff-escalation job: a customer left waiting too long is told so, honestly.

Every minute, handoffs unclaimed for longer than ``SUPPORTBOT_HANDOFF_ESCALATE_AFTER_MINUTES``
are marked escalated (each once: a conditional ``UPDATE``, so two scheduler processes cannot
both mark one), which puts them first and in red in the console's inbox, and the customer gets
one message on their own channel with their place in the queue and this week's typical wait
(``supportbot.services.handoff.describe_wait``), through Rasa's HTTP API like an agent's message
(``supportbot.console.relay``). Marked first, told second: a message that cannot be sent is
logged and not retried (the customer is not told twice).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session, sessionmaker

from scheduler import runtime
from supportbot.console.relay import ConversationRelay, RelayError
from supportbot.console.takeover import bot_event
from supportbot.services.handoff import describe_wait, escalate_overdue, expected_wait

logger = logging.getLogger(__name__)

ESCALATION_JOB_ID = "handoff-escalation"
EVERY_SECONDS = 60


def escalation_text(wait: str) -> str:
    return f"Sorry for the wait: everyone in our support team is busy right now. {wait}"


def escalate(*, sessions: sessionmaker[Session], relay: ConversationRelay, after: dt.timedelta) -> int:
    """Mark the overdue handoffs and tell each customer; how many were told."""
    with sessions.begin() as session:
        marked = escalate_overdue(session=session, after=after)
        texts = {
            h.id: escalation_text(describe_wait(expected_wait(session=session, conversation_id=h.conversation_id)))
            for h in marked
        }
    told = 0
    for handoff in marked:
        try:
            relay.append(handoff.conversation_id, [bot_event(texts[handoff.id])], output_channel=handoff.channel)
            told += 1
        except RelayError:
            logger.exception("could not tell the customer of handoff %s about the wait", handoff.id)
    return told


def escalation_job() -> int:
    settings = runtime.settings()
    url, token = runtime.rasa_connection()
    return escalate(
        sessions=runtime.sessions(runtime.database_url()),
        relay=ConversationRelay(base_url=url, token=token),
        after=dt.timedelta(minutes=settings.handoff_escalate_after_minutes),
    )
