"""An attacker against the running web process (``python -m supportbot.web``, a real OS process on
real SQLite files), anonymous and as a signed-in agent, as the security review probed it (issue 14):
oversized and malformed parameters and bodies, forged CSRF tokens, out-of-range numbers, many
parallel wrong passwords. Each must be refused with the right status, no answer may be a 500 or
echo what was sent, and nothing may change in any store (only the audit log and the sign-in
counters, which exist to record such attempts)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, MetaData, select, text

from supportbot.devstack import Server, base_env, free_port, http_ok, start_server, wait_until
from supportbot.store.console_models import ConsoleUser
from tests.console.builders import PHONE_CONVERSATION
from tests.console.conftest import EMAILS, PASSWORD, Console

BOOKKEEPING = {"console_audit", "console_users", "console_sessions", "alembic_version"}
"""Tables an attack may change: the audit log, failure counters and locks, the agent's session."""
HUGE = "99999999999999999999"


@dataclass
class WebProcess:
    url: str
    server: Server


@pytest.fixture
def web_process(awkward: Console, tmp_path: Path) -> Iterator[WebProcess]:
    port = free_port()
    env = base_env(
        SUPPORTBOT_MODE="development",
        SUPPORTBOT_DEMO_MODE="false",
        SUPPORTBOT_DATABASE_URL=awkward.settings.database_url,
        SUPPORTBOT_TRACKER_STORE_URL=awkward.settings.tracker_store_url,
        SUPPORTBOT_CONSOLE_SECRET="p" * 40,
    )
    server = start_server(
        "web", [sys.executable, "-m", "supportbot.web", "--port", str(port)], env=env, log_dir=tmp_path
    )
    try:
        wait_until(server, http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=300)
        yield WebProcess(f"http://127.0.0.1:{port}", server)
    finally:
        server.stop()


