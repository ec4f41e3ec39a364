"""Conversation pages: the filtered list, exports of the filtered set, a transcript and its review.

A conversation is named in URLs by its ref (``tracker``), a number, so conversation ids with
any characters (``/``, ``?``, ``#``: the callback channel accepts them) never break a link,
and an agent's pages never carry a phone number that names a WhatsApp/SMS conversation.
Leads can open a transcript by its id (``/transcripts?id=``), which redirects to the ref.

Everything that writes an audit row is a POST form carrying the session's CSRF token: showing
personal data (``/transcripts/<ref>/reveal``) and exporting (``/conversations/export``). A GET
never reveals or audits (security review, issue 14 finding 16), so a link, a prefetch or
another site's top-level navigation cannot make the console reveal data or write the log.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from supportbot.console import audit_log, conversations, intelligence_view, params, tracker, transcripts
from supportbot.console.auth import StaffUser
from supportbot.console.stores import linked_senders
from supportbot.console.web import Forbidden, NotFound, audit, console, form_by, render, require
from supportbot.store.console_models import REVIEW_STATUSES, ConversationNote, ConversationReview, ConversationTag
from supportbot.store.models import utcnow

router = APIRouter()
Viewer = Annotated[StaffUser, Depends(require("view_conversations"))]
Revealer = Annotated[StaffUser, Depends(form_by("reveal_pii"))]
Reviewer = Annotated[StaffUser, Depends(form_by("review"))]
Ref = Annotated[int, Path(ge=1, le=params.MAX_SQL_INT)]
CSV_COLUMNS = (
    "conversation_id",
    "customer_id",
    "channel",
    "started_at",
    "last_at",
    "customer_turns",
    "handoff",
    "fallback",
    "proactive_initiated",
    "csat",
    "tags",
    "review",
    "transcript",
)


@router.get("/conversations", response_class=HTMLResponse)
def conversation_list(request: Request, user: Viewer) -> Response:
    state = console(request)
    filters = conversations.Filters.from_params(request.query_params)
    page = params.page_number(request.query_params)
    size = state.settings.console_page_size
    listed: list[conversations.ListedConversation] = []
    total = 0
    intents: list[str] = []
    with state.stores.profile() as session, state.stores.tracker() as connection:
        if connection is not None:
            intents = tracker.intents_in_use(connection)
            if not filters.errors:
                query = conversations.build_query(session, connection, filters, redacted=not user.can("reveal_pii"))
                total = tracker.count_conversations(connection, query)
                page = min(page, max(1, -(-total // size)))
                rows = tracker.list_conversations(connection, query, limit=size, offset=(page - 1) * size)
                listed = conversations.describe(session, connection, rows)
        mask = conversations.masker_for(session, [], reveal=False, show_ids=user.can("reveal_pii"))
    base = request.url_for("conversation_list")
    return render(
        request,
        "conversations.html",
        user,
        status_code=400 if filters.errors else 200,
        filters=filters,
        listed=listed,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        intents=intents,
        mask=mask,
        review_statuses=REVIEW_STATUSES,
        page_url=lambda n: str(base.include_query_params(**filters.params(), page=n)),
        export_url=str(request.url_for("export_conversations").include_query_params(**filters.params())),
    )


def _export(request: Request, user: StaffUser, *, reveal: bool) -> list[dict[str, object]]:
    state = console(request)
    filters = conversations.Filters.from_params(request.query_params)
    if filters.errors:
        raise params.BadParameter("; ".join(filters.errors))
    with state.stores.profile() as session, state.stores.tracker() as connection:
        if connection is None:
            records: list[dict[str, object]] = []
        else:
            query = conversations.build_query(session, connection, filters, redacted=False)
            records = list(conversations.export_records(session, connection, query, reveal=reveal))
    subject = audit_log.customer_subject(state.secret, filters.customer) if filters.customer else ""
    audit(request, user, "export_conversations", subject, **filters.audit_details(), count=len(records), reveal=reveal)
    return records


@router.post("/conversations/export")
def export_conversations(
    request: Request,
    user: Annotated[StaffUser, Depends(form_by("export"))],
    format: Annotated[str, Form(max_length=4)] = "json",
    reveal: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """The filtered set (filters in the query string) as JSON or CSV; with personal data if asked."""
    if format not in ("json", "csv"):
        raise params.BadParameter("format: expected json or csv")
    if reveal and not user.can("reveal_pii"):
        raise Forbidden(f"your role ({user.role}) may not see personal data")
    records = _export(request, user, reveal=reveal == "1")
    if format == "json":
        body = json.dumps({"conversations": records}, ensure_ascii=False, indent=1)
        return _download(body, "application/json", "conversations.json")
    return _download(_csv(records), "text/csv; charset=utf-8", "conversations.csv")


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv(records: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        messages = record.pop("messages")
        assert isinstance(messages, list)
        record["tags"] = " ".join(str(tag) for tag in record["tags"])  # type: ignore[attr-defined]
        record["transcript"] = "\n".join(f"{m['from']}: {m['text']}" for m in messages)
        writer.writerow({key: _csv_safe(value) for key, value in record.items()})
    return out.getvalue()


def _csv_safe(value: object) -> object:
    """Customer text opened in a spreadsheet must not run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get("/transcripts", name="find_transcript")
