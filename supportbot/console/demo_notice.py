"""The banner on every console page while the store holds the demo data set (``demo_datasets``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from supportbot.store.demo_models import DemoDataset


@dataclass(frozen=True)
class DemoNotice:
    reference_date: dt.date
    history: bool
    """The two years of invented history were loaded too."""


def demo_notice(sessions: sessionmaker[Session]) -> DemoNotice | None:
    """The demo mark, or None for a store of real customers (and for one not migrated yet)."""
    try:
        with sessions() as session:
            rows = {row.name: row for row in session.scalars(select(DemoDataset))}
    except SQLAlchemyError:
        return None
    if not rows:
        return None
    first = min(rows.values(), key=lambda row: row.name)
    return DemoNotice(reference_date=first.reference_date, history="history" in rows)
