"""Customer pages: find a customer, see their profile and history, export all of it, forget them; the audit log.

Showing a customer's personal data and exporting it are POST forms with the session's CSRF
token, like every action that writes the audit log; a GET shows the redacted page only. Audit
entries name customers by keyed hash (``audit_log``), never by id.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from supportbot.console import audit_log, customers, intelligence_view, params, tracker
from supportbot.console.auth import StaffUser
from supportbot.console.conversations import masker_for
from supportbot.console.web import Forbidden, audit, console, form_by, render, require
from supportbot.errors import NotFoundError
from supportbot.store.console_models import AuditEntry, ConsoleUser
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import Customer, SupportInteraction
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.repo import granted_perks, loyalty_history

router = APIRouter()
Viewer = Annotated[StaffUser, Depends(require("view_customers"))]
LIST_LIMIT = 50


@router.get("/customers", response_class=HTMLResponse)
def customer_list(request: Request, user: Viewer) -> Response:
    """Customers by id prefix (the id is what a conversation or a ticket names; names stay hidden)."""
    wanted = params.text(request.query_params, "id", max_length=64)
    with console(request).stores.profile() as session:
        stmt = select(Customer.id, Customer.segment, Customer.customer_since).order_by(Customer.id).limit(LIST_LIMIT)
        if wanted:
            stmt = stmt.where(Customer.id.like(tracker.like_escape(wanted) + "%", escape=tracker.LIKE_ESCAPE))
        found = session.execute(stmt).all()
        total = session.scalar(select(func.count()).select_from(Customer)) or 0
    return render(request, "customers.html", user, found=found, wanted=wanted, total=total)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: str, user: Viewer) -> Response:
    """Redacted, whatever the query string says: revealing is the POST below."""
    return _customer_page(request, customer_id, user, reveal=False)


@router.post("/customers/{customer_id}/reveal", response_class=HTMLResponse)
def reveal_customer(
    request: Request, customer_id: str, user: Annotated[StaffUser, Depends(form_by("reveal_pii"))]
) -> Response:
    return _customer_page(request, customer_id, user, reveal=True)


def _customer_page(request: Request, customer_id: str, user: StaffUser, *, reveal: bool) -> Response:
    state = console(request)
    if reveal and not user.can("view_customers"):
        raise Forbidden(f"your role ({user.role}) may not view customers")
    with state.stores.profile() as session, state.stores.tracker() as connection:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return render(request, "error.html", user, status_code=404, message="No such customer.")
        masker = masker_for(session, [customer_id], reveal=reveal)
        context: dict[str, Any] = {
            "customer": customer,
            "subscriptions": list(customer.subscriptions),
            "orders": list(customer.orders),
            "identities": list(customer.channel_identities),
            "conversations": customers.conversation_ids(session, connection, customer_id),
            "feedback": list(
                session.scalars(
                    select(Feedback).where(Feedback.customer_id == customer_id).order_by(Feedback.created_at.desc())
                )
            ),
            "outbox": list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.customer_id == customer_id)
                    .order_by(OutboxMessage.planned_at.desc())
                )
            ),
            "loyalty": customer.loyalty,
            "insight": intelligence_view.customer_insight(session, customer_id),
            "perks": granted_perks(session=session, customer_id=customer_id),
            "ledger": loyalty_history(session=session, customer_id=customer_id, limit=10),
            "interactions": list(
                session.scalars(
                    select(SupportInteraction)
                    .where(SupportInteraction.customer_id == customer_id)
                    .order_by(SupportInteraction.created_at.desc())
                )
            ),
        }
        response = render(request, "customer.html", user, mask=masker, reveal=reveal, **context)
    if reveal:
        audit(request, user, "reveal_customer", audit_log.customer_subject(state.secret, customer_id))
    return response


@router.post("/customers/{customer_id}/export.json")
def customer_export(
    request: Request, customer_id: str, user: Annotated[StaffUser, Depends(form_by("export"))]
) -> Response:
    state = console(request)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        try:
            data = customers.export_customer(session, connection, customer_id)
        except NotFoundError:
            return render(request, "error.html", user, status_code=404, message="No such customer.")
    audit(request, user, "export_customer", audit_log.customer_subject(state.secret, customer_id))
    return Response(
        json.dumps(data, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'},
    )


@router.post("/customers/{customer_id}/forget")
def forget(
    request: Request,
    customer_id: str,
    user: Annotated[StaffUser, Depends(form_by("forget"))],
    confirm: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Irreversible, so the form asks for the customer id to be typed again."""
    if confirm != customer_id:
        raise Forbidden("type the customer id to confirm forgetting this customer")
    state = console(request)
    try:
        report = customers.forget_customer(
            stores=state.stores, customer_id=customer_id, actor_id=user.id, secret=state.secret
        )
    except NotFoundError:
        return render(request, "error.html", user, status_code=404, message="No such customer.")
    return render(request, "forgotten.html", user, deleted=sorted((k, v) for k, v in report.deleted.items() if v))


@router.get("/audit", response_class=HTMLResponse, name="audit_log")
def audit_page(request: Request, user: Annotated[StaffUser, Depends(require("view_audit"))]) -> Response:
    """The latest entries; a forgotten customer can be looked up by id (``?customer=``) through its keyed hash."""
    state = console(request)
    wanted = params.text(request.query_params, "customer", max_length=255)
    with state.stores.profile() as session:
        stmt = (
            select(AuditEntry, ConsoleUser.email)
            .outerjoin(ConsoleUser, ConsoleUser.id == AuditEntry.actor_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(200)
        )
        if wanted:
            stmt = stmt.where(audit_log.concerning(state.secret, wanted))
        entries = session.execute(stmt).all()
    return render(request, "audit.html", user, entries=entries, wanted=wanted)
