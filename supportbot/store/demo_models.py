"""The mark a demo data set leaves in the store, so every screen can say the figures are invented.

One row per loaded demo data set; the console shows a banner on every page while one exists. It
holds the reference date the demo was built for (no clock: two loads for the same date stay
byte-identical) and is deleted with nothing else: a store that once held the demo is a demo store.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base


class DemoDataset(Base):
    __tablename__ = "demo_datasets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    """``customers`` (the 300 demo customers) or ``history`` (two years of invented history)."""
    reference_date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
