"""Test data builders: valid customer rows and the CSV/JSON files that carry them.

Each builder returns something valid; a test states only what it changes
(``customer_row(3, time_zone="Mars/Olympus")``), so the reason it fails is the
one the test is about.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from supportbot.scaleout.services import Services, create_database, drop_database, ensure_services
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import seed_catalogue
from supportbot.store.import_records import FLAT_FIELDS
from supportbot.store.migrate import upgrade_database
from supportbot.store.models import Customer, FeatureUsage, LoyaltyAccount, Order, OrderItem, Subscription


def _in_days(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def customer_row(number: int, **overrides: Any) -> dict[str, Any]:
    """A valid flat customer (CSV row or JSON object) with an id and email unique to ``number``."""
    row: dict[str, Any] = {
        "id": f"T{number:06d}",
        "first_name": "Test",
        "last_name": f"Customer{number}",
        "email": f"test.customer{number}@example.com",
        "phone": f"+1 212 555 01{number % 100:02d}",
        "locale": "en-US",
        "time_zone": "America/New_York",
        "birthday": "1990-05-17",
        "customer_since": "2022-01-15",
        "segment": "consumer",
        "preferred_channel": "web",
        "plan_code": "plus",
        "subscription_status": "active",
        "billing_period": "monthly",
        "price": "12.00",
        "currency": "USD",
        "renews_on": _in_days(20),
        "auto_renew": "true",
        "loyalty_points": "150",
        "loyalty_tier": "bronze",
        "consent_tips": "yes",
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "07:30",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def order_obj(order_ref: str, **overrides: Any) -> dict[str, Any]:
    """A valid delivered order of one Lumen Pen and two packs of stylus tips (total 103.00)."""
    order: dict[str, Any] = {
        "order_ref": order_ref,
        "placed_at": "2024-03-02T14:05:00+01:00",
        "status": "delivered",
        "currency": "USD",
        "items": [
            {"product_name": "Lumen Pen", "sku": "LUM-PEN-01", "quantity": 1, "unit_price": "79.00"},
            {"product_name": "Stylus tips (6-pack)", "sku": "LUM-TIP-06", "quantity": 2, "unit_price": 12},
        ],
        "tracking_code": f"LMN{order_ref}001",
        "expected_delivery": "2024-03-07",
    }
    order.update(overrides)
    return order


def usage_obj(feature: str, uses: int, **overrides: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "feature": feature,
        "uses_last_30d": uses,
        "last_used_at": "2024-06-01T08:00:00Z",
    }
    usage.update(overrides)
    return usage


def write_csv(path: Path, rows: list[dict[str, Any]], *, columns: list[str] | None = None) -> Path:
    """Write rows as CSV; columns default to every known field that any row uses, in order."""
    if columns is None:
        used = {key for row in rows for key in row}
        columns = [name for name in FLAT_FIELDS if name in used]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in columns})
    return path


def write_json(path: Path, rows: list[Any]) -> Path:
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# Rows written straight into a migrated store, for action and service tests.
# ---------------------------------------------------------------------------


_TEMPLATES: dict[bool, Path] = {}


def _template(*, catalogue: bool) -> Path:
    """A store migrated to head (and seeded with the catalogue), built once per test process.

    Migrating takes seconds on these shared machines and hundreds of tests need a store, so
    each test gets a byte copy of this file: still its own real SQLite database."""
    if catalogue not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="supportbot-store-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "store.db"
        url = f"sqlite:///{path}"
        upgrade_database(url=url)
        engine = make_engine(url)
        if catalogue:
            with session_factory(engine).begin() as session:
                seed_catalogue(session=session)
        with engine.connect() as connection:  # everything into the main file, so a copy of it is whole
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _TEMPLATES[catalogue] = path
    return _TEMPLATES[catalogue]


def migrated_store(path: Path, *, catalogue: bool = True) -> str:
    """Put a store migrated to head at ``path`` (with the plan and reward catalogue unless
    ``catalogue=False``) and return its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(catalogue=catalogue), path)
    return f"sqlite:///{path}"


# ---------------------------------------------------------------------------
# The same stores on PostgreSQL (scripts/services.sh runs the server).
# ---------------------------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")
"""Every store test runs on both (the ``store_backend`` fixture in tests/conftest.py)."""
_PG_TEMPLATES: dict[bool, str] = {}


