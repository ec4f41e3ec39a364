"""One customer's data: everything about them from every store (export), and forgetting them.

Both walk the schema instead of listing tables: every profile-store table with a
``customer_id`` column holds data about that customer, so a table added later is exported
and forgotten without anyone remembering to come back here. Conversations are found in the
tracker store by their ids: ``cust:<id>:…`` (website), the customer's linked messaging ids,
and any conversation id their feedback, outreach or support records name.

Forgetting runs the tracker store first, then the profile store in one transaction that also
writes the audit entry; the two stores may be different databases, so if the second step
fails the first is already done and running forget again finishes the job. In the same
transaction, audit entries written before entries were keyed hashes (a raw customer or
conversation id as subject) get the hash, so the log keeps nobody's id once they are
forgotten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, delete, or_, select, tuple_
from sqlalchemy.orm import Session

from supportbot.console import audit_log, tracker
from supportbot.console.stores import Stores, linked_senders
from supportbot.errors import NotFoundError
from supportbot.store.models import ChannelIdentity, Customer, LinkAttempt, Order, OrderItem
from supportbot.store.schema import Base


def customer_tables() -> list[Table]:
    """Profile-store tables with a ``customer_id`` column, children before parents."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "customer_id" in t.c and t.name != "customers"]


def conversation_tables() -> list[Table]:
    """Tables keyed by conversation id only (the console's review data)."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "conversation_id" in t.c and "customer_id" not in t.c]


def _about(table: Table, customer_id: str, conversations: list[str]) -> Any:
    """Rows of ``table`` about this customer: theirs by id, or in one of their conversations."""
    conditions = []
    if "customer_id" in table.c:
        conditions.append(table.c.customer_id == customer_id)
    if "conversation_id" in table.c:
        conditions.append(table.c.conversation_id.in_(conversations))
    return or_(*conditions)


def _delete(session: Session, statement: Any) -> int:
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount or 0)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def _rows(session: Session, table: Table, condition: Any) -> list[dict[str, Any]]:
    return [
        {key: _json_value(value) for key, value in row._mapping.items()}
        for row in session.execute(select(table).where(condition))
    ]


def conversation_ids(session: Session, connection: Connection | None, customer_id: str) -> list[str]:
    """Every conversation of this customer, in the tracker store or named by the profile store."""
    linked = list(linked_senders(session, customer_id))
    named: set[str] = set(linked)
    for table in customer_tables():
        if "conversation_id" in table.c:
            named |= {
                str(value)
                for value in session.scalars(
                    select(table.c.conversation_id).where(
                        table.c.customer_id == customer_id, table.c.conversation_id.is_not(None)
                    )
                )
            }
    if connection is not None:
        named |= set(tracker.customer_conversation_ids(connection, customer_id, linked))
    return sorted(named)


def export_customer(session: Session, connection: Connection | None, customer_id: str) -> dict[str, Any]:
    """All data about one customer, as JSON-ready values (the right of access)."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id!r} does not exist")
    customers = Base.metadata.tables["customers"]
    data: dict[str, Any] = {"customer": _rows(session, customers, customers.c.id == customer_id)[0]}
    for table in customer_tables():
        data[table.name] = _rows(session, table, table.c.customer_id == customer_id)
    order_items = Base.metadata.tables["order_items"]
    orders = select(Order.id).where(Order.customer_id == customer_id)
    data["order_items"] = _rows(session, order_items, order_items.c.order_id.in_(orders))
    conversations = conversation_ids(session, connection, customer_id)
    for table in conversation_tables():
        data[table.name] = _rows(session, table, table.c.conversation_id.in_(conversations))
    data["conversations"] = tracker.raw_events(connection, conversations) if connection is not None else []
    return data


@dataclass(frozen=True)
class ForgetReport:
    deleted: dict[str, int]


def forget_customer(*, stores: Stores, customer_id: str, actor_id: int, secret: str) -> ForgetReport:
    """Delete the customer from every store and record an audit entry with counts only."""
    deleted: dict[str, int] = {}
    with stores.profile() as session:
        if session.get(Customer, customer_id) is None:
            raise NotFoundError(f"customer {customer_id!r} does not exist")
        identities = [
            (channel, external_id)
            for channel, external_id in session.execute(
                select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
                    ChannelIdentity.customer_id == customer_id
                )
            )
        ]
        with stores.tracker() as connection:
            conversations = conversation_ids(session, connection, customer_id)
            if connection is not None:
                deleted["tracker_events"] = tracker.delete_conversations(connection, conversations)
                connection.commit()
    with stores.profile.begin() as session:
        if identities:
            deleted["link_attempts"] = _delete(
                session, delete(LinkAttempt).where(tuple_(LinkAttempt.channel, LinkAttempt.external_id).in_(identities))
            )
        orders = select(Order.id).where(Order.customer_id == customer_id)
        deleted["order_items"] = _delete(session, delete(OrderItem).where(OrderItem.order_id.in_(orders)))
        for table in [*conversation_tables(), *customer_tables()]:
            deleted[table.name] = _delete(session, delete(table).where(_about(table, customer_id, conversations)))
        session.execute(delete(Customer).where(Customer.id == customer_id))
        deleted["customers"] = 1
        audit_log.rewrite_raw_subjects(session, secret, customer_id, conversations)
        session.add(
            audit_log.entry(
                actor_id=actor_id,
                action="forget_customer",
                subject=audit_log.customer_subject(secret, customer_id),
                deleted={k: v for k, v in sorted(deleted.items()) if v},
            )
        )
    return ForgetReport(deleted=deleted)
