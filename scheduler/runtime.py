"""Process-wide resources of the scheduler, built on first use and never at import.

Every missing setting is reported as one ``ConfigurationError`` line naming the
variable to set, before any work starts.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ConfigurationError
from supportbot.outreach.config import OutreachConfig, load_config
from supportbot.outreach.rasa_client import RasaClient
from supportbot.settings import Settings, get_settings
from supportbot.store.db import make_engine, session_factory


def settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(f"settings: {first['msg']}") from exc


def database_url() -> str:
    url = settings().database_url
    if not url:
        raise ConfigurationError("SUPPORTBOT_DATABASE_URL is empty; set it to the profile store's SQLAlchemy URL")
    return url


def rasa_connection() -> tuple[str, str]:
    """(Rasa URL, API token); the token is required because Rasa's HTTP API must not be open."""
    current = settings()
    if not current.rasa_url:
        raise ConfigurationError("SUPPORTBOT_RASA_URL is empty; set it to the Rasa server, e.g. http://localhost:5005")
    token = current.rasa_api_token.get_secret_value() if current.rasa_api_token else ""
    if not token:
        raise ConfigurationError("RASA_API_TOKEN is not set; `make run` creates one in var/secrets.env")
    return current.rasa_url, token


@lru_cache(maxsize=4)
def sessions(url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(url))


@lru_cache(maxsize=4)
def outreach_config(path: str | None) -> OutreachConfig:
    return load_config(Path(path) if path else None)


def rasa_client(config: OutreachConfig) -> RasaClient:
    url, token = rasa_connection()
    return RasaClient(base_url=url, token=token, timeouts=config.delivery.timeouts)


def utc_now() -> dt.datetime:
    """The scheduler's one clock; library code takes ``now`` as an argument instead."""
    return dt.datetime.now(dt.UTC)
