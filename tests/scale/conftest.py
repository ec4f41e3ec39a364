"""The scaled stack for the tests of issue 19: PostgreSQL and Redis (scripts/services.sh), two
Rasa replicas and two action servers behind nginx, on fresh databases, started once per session
(after the single-stack tests: tests/conftest.py orders them last) and stopped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportbot.scaleout.services import drop_database
from supportbot.scaleout.stack import Ports, ScaledStack, Secrets, start_scaled_stack
from tests.factories import postgres
from tests.prepared import DEMO_REFERENCE_DATE


@pytest.fixture(scope="session")
def scaled(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    services = postgres()
    profile_db, tracker_db = f"t{os.getpid()}_scaled_profile", f"t{os.getpid()}_scaled_tracker"
    stack = start_scaled_stack(
        services=services,
        model=trained_model,
        workdir=tmp_path_factory.mktemp("scaled"),
        ports=Ports.free(),
        stack_secrets=Secrets.fresh(),
        profile_db=profile_db,
        tracker_db=tracker_db,
        demo=True,
        fresh=True,
        reference_date=DEMO_REFERENCE_DATE,
    )
    yield stack
    stack.stop()
    for name in (profile_db, tracker_db):
        drop_database(services, name)
