"""PostgreSQL and Redis as ``scripts/services.sh`` runs them: their addresses, and databases on them.

The script starts the servers (Debian packages, loopback, passwords) and writes where they
listen into ``var/services/services.env``; everything in Python that needs them (the scaled
stack, the PostgreSQL half of the test suite, the benchmarks) reads that file through
:class:`Services`. Nothing here starts at import time.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from supportbot.errors import ConfigurationError
from supportbot.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "services.sh"
ENV_FILE = PROJECT_ROOT / "var" / "services" / "services.env"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Services:
    """Where ``scripts/services.sh`` runs PostgreSQL and Redis, and their passwords."""

    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    redis_host: str
    redis_port: int
    redis_password: str

    @classmethod
    def read(cls, path: Path = ENV_FILE) -> Services:
        if not path.exists():
            raise ConfigurationError(f"{path} is missing: run scripts/services.sh start")
        env = _read_env(path)
        try:
            return cls(
                pg_host=env["PG_HOST"],
                pg_port=int(env["PG_PORT"]),
                pg_user=env["PG_SUPERUSER"],
                pg_password=env["PG_PASSWORD"],
                redis_host=env["REDIS_HOST"],
                redis_port=int(env["REDIS_PORT"]),
                redis_password=env["REDIS_PASSWORD"],
            )
        except (KeyError, ValueError) as exc:
            problem = f"{path} is incomplete ({exc}); remove it and run scripts/services.sh start"
            raise ConfigurationError(problem) from exc

    def postgres_url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL (app env: psycopg 3; ``driver="postgresql"`` for the Rasa env's psycopg2)."""
        return f"{driver}://{quote(self.pg_user)}:{quote(self.pg_password)}@{self.pg_host}:{self.pg_port}/{database}"

    def postgres_dsn(self, database: str = "postgres") -> str:
        """A libpq connection string, for psycopg directly (CREATE DATABASE cannot run in a transaction)."""
        return (
            f"host={self.pg_host} port={self.pg_port} user={self.pg_user} password={self.pg_password} "
            f"dbname={database} connect_timeout=10"
        )

    def redis_url(self, db: int = 0) -> str:
        return f"redis://:{quote(self.redis_password)}@{self.redis_host}:{self.redis_port}/{db}"


def run_services(*args: str, timeout: float = 900) -> None:
    """``scripts/services.sh ARGS``, bounded; its output is in the error if it fails."""
    try:
        done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ConfigurationError(f"scripts/services.sh {' '.join(args)} did not finish in {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise ConfigurationError(
            f"scripts/services.sh {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


def ensure_services(*, timeout: float = 900) -> Services:
    """Start PostgreSQL and Redis if they are not running (installing them first if needed)."""
    run_services("start", timeout=timeout)
    return Services.read()


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a database name this code creates: {name!r}")
    return name


def create_database(services: Services, name: str, *, template: str | None = None, replace: bool = False) -> str:
    """Create database ``name`` (a copy of ``template`` if given) and return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(services.postgres_dsn(), autocommit=True) as connection:
        if replace:
            connection.execute(f'DROP DATABASE IF EXISTS "{_checked_name(name)}" WITH (FORCE)')
        statement = f'CREATE DATABASE "{_checked_name(name)}"'
        if template:
            statement += f' TEMPLATE "{_checked_name(template)}"'
        connection.execute(statement)
    return services.postgres_url(name)


def database_exists(services: Services, name: str) -> bool:
    import psycopg

    with psycopg.connect(services.postgres_dsn(), autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


def drop_database(services: Services, name: str) -> None:
    """Drop ``name`` even while clients are connected (they are disconnected)."""
    import psycopg

    with psycopg.connect(services.postgres_dsn(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{_checked_name(name)}" WITH (FORCE)')
