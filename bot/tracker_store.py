"""Rasa's SQL tracker store, with connections checked before use (rasa environment).

Rasa 3.6's ``SQLTrackerStore`` builds its SQLAlchemy engine without ``pool_pre_ping``: after
PostgreSQL restarts (a failover, an upgrade, the fault test of issue 19), every connection in
the pool is dead, and each one fails the first message that takes it from the pool (up to the
pool's 50 connections per replica) before the pool notices. With ``pool_pre_ping`` the pool
tests a connection as it hands it out and replaces a dead one, so the first message after the
restart already works. Everything else (tables, queries, events) is Rasa's own class.

Configured in ``endpoints.production.yml``::

    tracker_store:
      type: bot.tracker_store.PingingSQLTrackerStore
      dialect: postgresql
      url: ...   port: ...   db: ...   username: ...   password: ...

Runs inside Rasa: imports only what the rasa env has.
"""

from __future__ import annotations

from typing import Any, Optional, Text

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain


class PingingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose pool pings a connection before handing it out."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
