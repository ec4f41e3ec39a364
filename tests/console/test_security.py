"""Security of the console over real HTTP: anonymous requests, roles, CSRF, cookies, headers, SQL in search."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from starlette.routing import BaseRoute

from supportbot.store.console_models import AuditEntry, ConsoleUser, ConversationTag
from tests.console.conftest import (
    EMAILS,
    PASSWORD,
    Console,
    client_for,
    csrf_token,
    export,
    login_token,
    transcript_path,
)

PUBLIC = {("GET", "/login"), ("POST", "/login")}
"""The sign-in form and its submission: the only routes an anonymous browser may reach."""


def api_routes(routes: Sequence[BaseRoute], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every endpoint with its full path, through included routers (FastAPI 0.165 wraps them)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "C100001" if m.group(1) == "customer_id" else "1", path)


def test_every_route_refuses_an_anonymous_request(console: Console, anonymous: TestClient) -> None:
    routes = api_routes(console.console_app.routes)
    assert len(routes) >= 15  # the walk below really covers the console
    checked = 0
    for path, route in routes:
        for method in route.methods - {"HEAD"}:
            if (method, path) in PUBLIC:
                continue
            response = anonymous.request(method, "/console" + _concrete(path), follow_redirects=False)
            checked += 1
            if method == "GET":
                assert response.status_code == 303, path
                assert response.headers["location"] == "http://localhost/console/login"
            else:
                assert response.status_code == 401, path
            assert "C100001" not in response.text and "Maya" not in response.text
    assert checked == len(routes) - len(PUBLIC)
    with console.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConversationTag)) == 0


def test_a_forged_or_expired_session_cookie_is_anonymous(console: Console, anonymous: TestClient) -> None:
    anonymous.cookies.set("lumen_console", "made-up-token", domain="localhost", path="/console")
    assert anonymous.get("/console/conversations", follow_redirects=False).status_code == 303


def test_an_agent_cannot_see_what_only_leads_may(console: Console, agent: TestClient, lead: TestClient) -> None:
    maya_web = transcript_path(console, "cust:C100001:web")
    assert agent.get("/console/conversations").status_code == 200
    assert agent.get(maya_web).status_code == 200
    for path in (
        "/console/transcripts?id=cust:C100001:web",
        "/console/customers",
        "/console/customers/C100001",
        "/console/outreach",
        "/console/audit",
    ):
        response = agent.get(path)
        assert response.status_code == 403, path
        assert "Patel" not in response.text and console.world.maya_email not in response.text
    page = agent.get(maya_web).text
    assert "Add tag" not in page and "/reveal" not in page and "Export" not in page
    token = csrf_token(page)
    for path in (maya_web + "/reveal", "/console/customers/C100001/reveal", "/console/customers/C100001/export.json"):
        response = agent.post(path, data={"csrf_token": token})
        assert response.status_code == 403, path
        assert "Patel" not in response.text and "Maya" not in response.text
    assert export(agent, token).status_code == 403
    response = agent.post(maya_web + "/tags", data={"tag": "agent-tag", "csrf_token": token})
    assert response.status_code == 403
    feedback = agent.get("/console/feedback").text
    assert "Detractors awaiting follow-up" not in feedback and "Mark done" not in feedback
    assert "Detractors awaiting follow-up" in lead.get("/console/feedback").text
    with console.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConversationTag)) == 0


def test_a_lead_cannot_forget_or_read_the_audit_log(console: Console, lead: TestClient) -> None:
    page = lead.get("/console/customers/C100001").text
    assert "Forget customer" not in page
    response = lead.post(
        "/console/customers/C100001/forget", data={"confirm": "C100001", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 403
    assert lead.get("/console/audit").status_code == 403
    assert lead.get("/console/customers/C100001").status_code == 200


def test_personal_data_is_redacted_until_a_lead_reveals_it_and_that_is_audited(
    console: Console, lead: TestClient
) -> None:
    maya_web = transcript_path(console, "cust:C100001:web")
    redacted = lead.get(maya_web).text
    assert "Maya" not in redacted and "maya.patel@mail.example" not in redacted
    assert "Hi [NAME]!" in redacted and "[EMAIL]" in redacted
    telegram = lead.get(transcript_path(console, "tg-99812")).text
    assert "555 0147" not in telegram and "[PHONE]" in telegram
    customer = lead.get("/console/customers/C100001").text
    assert "Patel" not in customer and console.world.maya_email not in customer
    revealed = lead.post(maya_web + "/reveal", data={"csrf_token": csrf_token(redacted)}).text
    assert "Hi Maya!" in revealed and "maya.patel@mail.example" in revealed
    with console.sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert "reveal_transcript" in actions


def test_a_form_without_a_valid_csrf_token_is_refused(console: Console, lead: TestClient) -> None:
    url = transcript_path(console, "anon:3f9a") + "/tags"
    assert lead.post(url, data={"tag": "no-token"}).status_code == 403
    assert lead.post(url, data={"tag": "wrong-token", "csrf_token": "x" * 43}).status_code == 403
    other = client_for(console, "admin")
    other_token = csrf_token(other.get("/console/conversations").text)
    assert lead.post(url, data={"tag": "other-session", "csrf_token": other_token}).status_code == 403
    with console.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConversationTag)) == 0
    token = csrf_token(lead.get(transcript_path(console, "anon:3f9a")).text)
    assert lead.post(url, data={"tag": "billing", "csrf_token": token}, follow_redirects=False).status_code == 303
    with console.sessions() as session:
        assert list(session.scalars(select(ConversationTag.tag))) == ["billing"]
    page = lead.get("/console/conversations").text
    assert lead.post("/console/logout", data={}).status_code == 403  # sign-out is a form too
    assert (
        lead.post("/console/logout", data={"csrf_token": csrf_token(page)}, follow_redirects=False).status_code == 303
    )
    assert lead.get("/console/conversations", follow_redirects=False).status_code == 303


def test_sign_in_needs_its_form_token_and_the_right_password(console: Console, anonymous: TestClient) -> None:
    def form() -> dict[str, str]:
        page = anonymous.get("/console/login")
        return {"email": EMAILS["lead"], "password": PASSWORD, "login_token": login_token(page.text)}

    assert anonymous.post("/console/login", data={**form(), "login_token": "forged"}).status_code == 403
    assert anonymous.post("/console/login", data={**form(), "password": "wrong password!"}).status_code == 401
    assert "lumen_console" not in anonymous.cookies
    good = form()
    anonymous.cookies.delete("lumen_console_login")
    assert anonymous.post("/console/login", data=good).status_code == 403  # token without its cookie
    response = anonymous.post("/console/login", data=form(), follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain-HTTP localhost in development


def test_cookies_are_secure_off_localhost(console: Console) -> None:
    with TestClient(console.app, base_url="https://console.example.com") as client:
        page = client.get("/console/login")
        assert "Secure" in page.headers["set-cookie"]
        response = client.post(
            "/console/login",
            data={"email": EMAILS["lead"], "password": PASSWORD, "login_token": login_token(page.text)},
            follow_redirects=False,
        )
        assert "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_repeated_wrong_passwords_lock_the_account(console: Console, anonymous: TestClient) -> None:
    for _ in range(5):
        page = anonymous.get("/console/login")
        data = {"email": EMAILS["agent"], "password": "not the password", "login_token": login_token(page.text)}
        assert anonymous.post("/console/login", data=data).status_code == 401
    page = anonymous.get("/console/login")
    data = {"email": EMAILS["agent"], "password": PASSWORD, "login_token": login_token(page.text)}
    assert anonymous.post("/console/login", data=data).status_code == 401  # right password, but locked
    with console.sessions() as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == EMAILS["agent"]))
        assert user is not None and user.locked_until is not None
        assert user.password_hash.startswith("$argon2id$")


def test_every_page_sends_a_strict_content_security_policy(
    console: Console, lead: TestClient, anonymous: TestClient
) -> None:
    transcript = transcript_path(console, "anon:3f9a")
    for client, path in ((anonymous, "/console/login"), (lead, "/console/"), (lead, transcript)):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"


def test_search_input_cannot_inject_sql(console: Console, lead: TestClient) -> None:
    token = csrf_token(lead.get("/console/conversations").text)

    def found(q: str) -> set[str]:
        body = export(lead, token, **({"q": q} if q else {})).json()
        return {c["conversation_id"] for c in body["conversations"]}

    everything = found("")
    assert len(everything) == 4
    for attack in (
        "' OR 1=1 --",
        "x') OR ('1'='1",
        "%",
        "\\",
        "'; DROP TABLE events; --",
        '" OR ""="',
        "event",  # a JSON key of every stored event, not a word anyone wrote
    ):
        assert found(attack) == set(), attack
    assert found("_") == {"anon:3f9a"}  # only where an underscore was really written ("window.__pwned")
    assert found("HUMAN") == {"cust:C100001:web"}  # case-insensitive, in the message text only
    assert found("my order never came") == {"anon:3f9a"}
    assert found("<script>") == {"anon:3f9a"}
    with console.tracker.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM events")) > 40
    page = lead.get("/console/conversations", params={"q": "' OR 1=1 --", "intent": "x' OR '1'='1"})
    assert page.status_code == 200 and '<span id="total">0</span>' in page.text


def test_the_forget_audit_entry_holds_no_personal_data(console: Console, admin: TestClient) -> None:
    page = admin.get("/console/customers/C100001").text
    response = admin.post(
        "/console/customers/C100001/forget", data={"confirm": "C100001", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 200 and "Customer forgotten" in response.text
    with console.sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_customer"))
    assert entry is not None
    stored = f"{entry.subject} {entry.details}"
    for personal in ("C100001", "Maya", "Patel", console.world.maya_email, "0147", "tg-99812"):
        assert personal not in stored
    assert json.loads(entry.details)["deleted"]["customers"] == 1
    found = admin.get("/console/audit", params={"customer": "C100001"}).text
    assert "forget_customer" in found


def test_production_passwords_are_argon2id_at_no_less_than_the_library_defaults() -> None:
    """The tests hash cheaply (conftest.py); the console itself must not."""
    from argon2 import DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM, DEFAULT_TIME_COST, Type

    from supportbot.console.auth import production_hasher

    production = production_hasher()
    assert production.type is Type.ID
    assert production.time_cost >= DEFAULT_TIME_COST
    assert production.memory_cost >= DEFAULT_MEMORY_COST
    assert production.parallelism >= DEFAULT_PARALLELISM
    assert production.hash("a long enough password").startswith("$argon2id$")
