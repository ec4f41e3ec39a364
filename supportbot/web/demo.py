"""The demo host page: a fictional company site ("Lumen") with the widget on it.

Exists only when ``Settings.demo_mode`` is true (off by default; ``make run`` switches
it on; ``create_app`` does not even add these routes otherwise). The page lets a visitor
pick a demo customer or stay an anonymous visitor; its small backend mints the customer
token exactly as a real host site would after its own sign-in, with
``supportbot.identity``. Because that backend has no sign-in of its own, it mints only
for the fixed demo personas (``DEMO_CUSTOMER_IDS``, never any other customer id) and
only for clients on this machine (loopback); ``python -m supportbot.web`` refuses to
start in demo mode on any other interface (security review, issue 14 finding 3).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation_ids import CUSTOMER_ID_RE
from supportbot.errors import ConfigurationError
from supportbot.identity import mint_customer_token
from supportbot.settings import Settings
from supportbot.store.models import Customer

HERE = Path(__file__).resolve().parent
DEMO_CUSTOMER_IDS = tuple(f"C{n:06d}" for n in range(1, 13))
"""The only customers the demo page vouches for: the five personas of docs/DEMO_DATA.md and a few more."""
PICKER_SIZE = len(DEMO_CUSTOMER_IDS)
PERSONA_NOTES = {
    "C000001": "Pro monthly, renews in 10 days, an order on its way",
    "C000002": "Plus yearly, birthday today",
    "C000003": "Business, last payment failed",
    "C000004": "Starter, 4-year anniversary today",
    "C000005": "Pro yearly, cancelled",
}
CUSTOMER_ID_PATTERN = rf"^{CUSTOMER_ID_RE}$"


@dataclass(frozen=True)
class DemoCustomer:
    id: str
    name: str
    note: str


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, description="a demo customer's id, e.g. C000001")


class TokenResponse(BaseModel):
    token: str
    customer_id: str
    expires_in: int


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is this machine."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def demo_customers(*, session: Session, limit: int = PICKER_SIZE) -> list[DemoCustomer]:
    rows = session.execute(
        select(Customer.id, Customer.first_name, Customer.last_name)
        .where(Customer.id.in_(DEMO_CUSTOMER_IDS))
        .order_by(Customer.id)
        .limit(limit)
    ).all()
    return [DemoCustomer(id=r.id, name=f"{r.first_name} {r.last_name}", note=PERSONA_NOTES.get(r.id, "")) for r in rows]


def demo_router(*, settings: Settings, sessions: sessionmaker[Session]) -> APIRouter:
    router = APIRouter()
    templates = Jinja2Templates(directory=HERE / "templates")
    rasa_public_url = settings.rasa_public_url or settings.rasa_url

    def page(name: str, title: str) -> Callable[[Request], HTMLResponse]:
        def render(request: Request) -> HTMLResponse:
            with sessions() as session:
                customers = demo_customers(session=session)
            widget_config = {"rasaUrl": rasa_public_url, "tokenUrl": str(request.url_for("demo_token").path)}
            return templates.TemplateResponse(
                request,
                name,
                {
                    "title": title,
                    "customers": customers,
                    # JSON (|tojson) in a non-executed <script type="application/json">: the CSP allows it.
                    "widget_config": widget_config,
                },
            )

        return render

    router.add_api_route("/", page("home.html", "Lumen: smart notes for busy people"), methods=["GET"])

    @router.post("/demo/token", name="demo_token")
    def demo_token(body: TokenRequest, request: Request) -> TokenResponse:
        if not is_loopback(request.client.host if request.client else None):
            raise HTTPException(status_code=403, detail="demo tokens are minted only for this machine's own browser")
        if body.customer_id not in DEMO_CUSTOMER_IDS:
            raise HTTPException(
                status_code=403,
                detail=f"{body.customer_id} is not a demo persona; the demo page vouches only for those",
            )
        with sessions() as session:
            exists = session.get(Customer, body.customer_id) is not None
        if not exists:
            raise HTTPException(status_code=404, detail=f"no customer {body.customer_id} in the demo database")
        try:
            secret = settings.token_secret()
        except ConfigurationError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc
        ttl = settings.customer_token_ttl_seconds
        token = mint_customer_token(
            customer_id=body.customer_id, secret=secret, ttl_seconds=ttl, audience=settings.customer_token_audience
        )
        return TokenResponse(token=token, customer_id=body.customer_id, expires_in=ttl)

    return router
