"""A handoff's way through the agent inbox: waiting, claimed, handed back, closed.

The state lives in the profile store (``support_interactions``, kind ``handoff``), never in a
process: any web process may serve any agent, and any Rasa process any customer. Every
change is one conditional ``UPDATE`` (``WHERE status = ...``), so two agents claiming the same
conversation at once cannot both win, and a second click finds nothing to do.

::

    open (waiting in the queue) ──claim──► claimed (bot paused, agent writes)
      ▲   │                                   │ hand back           │ close
      │   └────────── close ───────────┐      ▼                     ▼
      └── customer asks again ── returned (bot answers) ──close──► closed
      │                                                             (csat_followup plans)
      └── the customer no longer needs a person ──► withdrawn (no follow-up, not an agent's close)

Closing sets ``status = 'closed'`` and ``closed_at``, which is what the outreach planner's
``csat_followup`` campaign reads (``supportbot.outreach.facts``). What the customer sees at
each step, and the pause in Rasa, is the console's part (``supportbot.console.takeover``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Update, select, update
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.store.console_models import ConsoleUser
from supportbot.store.models import SupportInteraction, utcnow

KIND = "handoff"
WAITING, CLAIMED, RETURNED, CLOSED = "open", "claimed", "returned", "closed"
WITHDRAWN = "withdrawn"
"""The customer said they no longer need a person while still waiting: out of the queue, ``closed_at``
set, no outcome; not ``closed``, so no CSAT follow-up asks about a person they never spoke to."""
ACTIVE = (WAITING, CLAIMED, RETURNED)
OUTCOMES = ("resolved", "not_resolved")
MAX_NOTE = 2000
EXPECTED_WAIT_SAMPLE = dt.timedelta(days=7)
MIN_WAIT_SAMPLES = 3


class HandoffConflict(InvalidRequestError):
    """The handoff is not in the state this step needs (someone else claimed it, it was closed...)."""


@dataclass(frozen=True)
class Handoff:
    id: int
    conversation_id: str
    channel: str | None
    customer_id: str | None
    status: str
    reason: str
    created_at: dt.datetime
    waiting_since: dt.datetime
    assigned_to: int | None
    assigned_at: dt.datetime | None
    first_reply_at: dt.datetime | None
    escalated_at: dt.datetime | None
    handed_back_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str | None
    close_note: str | None
    email_follow_up: bool

    def waited(self, now: dt.datetime) -> dt.timedelta:
        """How long the customer has waited for a person (until claimed, or until now)."""
        end = self.assigned_at if self.status != WAITING and self.assigned_at else now
        return max(end - self.waiting_since, dt.timedelta(0))


def _view(row: SupportInteraction) -> Handoff:
    return Handoff(
        id=row.id,
        conversation_id=row.conversation_id or "",
        channel=row.channel,
        customer_id=row.customer_id,
        status=row.status,
        reason=row.summary,
        created_at=row.created_at,
        waiting_since=row.waiting_since or row.created_at,
        assigned_to=row.assigned_to,
        assigned_at=row.assigned_at,
        first_reply_at=row.first_reply_at,
        escalated_at=row.escalated_at,
        handed_back_at=row.handed_back_at,
        closed_at=row.closed_at,
        outcome=row.outcome,
        close_note=row.close_note,
        email_follow_up=bool(row.email_follow_up),
    )


def get_handoff(*, session: Session, handoff_id: int) -> Handoff:
    row = session.get(SupportInteraction, handoff_id)
    if row is None or row.kind != KIND:
        raise NotFoundError(f"there is no handoff {handoff_id}")
    session.refresh(row)  # another process may have changed it since this session read it
    return _view(row)


def conversation_handoff(*, session: Session, conversation_id: str) -> Handoff | None:
    """The conversation's handoff that is not closed yet (waiting, claimed or handed back)."""
    row = session.scalar(
        select(SupportInteraction)
        .where(
            SupportInteraction.conversation_id == conversation_id,
            SupportInteraction.kind == KIND,
            SupportInteraction.status.in_(ACTIVE),
        )
        .order_by(SupportInteraction.id.desc())
        .limit(1)
    )
    return _view(row) if row is not None else None


def queue(*, session: Session) -> list[Handoff]:
    """Every handoff not closed: escalated first, then by waiting time (oldest first)."""
    rows = session.scalars(
        select(SupportInteraction).where(SupportInteraction.kind == KIND, SupportInteraction.status.in_(ACTIVE))
    ).all()
    views = [_view(row) for row in rows]
    order = {WAITING: 0, CLAIMED: 1, RETURNED: 2}
    return sorted(
        views, key=lambda h: (order[h.status], h.status != WAITING or h.escalated_at is None, h.waiting_since, h.id)
    )


