"""The two databases the console works on, built once when the app is created (never at import)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.console.tracker import has_events_table
from supportbot.store.db import make_engine, session_factory
from supportbot.store.models import ChannelIdentity


@dataclass
class Stores:
    profile: sessionmaker[Session]
    profile_engine: Engine
    tracker_engine: Engine

    @classmethod
    def open(cls, *, database_url: str, tracker_url: str) -> Stores:
        engine = make_engine(database_url)
        return cls(profile=session_factory(engine), profile_engine=engine, tracker_engine=make_engine(tracker_url))

    @contextmanager
    def tracker(self) -> Iterator[Connection | None]:
        """A connection to the tracker store, or ``None`` while Rasa has not created its table yet."""
        if not has_events_table(self.tracker_engine):
            yield None
            return
        with self.tracker_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.profile_engine.dispose()
        self.tracker_engine.dispose()


def linked_senders(session: Session, customer_id: str | None = None) -> dict[str, str]:
    """Messaging-channel sender id → customer id, for every linked identity (or one customer's)."""
    stmt = select(ChannelIdentity.external_id, ChannelIdentity.customer_id)
    if customer_id is not None:
        stmt = stmt.where(ChannelIdentity.customer_id == customer_id)
    return {external_id: owner for external_id, owner in session.execute(stmt)}