def snapshot(profile: Engine, tracker: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table an attack must not change, in both stores."""
    tables = MetaData()
    tables.reflect(profile)
    state: dict[str, list[tuple[object, ...]]] = {}
    with profile.connect() as connection:
        for table in tables.sorted_tables:
            if table.name not in BOOKKEEPING:
                state[table.name] = sorted(tuple(map(repr, row)) for row in connection.execute(select(table)))
    with tracker.connect() as connection:
        state["events"] = [tuple(row) for row in connection.execute(text("SELECT * FROM events ORDER BY id"))]
    return state


def form_token(client: httpx.Client, path: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def sign_in(url: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=300) as client:
        token = form_token(client, "/console/login", "login_token")
        return client.post("/console/login", data={"email": email, "password": password, "login_token": token})


def ref(console: Console, conversation_id: str) -> int:
    with console.tracker.connect() as connection:
        found = connection.scalar(text("SELECT min(id) FROM events WHERE sender_id = :s"), {"s": conversation_id})
    assert found is not None
    return int(found)


class Probe:
    """Sends requests and checks each answer's status; never a 500, never a stack trace."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def check(self, what: str, response: httpx.Response, *statuses: int) -> httpx.Response:
        self.seen.append((what, response.status_code))
        assert response.status_code in statuses, (what, response.status_code, response.text[:300])
        assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower(), what
        return response


def test_an_attacker_is_refused_everywhere_and_changes_nothing(awkward: Console, web_process: WebProcess) -> None:
    url, probe = web_process.url, Probe()
    before = snapshot(awkward.sessions.kw["bind"], awkward.tracker)

    # The agent signs in first: the flood of wrong passwords below uses up this address's allowance.
    agent = httpx.Client(base_url=url, timeout=300)
    login = form_token(agent, "/console/login", "login_token")
    signed_in = agent.post(
        "/console/login", data={"email": EMAILS["agent"], "password": PASSWORD, "login_token": login}
    )
    probe.check("agent signs in", signed_in, 303)
    csrf = form_token(agent, "/console/conversations", "csrf_token")

    with httpx.Client(base_url=url, timeout=300) as anonymous:
        probe.check("anonymous page", anonymous.get("/console/conversations", follow_redirects=False), 303)
        probe.check("anonymous form", anonymous.post(f"/console/transcripts/{ref(awkward, 'anon:3f9a')}/tags"), 401)
        probe.check(
            "anonymous forget", anonymous.post("/console/customers/C100001/forget", data={"confirm": "C100001"}), 401
        )
        token = form_token(anonymous, "/console/login", "login_token")
        forged = {"email": EMAILS["admin"], "password": PASSWORD, "login_token": "forged." + token[7:]}
        probe.check("forged sign-in token", anonymous.post("/console/login", data=forged), 403)
        big = {"email": EMAILS["admin"], "password": "x" * 300_000, "login_token": token}
        probe.check("300 KB sign-in body", anonymous.post("/console/login", data=big), 413)
        chunks = (b"password=" + b"x" * 1024 for _ in range(200))
        chunked = anonymous.post(
            "/console/login", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        probe.check("200 KB chunked body", chunked, 413)
        long_password = {"email": EMAILS["admin"], "password": "secret-" * 300, "login_token": token}
        answer = probe.check("over-long password", anonymous.post("/console/login", data=long_password), 422)
        assert "secret-secret" not in answer.text  # the error names the field, never echoes it
        probe.check("JSON array body", anonymous.post("/console/login", json=[1, 2, 3]), 403)
        probe.check("8 KB query string", anonymous.get("/console/login", params={"q": "x" * 8000}), 414)

    # Twenty parallel wrong passwords for the lead: nine more are admitted from this address, the
    # rest refused before any hashing; every admitted one is counted (the lock comes at five).
    with ThreadPoolExecutor(max_workers=20) as pool:
        flood = list(pool.map(lambda _: sign_in(url, EMAILS["lead"], "wrong password!!"), range(20)))
    statuses = sorted(r.status_code for r in flood)
    assert statuses.count(429) == 11 and statuses.count(401) >= 5 and set(statuses) <= {401, 429, 503}, statuses
    assert all(int(r.headers["retry-after"]) > 0 for r in flood if r.status_code in (429, 503))
    probe.check("right password after the flood", sign_in(url, EMAILS["lead"], PASSWORD), 429)
    with awkward.sessions() as session:
        lead = session.scalar(select(ConsoleUser).where(ConsoleUser.email == EMAILS["lead"]))
        assert lead is not None and lead.locked_until is not None and lead.failed_logins >= 5

    # The signed-in agent tries what agents may not, and what no one may.
    web, phone = ref(awkward, "cust:C100001:web"), ref(awkward, PHONE_CONVERSATION)
    for params in ({"page": HUGE}, {"page": "-1"}, {"until": "9999-12-31"}, {"since": "0000-00-00"}, {"q": "x" * 300}):
        probe.check(f"list {params}", agent.get("/console/conversations", params=params), 400)
    probe.check("KPIs until 9999", agent.get("/console/", params={"until": "9999-12-31"}), 400)
    probe.check("feedback since 0001", agent.get("/console/feedback", params={"since": "0001-01-01"}), 400)
    listing = probe.check("list with odd bytes", agent.get("/console/conversations?q=%00%ff%E2%80%A8"), 200)
    listing = probe.check("the whole list", agent.get("/console/conversations"), 200)
    assert "4915112345678" not in listing.text and "555 0147" not in listing.text
    probe.check("transcript ref too big", agent.get(f"/console/transcripts/{HUGE}"), 422)
    probe.check("transcript by id", agent.get("/console/transcripts", params={"id": PHONE_CONVERSATION}), 403)
    probe.check("customer page", agent.get("/console/customers/C100001"), 403)
    probe.check("audit log", agent.get("/console/audit"), 403)
    redacted = probe.check("GET reveal", agent.get(f"/console/transcripts/{web}?reveal=1"), 200)
    assert "Hi [NAME]!" in redacted.text and "Maya" not in redacted.text
    for path, data in (
        (f"/console/transcripts/{phone}/reveal", {}),
        (f"/console/transcripts/{web}/tags", {"tag": "x"}),
        (f"/console/transcripts/{web}/review", {"status": "reviewed"}),
        ("/console/conversations/export", {"format": "json", "reveal": "1"}),
        ("/console/customers/C100001/reveal", {}),
        ("/console/customers/C100001/export.json", {}),
        ("/console/customers/C100001/forget", {"confirm": "C100001"}),
    ):
        probe.check(f"{path} with a forged token", agent.post(path, data={**data, "csrf_token": "f" * 43}), 403)
        answer = probe.check(f"{path} as an agent", agent.post(path, data={**data, "csrf_token": csrf}), 403)
        assert "Maya" not in answer.text and "Patel" not in answer.text
    probe.check(
        "follow-up id too big",
        agent.post(f"/console/feedback/follow-ups/{HUGE}/done", data={"csrf_token": csrf}),
        403,
        422,
    )
    note = {"text": "n" * 100_000, "csrf_token": csrf}
    probe.check("100 KB note", agent.post(f"/console/transcripts/{web}/notes", data=note), 413)
    probe.check("sign-out with a forged token", agent.post("/console/logout", data={"csrf_token": "f" * 43}), 403)
    probe.check("still signed in", agent.get("/console/conversations", follow_redirects=False), 200)
    agent.close()

    assert snapshot(awkward.sessions.kw["bind"], awkward.tracker) == before
    log = web_process.server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, web_process.server.log_tail()
    assert len(probe.seen) >= 40