def _change(session: Session, stmt: Update, handoff_id: int, wanted: str) -> Handoff:
    """Run one conditional update; if it matched nothing, say what the handoff's state is instead."""
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        current = get_handoff(session=session, handoff_id=handoff_id)
        raise HandoffConflict(_conflict_text(session, current, wanted))
    return get_handoff(session=session, handoff_id=handoff_id)


def _conflict_text(session: Session, handoff: Handoff, wanted: str) -> str:
    if handoff.status == CLOSED:
        return "this conversation's handoff is already closed"
    if handoff.status == WITHDRAWN:
        return "the customer no longer needs a person (they withdrew the request in the chat)"
    if handoff.status == CLAIMED:
        return f"this conversation is already assigned to {agent_name(session=session, user_id=handoff.assigned_to)}"
    if handoff.status == RETURNED and wanted in (CLAIMED, "reply"):
        return "this conversation was handed back to the bot; the customer can ask for a person again"
    if handoff.status == WAITING and wanted in ("reply", RETURNED):
        return "claim the conversation first"
    return f"the handoff is {handoff.status}, so that cannot be done now"


def _row(handoff_id: int) -> tuple[ColumnElement[bool], ...]:
    return (SupportInteraction.id == handoff_id, SupportInteraction.kind == KIND)


def claim(*, session: Session, handoff_id: int, agent_id: int, now: dt.datetime | None = None) -> Handoff:
    """The agent takes the waiting conversation; exactly one of several agents clicking at once wins."""
    now = now or utcnow()
    stmt = (
        update(SupportInteraction)
        .where(*_row(handoff_id), SupportInteraction.status == WAITING)
        .values(status=CLAIMED, assigned_to=agent_id, assigned_at=now)
    )
    return _change(session, stmt, handoff_id, CLAIMED)


def unclaim(*, session: Session, handoff_id: int, agent_id: int) -> None:
    """Undo a claim whose pause never reached Rasa: the conversation waits again, as before."""
    session.execute(
        update(SupportInteraction)
        .where(*_row(handoff_id), SupportInteraction.status == CLAIMED, SupportInteraction.assigned_to == agent_id)
        .values(status=WAITING, assigned_to=None, assigned_at=None)
    )


def check_assignee(*, session: Session, handoff_id: int, agent_id: int) -> Handoff:
    """The handoff, if it is claimed by this agent (only they write to the customer or hand back)."""
    handoff = get_handoff(session=session, handoff_id=handoff_id)
    if handoff.status != CLAIMED:
        raise HandoffConflict(_conflict_text(session, handoff, "reply"))
    if handoff.assigned_to != agent_id:
        name = agent_name(session=session, user_id=handoff.assigned_to)
        raise HandoffConflict(f"this conversation is assigned to {name}; only they can write to the customer")
    return handoff


def record_reply(*, session: Session, handoff_id: int, agent_id: int, now: dt.datetime | None = None) -> None:
    """A message of the agent reached the customer: the first one is the time to first human reply."""
    now = now or utcnow()
    session.execute(
        update(SupportInteraction)
        .where(
            *_row(handoff_id),
            SupportInteraction.assigned_to == agent_id,
            SupportInteraction.first_reply_at.is_(None),
        )
        .values(first_reply_at=now)
    )


def hand_back(*, session: Session, handoff_id: int, agent_id: int, now: dt.datetime | None = None) -> Handoff:
    now = now or utcnow()
    stmt = (
        update(SupportInteraction)
        .where(*_row(handoff_id), SupportInteraction.status == CLAIMED, SupportInteraction.assigned_to == agent_id)
        .values(status=RETURNED, handed_back_at=now)
    )
    return _change(session, stmt, handoff_id, RETURNED)


