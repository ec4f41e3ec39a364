"""Conversation pages: the filtered list, exports of the filtered set, a transcript and its review."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from supportbot.console import conversations, tracker
from supportbot.console.auth import StaffUser
from supportbot.console.stores import linked_senders
from supportbot.console.web import Forbidden, audit, console, form_by, render, require, wants_reveal
from supportbot.store.console_models import REVIEW_STATUSES, ConversationNote, ConversationReview, ConversationTag
from supportbot.store.models import utcnow

router = APIRouter()
Viewer = Annotated[StaffUser, Depends(require("view_conversations"))]
Exporter = Annotated[StaffUser, Depends(require("export"))]
Reviewer = Annotated[StaffUser, Depends(form_by("review"))]
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
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    size = state.settings.console_page_size
    listed: list[conversations.ListedConversation] = []
    total = 0
    intents: list[str] = []
    with state.stores.profile() as session, state.stores.tracker() as connection:
        if connection is not None:
            query = conversations.build_query(session, connection, filters)
            total = tracker.count_conversations(connection, query)
            rows = tracker.list_conversations(connection, query, limit=size, offset=(page - 1) * size)
            listed = conversations.describe(session, connection, rows)
            intents = tracker.intents_in_use(connection)
    base = request.url_for("conversation_list")
    pages = max(1, -(-total // size))
    return render(
        request,
        "conversations.html",
        user,
        filters=filters,
        listed=listed,
        total=total,
        page=page,
        pages=pages,
        intents=intents,
        review_statuses=REVIEW_STATUSES,
        page_url=lambda n: str(base.include_query_params(**filters.params(), page=n)),
        export_json=str(request.url_for("export_json").include_query_params(**filters.params())),
        export_csv=str(request.url_for("export_csv").include_query_params(**filters.params())),
    )


def _export(request: Request, user: StaffUser) -> list[dict[str, object]]:
    state = console(request)
    filters = conversations.Filters.from_params(request.query_params)
    reveal = wants_reveal(request, user)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        if connection is None:
            records: list[dict[str, object]] = []
        else:
            query = conversations.build_query(session, connection, filters)
            records = list(conversations.export_records(session, connection, query, reveal=reveal))
    audit(request, user, "export_conversations", filters=filters.params(), count=len(records), reveal=reveal)
    return records


@router.get("/conversations/export.json")
def export_json(request: Request, user: Exporter) -> Response:
    body = json.dumps({"conversations": _export(request, user)}, ensure_ascii=False, indent=1)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="conversations.json"'},
    )


@router.get("/conversations/export.csv")
def export_csv(request: Request, user: Exporter) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in _export(request, user):
        messages = record.pop("messages")
        assert isinstance(messages, list)
        record["tags"] = " ".join(str(tag) for tag in record["tags"])  # type: ignore[attr-defined]
        record["transcript"] = "\n".join(f"{m['from']}: {m['text']}" for m in messages)
        writer.writerow({key: _csv_safe(value) for key, value in record.items()})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="conversations.csv"'},
    )


def _csv_safe(value: object) -> object:
    """Customer text opened in a spreadsheet must not run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get("/transcripts/{conversation_id}", response_class=HTMLResponse)
def transcript(request: Request, conversation_id: str, user: Viewer) -> Response:
    state = console(request)
    reveal = wants_reveal(request, user)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        turns = tracker.transcript(connection, conversation_id) if connection is not None else []
        if not turns:
            return render(request, "error.html", user, status_code=404, message="No such conversation.")
        customer_id = tracker.customer_of_sender(conversation_id, linked_senders(session))
        masker = conversations.masker_for(session, [customer_id], reveal=reveal)
        review, tags, notes = conversations.review_of(session, conversation_id)
    if reveal:
        audit(request, user, "reveal_transcript", conversation_id)
    return render(
        request,
        "transcript.html",
        user,
        conversation_id=conversation_id,
        customer_id=customer_id,
        turns=turns,
        mask=masker,
        reveal=reveal,
        review=review,
        tags=tags,
        notes=notes,
        review_statuses=REVIEW_STATUSES,
    )


def _back(request: Request, conversation_id: str) -> Response:
    return RedirectResponse(str(request.url_for("transcript", conversation_id=conversation_id)), status_code=303)


@router.post("/transcripts/{conversation_id}/tags")
def add_tag(
    request: Request, conversation_id: str, user: Reviewer, tag: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    tag = tag.strip().lower()
    if not conversations.TAG.match(tag):
        raise Forbidden("a tag is 1-40 lower-case letters, digits, spaces, - or _")
    with console(request).stores.profile.begin() as session:
        if session.get(ConversationTag, (conversation_id, tag)) is None:
            session.add(ConversationTag(conversation_id=conversation_id, tag=tag, added_by=user.id))
    return _back(request, conversation_id)


@router.post("/transcripts/{conversation_id}/tags/remove")
def remove_tag(
    request: Request, conversation_id: str, user: Reviewer, tag: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    with console(request).stores.profile.begin() as session:
        row = session.get(ConversationTag, (conversation_id, tag))
        if row is not None:
            session.delete(row)
    return _back(request, conversation_id)


@router.post("/transcripts/{conversation_id}/review")
def set_review(
    request: Request, conversation_id: str, user: Reviewer, status: Annotated[str, Form(max_length=16)] = ""
) -> Response:
    if status not in REVIEW_STATUSES:
        raise Forbidden("unknown review status")
    with console(request).stores.profile.begin() as session:
        row = session.get(ConversationReview, conversation_id)
        if row is None:
            session.add(ConversationReview(conversation_id=conversation_id, status=status, updated_by=user.id))
        else:
            row.status, row.updated_by, row.updated_at = status, user.id, utcnow()
    return _back(request, conversation_id)


@router.post("/transcripts/{conversation_id}/notes")
def add_note(
    request: Request, conversation_id: str, user: Reviewer, text: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    if text.strip():
        with console(request).stores.profile.begin() as session:
            session.add(ConversationNote(conversation_id=conversation_id, author_id=user.id, text=text.strip()))
    return _back(request, conversation_id)