@lru_cache(maxsize=1)
def postgres() -> Services:
    """The test PostgreSQL server, started by ``scripts/services.sh`` if it is not running.

    ``scripts/test.sh`` starts it before pytest; a test run by hand starts it here. A server
    that cannot be installed or started fails every PostgreSQL test with the script's output:
    it is never a skip."""
    services = ensure_services(timeout=900)
    _drop_leftovers(services)
    return services


def _drop_leftovers(services: Services) -> None:
    """Databases of test processes that died before their clean-up (named ``t<pid>_...``)."""
    import psycopg

    with psycopg.connect(services.postgres_dsn(), autocommit=True) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database WHERE datname ~ '^t[0-9]+_'")]
    for name in names:
        pid = int(name[1:].split("_", 1)[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            drop_database(services, name)
        except PermissionError:
            continue


def new_database_name() -> str:
    return f"t{os.getpid()}_{uuid.uuid4().hex[:16]}"


def _pg_template(*, catalogue: bool) -> str:
    """A PostgreSQL database migrated to head (and seeded), built once per test process:
    each test gets ``CREATE DATABASE ... TEMPLATE`` of it, the server's own file copy."""
    if catalogue not in _PG_TEMPLATES:
        services = postgres()
        name = f"t{os.getpid()}_template_{'catalogue' if catalogue else 'bare'}"
        url = create_database(services, name, replace=True)
        upgrade_database(url=url)
        if catalogue:
            engine = make_engine(url, poolclass=NullPool)  # no connection may stay open on a template
            with session_factory(engine).begin() as session:
                seed_catalogue(session=session)
            engine.dispose()
        atexit.register(drop_database, services, name)
        _PG_TEMPLATES[catalogue] = name
    return _PG_TEMPLATES[catalogue]


def postgres_database(*, template: str | None = None) -> tuple[str, str]:
    """A new PostgreSQL database (empty, or a copy of database ``template``): (its URL, its name)."""
    name = new_database_name()
    return create_database(postgres(), name, template=template), name


def postgres_store(*, catalogue: bool = True) -> tuple[str, str]:
    """A fresh PostgreSQL store migrated to head (with the catalogue unless ``catalogue=False``):
    (its URL, its database name for :func:`drop_postgres_store`)."""
    return postgres_database(template=_pg_template(catalogue=catalogue))


def drop_postgres_store(name: str) -> None:
    drop_database(postgres(), name)


def prepared_store(path: Path) -> sessionmaker[Session]:
    """A migrated SQLite file with the plan and reward catalogue, and its session factory."""
    return session_factory(make_engine(migrated_store(path)))


def add_customer(
    session: Session,
    customer_id: str,
    *,
    first_name: str = "Test",
    plan: str = "plus",
    renews_in_days: int = 30,
    price_cents: int = 1200,
    status: str = "active",
    time_zone: str = "Europe/London",
    customer_since: dt.date = dt.date(2021, 6, 1),
    loyalty_points: int = 1200,
) -> Customer:
    """A customer with one subscription, some usage and a loyalty account."""
    today = dt.datetime.now(dt.UTC).date()
    customer = Customer(
        id=customer_id,
        first_name=first_name,
        last_name="Example",
        email=f"{customer_id.lower()}@example.com",
        time_zone=time_zone,
        customer_since=customer_since,
    )
    customer.subscriptions.append(
        Subscription(
            plan_code=plan,
            status=status,
            price_cents=price_cents,
            started_on=customer_since,
            renews_on=today + dt.timedelta(days=renews_in_days),
            auto_renew=status != "cancelled",
        )
    )
    customer.usage.append(FeatureUsage(feature="sync", uses_last_30d=40))
    customer.loyalty = LoyaltyAccount(points=loyalty_points, tier="silver")
    session.add(customer)
    session.flush()
    return customer


def add_order(session: Session, customer_id: str, order_ref: str, *, product: str, days_ago: int, status: str) -> Order:
    placed = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    order = Order(
        customer_id=customer_id,
        order_ref=order_ref,
        placed_at=placed,
        status=status,
        total_cents=3900,
        tracking_code="1Z999" if status == "shipped" else None,
        expected_delivery=(placed + dt.timedelta(days=days_ago + 2)).date() if status == "shipped" else None,
    )
    order.items.append(OrderItem(product_name=product, sku=product.upper().replace(" ", "-"), unit_price_cents=3900))
    session.add(order)
    session.flush()
    return order
