"""Sign-in under attack (security review, issue 14 finding 8), over real HTTP to the console served by
uvicorn with parallel clients: failures counted atomically, limits before hashing, a bounded number
of hashes at once, the same work for every kind of failure, and all of it audited.

The password hasher is wrapped to count (and slow down) verifications, since the property under
test is how many argon2 verifications run and when; never a timing measurement.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from supportbot.console import auth
from supportbot.store.console_models import AuditEntry, ConsoleUser
from tests.console.conftest import EMAILS, PASSWORD, Console


class CountingHasher(PasswordHasher):
    """argon2id at the tests' low cost, counting verifications and how many ran at once."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.delay, self.calls, self.running, self.peak = delay, 0, 0, 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.delay)  # long enough for parallel requests to overlap
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    counting = CountingHasher(delay=0.2)
    monkeypatch.setattr(auth, "_hasher", counting)
    auth._dummy_hash.cache_clear()
    auth._dummy_hash()  # made before counting starts
    counting.calls = 0
    yield counting
    auth._dummy_hash.cache_clear()


def set_limits(console: Console, **limits: float) -> None:
    from supportbot.console.throttle import SignInGuard, SignInLimits  # here: the tests above run on older code too

    console.console_app.state.console.sign_in = SignInGuard(SignInLimits(**limits))  # type: ignore[arg-type]


def attempt(base_url: str, email: str, password: str) -> httpx.Response:
    """One browser's sign-in: fetch the form (its token and cookie), post it."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        form = client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token, form.text
        return client.post("/console/login", data={"email": email, "password": password, "login_token": token[1]})


def parallel(base_url: str, count: int, email: str, password: str) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: attempt(base_url, email, password), range(count)))


def audit_rows(console: Console) -> list[tuple[int | None, str, dict[str, object]]]:
    with console.sessions() as session:
        rows = session.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.details).order_by(AuditEntry.id)
        )
        return [(actor, action, json.loads(details)) for actor, action, details in rows]


def account(console: Console, role: str) -> ConsoleUser:
    with console.sessions() as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == EMAILS[role]))
        assert user is not None
        return user


def test_parallel_wrong_passwords_are_all_counted_and_audited(
    console: Console, base_url: str, hasher: CountingHasher
) -> None:
    """The reviewer's ten parallel wrong passwords left failed_logins at 1 and nothing in the log.
    (Ten is the default limit per address; two hashes run at once.)"""
    responses = parallel(base_url, 10, EMAILS["agent"], "not the password!")
    assert [r.status_code for r in responses] == [401] * 10
    agent = account(console, "agent")
    failures = [d for actor, action, d in audit_rows(console) if action == "sign_in_failed" and actor == agent.id]
    assert len(failures) == 10  # every attempt is in the log
    wrong = sum(1 for d in failures if d["reason"] == "wrong_password")
    assert agent.failed_logins == wrong >= 5  # none lost; the rest arrived after the lock
    assert {d["reason"] for d in failures} <= {"wrong_password", "locked"}
    assert agent.locked_until is not None and agent.locked_until > dt.datetime.now(dt.UTC)
    locks = [d for actor, action, d in audit_rows(console) if action == "account_locked" and actor == agent.id]
    assert len(locks) == wrong - auth.MAX_FAILED_LOGINS + 1  # the fifth failure locked it, later ones renewed it
    for _, _, details in audit_rows(console):
        assert EMAILS["agent"] not in json.dumps(details) and "127.0.0.1" not in json.dumps(details)


def test_limits_per_address_refuse_before_any_hashing(console: Console, base_url: str, hasher: CountingHasher) -> None:
    set_limits(console, per_source=3)
    responses = [attempt(base_url, EMAILS["lead"], "wrong password!!") for _ in range(5)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert int(responses[-1].headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in responses[-1].text
    assert hasher.calls == 3  # the refused attempts cost no hash
    assert attempt(base_url, EMAILS["lead"], PASSWORD).status_code == 429  # not even the right password
    set_limits(console, per_source=100, overall=2)
    statuses = [
        attempt(base_url, email, "wrong password!!").status_code
        for email in ("a@x.example", "b@x.example", "c@x.example")
    ]
    assert statuses == [401, 401, 429]  # the overall limit holds across accounts and addresses


def test_no_more_hashes_run_at_once_than_the_limit(console: Console, base_url: str, hasher: CountingHasher) -> None:
    """Default limits: two hashes at once (the machine has two cores), ten attempts per address."""
    hasher.delay = 0.5  # each verification holds its slot long enough for the others to queue
    responses = parallel(base_url, 8, "nobody@lumen.example", "wrong password!!")
    assert [r.status_code for r in responses] == [401] * 8
    assert hasher.calls == 8 and hasher.peak <= 2
    set_limits(console, per_source=50, concurrent_hashes=1, hash_wait=0.05)
    hasher.delay = 3.0  # the parallel attempts arrive well within one verification's time
    statuses = sorted(r.status_code for r in parallel(base_url, 4, "nobody@lumen.example", "wrong password!!"))
    assert 401 in statuses and 503 in statuses and set(statuses) <= {401, 503}  # busy rather than queued forever


def test_every_failure_costs_the_same_one_verification(console: Console, base_url: str, hasher: CountingHasher) -> None:
    """An unknown email, a disabled account, a locked account and a wrong password each verify one hash,
    so the answer's timing tells nothing (a locked account once answered without hashing)."""
    with console.sessions.begin() as session:
        session.execute(
            update(ConsoleUser)
            .where(ConsoleUser.email == EMAILS["agent"])
            .values(locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
        )
        session.execute(update(ConsoleUser).where(ConsoleUser.email == EMAILS["lead"]).values(active=False))
    verifications: dict[str, int] = {}
    for email, password, reason in (
        ("nobody@lumen.example", "wrong password!!", "unknown_account"),
        (EMAILS["lead"], PASSWORD, "inactive"),
        (EMAILS["agent"], PASSWORD, "locked"),
        (EMAILS["admin"], "wrong password!!", "wrong_password"),
    ):
        before = hasher.calls
        assert attempt(base_url, email, password).status_code == 401, reason
        verifications[reason] = hasher.calls - before
    assert verifications == {"unknown_account": 1, "inactive": 1, "locked": 1, "wrong_password": 1}
    reasons = [details["reason"] for _, action, details in audit_rows(console) if action == "sign_in_failed"]
    assert reasons == ["unknown_account", "inactive", "locked", "wrong_password"]