def close(
    *,
    session: Session,
    handoff_id: int,
    agent_id: int,
    outcome: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> Handoff:
    """Closed with an outcome and a note; the ``csat_followup`` campaign plans from ``closed_at``."""
    if outcome not in OUTCOMES:
        raise InvalidRequestError(f"the outcome must be one of {', '.join(OUTCOMES)}")
    if len(note) > MAX_NOTE:
        raise InvalidRequestError(f"the note is too long (at most {MAX_NOTE} characters)")
    now = now or utcnow()
    stmt = (
        update(SupportInteraction)
        .where(*_row(handoff_id), SupportInteraction.status.in_(ACTIVE))
        .values(status=CLOSED, closed_at=now, closed_by=agent_id, outcome=outcome, close_note=note.strip() or None)
    )
    return _change(session, stmt, handoff_id, CLOSED)


def withdraw(*, session: Session, conversation_id: str, now: dt.datetime | None = None) -> bool:
    """The customer takes back their request while it still waits; False when no person-request is
    waiting any more (an agent claimed it a moment ago, or it was closed)."""
    now = now or utcnow()
    stmt = (
        update(SupportInteraction)
        .where(
            SupportInteraction.conversation_id == conversation_id,
            SupportInteraction.kind == KIND,
            SupportInteraction.status == WAITING,
        )
        .values(status=WITHDRAWN, closed_at=now)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def reopen_if_returned(*, session: Session, conversation_id: str, now: dt.datetime | None = None) -> int | None:
    """The customer asks for a person again after a hand-back: the same handoff waits again."""
    now = now or utcnow()
    row = session.scalar(
        select(SupportInteraction)
        .where(
            SupportInteraction.conversation_id == conversation_id,
            SupportInteraction.kind == KIND,
            SupportInteraction.status == RETURNED,
        )
        .order_by(SupportInteraction.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    row.status, row.waiting_since, row.escalated_at = WAITING, now, None
    row.assigned_to, row.assigned_at = None, None
    session.flush()
    return row.id


def escalate_overdue(*, session: Session, after: dt.timedelta, now: dt.datetime | None = None) -> list[Handoff]:
    """Mark the handoffs unclaimed for longer than ``after``, each once; returns those just marked."""
    now = now or utcnow()
    due = session.scalars(
        select(SupportInteraction.id).where(
            SupportInteraction.kind == KIND,
            SupportInteraction.status == WAITING,
            SupportInteraction.escalated_at.is_(None),
            SupportInteraction.waiting_since <= now - after,
        )
    ).all()
    marked = []
    for handoff_id in due:
        result = session.execute(
            update(SupportInteraction)
            .where(*_row(handoff_id), SupportInteraction.status == WAITING, SupportInteraction.escalated_at.is_(None))
            .values(escalated_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            marked.append(get_handoff(session=session, handoff_id=handoff_id))
    return marked


def ask_email_follow_up(*, session: Session, conversation_id: str) -> bool:
    """Outside support hours the customer chose an answer by email; False if no handoff waits."""
    result = session.execute(
        update(SupportInteraction)
        .where(
            SupportInteraction.conversation_id == conversation_id,
            SupportInteraction.kind == KIND,
            SupportInteraction.status == WAITING,
        )
        .values(email_follow_up=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WaitEstimate:
    position: int
    """1 = next in line."""
    typical: dt.timedelta | None
    """The median time to claim over the last week, if there were enough claims to say."""


def expected_wait(*, session: Session, conversation_id: str, now: dt.datetime | None = None) -> WaitEstimate:
    """The honest expected wait: the place in the queue and how long claims took lately."""
    now = now or utcnow()
    waiting = [h for h in queue(session=session) if h.status == WAITING]
    position = next((i + 1 for i, h in enumerate(waiting) if h.conversation_id == conversation_id), len(waiting) + 1)
    samples = [
        (assigned - (since or created)).total_seconds()
        for assigned, since, created in session.execute(
            select(
                SupportInteraction.assigned_at, SupportInteraction.waiting_since, SupportInteraction.created_at
            ).where(
                SupportInteraction.kind == KIND,
                SupportInteraction.assigned_at.is_not(None),
                SupportInteraction.assigned_at >= now - EXPECTED_WAIT_SAMPLE,
            )
        )
        if assigned is not None
    ]
    typical = dt.timedelta(seconds=statistics.median(samples)) if len(samples) >= MIN_WAIT_SAMPLES else None
    return WaitEstimate(position=position, typical=typical)


def describe_wait(estimate: WaitEstimate) -> str:
    """Words for the customer; never a promise the numbers do not support."""
    place = "You're next in line" if estimate.position <= 1 else f"You're number {estimate.position} in the queue"
    if estimate.typical is None:
        return f"{place}; I can't say exactly how long it will take, but your request stays in the queue."
    minutes = max(1, round(estimate.typical.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"{place}; this week a person has usually picked up a conversation within about {minutes} {unit}."


def agent_name(*, session: Session, user_id: int | None) -> str:
    """The name customers and colleagues see for a staff member: the display name, else from the email."""
    if user_id is None:
        return "nobody"
    user = session.get(ConsoleUser, user_id)
    if user is None:
        return "a former colleague"
    return display_name(user.display_name, user.email)


def display_name(name: str | None, email: str) -> str:
    if name and name.strip():
        return name.strip()
    local = email.split("@", 1)[0]
    first = local.replace("_", ".").replace("-", ".").split(".", 1)[0]
    return first[:1].upper() + first[1:] if first else "Support"
