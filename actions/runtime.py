"""Process-wide resources of the action server, built on first use, never at import."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from supportbot.settings import Settings, get_settings
from supportbot.store.db import make_engine, session_factory


@lru_cache(maxsize=1)
def sessions() -> sessionmaker[Session]:
    return session_factory(make_engine(settings().database_url))


def settings() -> Settings:
    return get_settings()
