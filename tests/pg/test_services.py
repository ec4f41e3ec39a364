"""The servers scripts/services.sh runs: loopback only, nothing without the password, and URLs
the app env can open (a missing server fails here: ``tests.factories.postgres`` starts it)."""

from __future__ import annotations

import psycopg
import pytest
import redis
from sqlalchemy import text

from supportbot.scaleout.services import Services
from supportbot.store.db import make_engine
from tests.factories import postgres


@pytest.fixture(scope="module")
def services() -> Services:
    return postgres()


def test_postgres_listens_on_loopback_and_wants_the_password(services: Services) -> None:
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as connection:
        assert connection.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert connection.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
    wrong = services.postgres_dsn().replace(f"password={services.pg_password}", "password=not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_redis_listens_on_loopback_and_wants_the_password(services: Services) -> None:
    anonymous = redis.Redis(host=services.redis_host, port=services.redis_port, socket_timeout=10)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    anonymous.close()
    client = redis.Redis.from_url(services.redis_url(), socket_timeout=10)
    assert client.ping() is True
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    assert client.config_get("protected-mode") == {"protected-mode": "yes"}
    client.close()


def test_a_plain_postgresql_url_opens_with_the_app_envs_driver(services: Services) -> None:
    """The README's ``postgresql://`` URL works: SQLAlchemy alone would look for psycopg2."""
    engine = make_engine(services.postgres_url(driver="postgresql"))
    assert engine.url.drivername == "postgresql+psycopg"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