def find_transcript(request: Request, user: Annotated[StaffUser, Depends(require("reveal_pii"))]) -> Response:
    """``?id=<conversation id>`` → the transcript's page (roles that may see conversation ids)."""
    wanted = params.text(request.query_params, "id", max_length=255)
    with console(request).stores.tracker() as connection:
        ref = tracker.ref_of(connection, wanted) if connection is not None and wanted else None
    if ref is None:
        return render(request, "error.html", user, status_code=404, message="No such conversation.")
    return RedirectResponse(str(request.url_for("transcript", ref=ref)), status_code=303)


def _conversation_id(request: Request, ref: int) -> str | None:
    with console(request).stores.tracker() as connection:
        return tracker.conversation_of_ref(connection, ref) if connection is not None else None


def _transcript_page(request: Request, user: StaffUser, ref: int, *, reveal: bool) -> Response:
    state = console(request)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        conversation_id = tracker.conversation_of_ref(connection, ref) if connection is not None else None
        turns = (
            transcripts.transcript(connection, conversation_id) if connection is not None and conversation_id else []
        )
        if conversation_id is None or not turns:
            return render(request, "error.html", user, status_code=404, message="No such conversation.")
        customer_id = tracker.customer_of_sender(conversation_id, linked_senders(session))
        masker = conversations.masker_for(session, [customer_id], reveal=reveal, show_ids=user.can("reveal_pii"))
        review, tags, notes = conversations.review_of(session, conversation_id)
        insight = (  # the agent's view of who they are talking to: segment, risk and why, next best action
            intelligence_view.customer_insight(session, customer_id)
            if customer_id and user.can("view_intelligence")
            else None
        )
    if reveal:
        subject, details = audit_log.about_conversation(state.secret, conversation_id, customer_id)
        audit(request, user, "reveal_transcript", subject, **details)
    return render(
        request,
        "transcript.html",
        user,
        ref=ref,
        conversation_id=conversation_id,
        customer_id=customer_id,
        turns=turns,
        mask=masker,
        reveal=reveal,
        review=review,
        tags=tags,
        notes=notes,
        review_statuses=REVIEW_STATUSES,
        insight=insight,
    )


@router.get("/transcripts/{ref}", response_class=HTMLResponse)
def transcript(request: Request, ref: Ref, user: Viewer) -> Response:
    """Redacted, whatever the query string says: revealing is the POST below."""
    return _transcript_page(request, user, ref, reveal=False)


@router.post("/transcripts/{ref}/reveal", response_class=HTMLResponse)
def reveal_transcript(request: Request, ref: Ref, user: Revealer) -> Response:
    return _transcript_page(request, user, ref, reveal=True)


def _reviewed(request: Request, ref: int) -> str:
    """The conversation a review form is about; it must exist in the tracker store."""
    conversation_id = _conversation_id(request, ref)
    if conversation_id is None:
        raise NotFound("No such conversation.")
    return conversation_id


def _back(request: Request, ref: int) -> Response:
    return RedirectResponse(str(request.url_for("transcript", ref=ref)), status_code=303)


@router.post("/transcripts/{ref}/tags")
def add_tag(request: Request, ref: Ref, user: Reviewer, tag: Annotated[str, Form(max_length=40)] = "") -> Response:
    tag = tag.strip().lower()
    if not conversations.TAG.match(tag):
        raise Forbidden("a tag is 1-40 lower-case letters, digits, spaces, - or _")
    conversation_id = _reviewed(request, ref)
    with console(request).stores.profile.begin() as session:
        if session.get(ConversationTag, (conversation_id, tag)) is None:
            session.add(ConversationTag(conversation_id=conversation_id, tag=tag, added_by=user.id))
    return _back(request, ref)


@router.post("/transcripts/{ref}/tags/remove")
def remove_tag(request: Request, ref: Ref, user: Reviewer, tag: Annotated[str, Form(max_length=40)] = "") -> Response:
    conversation_id = _reviewed(request, ref)
    with console(request).stores.profile.begin() as session:
        row = session.get(ConversationTag, (conversation_id, tag))
        if row is not None:
            session.delete(row)
    return _back(request, ref)


@router.post("/transcripts/{ref}/review")
def set_review(
    request: Request, ref: Ref, user: Reviewer, status: Annotated[str, Form(max_length=16)] = ""
) -> Response:
    if status not in REVIEW_STATUSES:
        raise Forbidden("unknown review status")
    conversation_id = _reviewed(request, ref)
    with console(request).stores.profile.begin() as session:
        row = session.get(ConversationReview, conversation_id)
        if row is None:
            session.add(ConversationReview(conversation_id=conversation_id, status=status, updated_by=user.id))
        else:
            row.status, row.updated_by, row.updated_at = status, user.id, utcnow()
    return _back(request, ref)


@router.post("/transcripts/{ref}/notes")
def add_note(request: Request, ref: Ref, user: Reviewer, text: Annotated[str, Form(max_length=4000)] = "") -> Response:
    conversation_id = _reviewed(request, ref)
    if text.strip():
        with console(request).stores.profile.begin() as session:
            session.add(ConversationNote(conversation_id=conversation_id, author_id=user.id, text=text.strip()))
    return _back(request, ref)
