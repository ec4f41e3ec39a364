"""Changes a customer makes to how we reach them: consent per kind, contact details,
time zone and birthday. Each change takes effect at once (the scheduler reads the
same rows) and is recorded as an interaction for the audit trail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError, NotFoundError
from supportbot.services.support import ConversationRef, record_interaction
from supportbot.store.models import OUTREACH_KINDS, Consent, Customer, utcnow


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} not found")
    return customer


def set_consent(
    *,
    session: Session,
    customer_id: str,
    kind: str,
    granted: bool,
    conversation: ConversationRef | None,
    source: str = "chat",
) -> list[str]:
    """Grant or withdraw consent for one kind of proactive message, or ``all``; returns the kinds set."""
    _customer(session, customer_id)
    kinds = list(OUTREACH_KINDS) if kind == "all" else [kind]
    if any(k not in OUTREACH_KINDS for k in kinds):
        raise InvalidRequestError(f"unknown kind of message {kind!r}")
    existing = {
        c.kind: c
        for c in session.scalars(select(Consent).where(Consent.customer_id == customer_id, Consent.kind.in_(kinds)))
    }
    now = utcnow()
    for k in kinds:
        row = existing.get(k)
        if row is None:
            session.add(Consent(customer_id=customer_id, kind=k, granted=granted, source=source, updated_at=now))
        else:
            row.granted, row.source, row.updated_at = granted, source, now
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="consent_change",
        summary=f"{'opted in to' if granted else 'opted out of'} {', '.join(kinds)}",
        conversation=conversation,
    )
    session.flush()
    return kinds


def update_profile_field(
    *, session: Session, customer_id: str, field: str, value: str, conversation: ConversationRef | None
) -> None:
    """Store one already-validated value (see ``supportbot.parsing``) on the customer."""
    customer = _customer(session, customer_id)
    if field == "birthday":
        customer.birthday = dt.date.fromisoformat(value)
    elif field == "time_zone":
        customer.time_zone = value
    elif field == "email":
        clash = session.scalar(select(Customer.id).where(Customer.email == value, Customer.id != customer_id))
        if clash:
            raise InvalidRequestError("That email address is already used by another account.")
        customer.email = value
    elif field == "phone":
        customer.phone = value
    elif field == "preferred_channel":
        customer.preferred_channel = value
    else:
        raise InvalidRequestError(f"unknown profile field {field!r}")
    record_interaction(
        session=session,
        customer_id=customer_id,
        kind="profile_update",
        summary=f"updated {field}",
        conversation=conversation,
    )
    session.flush()
