"""The agent inbox: the queue, one conversation taken over, and their live feeds.

Live without a reload: each page opens a server-sent-events stream (``EventSource``, the
browser's own reconnecting client, in ``inbox.js``) that polls the stores about once a second
and sends what changed as HTML fragments rendered by the same autoescaped templates as the
page. Polling the stores, not a message bus in this process, is what lets several web and
Rasa processes serve one inbox (a customer's message is in the tracker store whichever Rasa
process took it). A stream lives at most ``STREAM_SECONDS``; the browser reconnects by itself
(``retry``) with ``Last-Event-ID``, so a signed-out or expired session stops receiving within
that time, and no stream outlives a restart for long. Every state change is a POST form with
the session's CSRF token; the page works without its script (the forms post and redirect).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from supportbot.console import audit_log, inbox
from supportbot.console.auth import StaffUser
from supportbot.console.relay import RelayError
from supportbot.console.takeover import MAX_REPLY, Takeover
from supportbot.console.web import NotFound, audit, console, current_user, form_by, render, require
from supportbot.errors import ConfigurationError, InvalidRequestError, NotFoundError
from supportbot.services import handoff as handoffs

router = APIRouter()
HERE = Path(__file__).resolve().parent
POLL_SECONDS = 1.0
STREAM_SECONDS = 25.0
HEARTBEAT_SECONDS = 10.0
INBOX_CSP_EXTRA = "script-src 'self'; connect-src 'self'"
"""The inbox pages run one script of our own (``inbox.js``) and open its feed; nothing else."""
HandoffId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def _with_script(request: Request) -> None:
    request.state.csp_extra = INBOX_CSP_EXTRA


def _takeover(request: Request) -> Takeover:
    state = console(request)
    if state.takeover is None:
        raise ConfigurationError("the console has no connection to Rasa (RASA_API_TOKEN, SUPPORTBOT_RASA_URL)")
    return state.takeover


def _escalate_after(request: Request) -> dt.timedelta:
    return dt.timedelta(minutes=console(request).settings.handoff_escalate_after_minutes)


def _queue_html(request: Request, user: StaffUser) -> str:
    state = console(request)
    items = inbox.queue_items(state.stores, show_ids=user.can("reveal_pii"), escalate_after=_escalate_after(request))
    template = state.templates.get_template("_queue.html")
    return template.render(request=request, user=user, items=items, url_for=request.url_for)


@router.get("/inbox", response_class=HTMLResponse, name="inbox")
def inbox_page(request: Request, user: Annotated[StaffUser, Depends(require("handle_handoffs"))]) -> Response:
    _with_script(request)
    return render(request, "inbox.html", user, queue_html=_queue_html(request, user))


@router.get("/inbox/assets/inbox.js", name="inbox_script")
def inbox_script(_user: Annotated[StaffUser, Depends(require("handle_handoffs"))]) -> Response:
    return FileResponse(HERE / "inbox.js", media_type="text/javascript")


def _sse(event: str, data: str, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return "\n".join(lines) + "\n\n"


async def _stream(request: Request, user: StaffUser, poll: Callable[[], list[str]]) -> AsyncIterator[str]:
    """Poll, send what changed; stop when the client goes, the session ends or the stream is old."""
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    yield "retry: 1000\n\n"
    while loop.time() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        try:
            # The session is checked on every poll: signing out ends the feed at once.
            await run_in_threadpool(current_user, request)
        except Exception:
            yield _sse("signed_out", "{}")
            return
        chunks = await run_in_threadpool(poll)
        for chunk in chunks:
            yield chunk
        if chunks:
            last_sent = loop.time()
        elif loop.time() - last_sent > HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            last_sent = loop.time()
        await asyncio.sleep(POLL_SECONDS)


def _event_stream(source: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        source, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get("/inbox/feed", name="inbox_feed")
def inbox_feed(request: Request, user: Annotated[StaffUser, Depends(require("handle_handoffs"))]) -> Response:
    last = [""]

    def poll() -> list[str]:
        html = _queue_html(request, user)
        if html == last[0]:
            return []
        last[0] = html
        return [_sse("queue", json.dumps({"html": html}))]

    return _event_stream(_stream(request, user, poll))


# ---------------------------------------------------------------------------
# One conversation
# ---------------------------------------------------------------------------


def _load(request: Request, handoff_id: int) -> handoffs.Handoff:
    with console(request).stores.profile() as session:
        try:
            return handoffs.get_handoff(session=session, handoff_id=handoff_id)
        except NotFoundError as exc:
            raise NotFound(str(exc)) from exc


def _view(request: Request, user: StaffUser, handoff_id: int) -> dict[str, Any]:
    state = console(request)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        try:
            handoff = handoffs.get_handoff(session=session, handoff_id=handoff_id)
        except NotFoundError as exc:
            raise NotFound(str(exc)) from exc
        customer_id = inbox.customer_of_handoff(session, handoff)
        masker = inbox.viewer_masker(session, customer_id, show_ids=user.can("reveal_pii"))
        messages = inbox.messages_after(connection, handoff.conversation_id, 0, masker)
        return {
            "handoff": handoff,
            "conversation": masker.conversation_id(handoff.conversation_id),
            "messages": messages,
            "last_event": messages[-1].event_id if messages else 0,
            "context": inbox.customer_context(session, customer_id, masker),
            "assignee": handoffs.agent_name(session=session, user_id=handoff.assigned_to)
            if handoff.assigned_to
            else None,
            "mine": handoff.assigned_to == user.id and handoff.status == handoffs.CLAIMED,
            "may_close": handoff.status != handoffs.CLOSED
            and (handoff.status != handoffs.CLAIMED or handoff.assigned_to == user.id or user.can("manage_handoffs")),
            "reason": masker.text(handoff.reason),
            "customer_known": customer_id is not None,
            "web_chat": handoff.conversation_id.startswith("cust:"),
            "goodwill_points": state.settings.handoff_goodwill_points,
            "max_reply": MAX_REPLY,
            "outcomes": handoffs.OUTCOMES,
        }


def _panel_html(request: Request, user: StaffUser, view: dict[str, Any]) -> str:
    template = console(request).templates.get_template("_takeover_actions.html")
    return template.render(request=request, user=user, url_for=request.url_for, **view)


@router.get("/inbox/{handoff_id}", response_class=HTMLResponse, name="takeover")
def takeover_page(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(require("handle_handoffs"))]
) -> Response:
    _with_script(request)
    view = _view(request, user, handoff_id)
    return render(request, "takeover.html", user, panel_html=_panel_html(request, user, view), **view)


@router.get("/inbox/{handoff_id}/feed", name="takeover_feed")
def takeover_feed(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(require("handle_handoffs"))]
) -> Response:
    """New messages of this one conversation (and its panel when the handoff changes), nothing else."""
    state = console(request)
    handoff = _load(request, handoff_id)
    try:
        after = int(request.headers.get("last-event-id") or request.query_params.get("after") or 0)
    except ValueError:
        after = 0
    cursor, last_panel = [max(after, 0)], [""]
    template = state.templates.get_template("_message.html")

    def poll() -> list[str]:
        chunks = []
        with state.stores.profile() as session, state.stores.tracker() as connection:
            customer_id = inbox.customer_of_handoff(session, handoff)
            masker = inbox.viewer_masker(session, customer_id, show_ids=user.can("reveal_pii"))
            for message in inbox.messages_after(connection, handoff.conversation_id, cursor[0], masker):
                html = template.render(message=message)
                chunks.append(_sse("message", json.dumps({"html": html}), message.event_id))
                cursor[0] = message.event_id
        panel = _panel_html(request, user, _view(request, user, handoff_id))
        if panel != last_panel[0]:
            if last_panel[0]:
                chunks.append(_sse("panel", json.dumps({"html": panel})))
            last_panel[0] = panel
        return chunks

    return _event_stream(_stream(request, user, poll))


def _done(request: Request, handoff_id: int, *, error: str | None = None, status: int = 200) -> Response:
    """A script's request gets JSON; a plain form goes back to the conversation (or an error page)."""
    wants_json = "application/json" in request.headers.get("accept", "")
    if wants_json:
        return JSONResponse({"ok": error is None, "error": error}, status_code=status)
    if error is not None:
        return render(request, "error.html", None, status_code=status, message=error)
    return RedirectResponse(str(request.url_for("takeover", handoff_id=handoff_id)), status_code=303)


def _attempt(request: Request, handoff_id: int, step: Callable[[], object]) -> Response:
    try:
        step()
    except handoffs.HandoffConflict as exc:
        return _done(request, handoff_id, error=str(exc), status=409)
    except NotFoundError as exc:
        return _done(request, handoff_id, error=str(exc), status=404)
    except InvalidRequestError as exc:
        return _done(request, handoff_id, error=str(exc), status=400)
    except (RelayError, ConfigurationError) as exc:
        return _done(request, handoff_id, error=f"Nothing was sent: {exc}. Try again in a moment.", status=502)
    return _done(request, handoff_id)


def _audit(request: Request, user: StaffUser, action: str, handoff_id: int, **details: Any) -> None:
    handoff = _load(request, handoff_id)
    with console(request).stores.profile() as session:
        customer_id = inbox.customer_of_handoff(session, handoff)
    subject, about = audit_log.about_conversation(console(request).secret, handoff.conversation_id, customer_id)
    audit(request, user, action, subject, handoff=handoff_id, **about, **details)


def _attempt_audited(
    request: Request, user: StaffUser, action: str, handoff_id: int, step: Callable[[], object], **details: Any
) -> Response:
    """``_attempt``, and the audit log entry when the step was done."""
    answer = _attempt(request, handoff_id, step)
    if answer.status_code < 400:
        _audit(request, user, action, handoff_id, **details)
    return answer


@router.post("/inbox/{handoff_id}/claim", name="claim_handoff")
def claim_handoff(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))]
) -> Response:
    step = lambda: _takeover(request).claim(handoff_id, user.id)  # noqa: E731
    return _attempt_audited(request, user, "claim_handoff", handoff_id, step)


@router.post("/inbox/{handoff_id}/reply", name="reply_handoff")
def reply_handoff(
    request: Request,
    handoff_id: HandoffId,
    user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))],
    text: Annotated[str, Form(max_length=4 * MAX_REPLY)] = "",
) -> Response:
    return _attempt(request, handoff_id, lambda: _takeover(request).reply(handoff_id, user.id, text))


@router.post("/inbox/{handoff_id}/hand-back", name="hand_back_handoff")
def hand_back_handoff(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))]
) -> Response:
    step = lambda: _takeover(request).hand_back(handoff_id, user.id)  # noqa: E731
    return _attempt_audited(request, user, "hand_back_handoff", handoff_id, step)


@router.post("/inbox/{handoff_id}/close", name="close_handoff")
def close_handoff(
    request: Request,
    handoff_id: HandoffId,
    user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))],
    outcome: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=handoffs.MAX_NOTE)] = "",
) -> Response:
    def step() -> object:
        return _takeover(request).close(
            handoff_id, user.id, outcome=outcome, note=note, may_close_others=user.can("manage_handoffs")
        )

    return _attempt_audited(request, user, "close_handoff", handoff_id, step, outcome=outcome)


@router.post("/inbox/{handoff_id}/goodwill", name="goodwill_handoff")
def goodwill_handoff(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))]
) -> Response:
    """One click: the configured goodwill points, through the perks service, once per handoff."""
    points = console(request).settings.handoff_goodwill_points
    step = lambda: _takeover(request).grant_goodwill(handoff_id, user.id, points=points)  # noqa: E731
    return _attempt_audited(request, user, "grant_goodwill", handoff_id, step, points=points)


@router.post("/inbox/{handoff_id}/link-code", name="link_code_handoff")
def link_code_handoff(
    request: Request, handoff_id: HandoffId, user: Annotated[StaffUser, Depends(form_by("handle_handoffs"))]
) -> Response:
    """One click: a fresh link code sent into the customer's signed-in web chat (never shown to the agent)."""
    step = lambda: _takeover(request).send_link_code(handoff_id, user.id)  # noqa: E731
    return _attempt_audited(request, user, "send_link_code", handoff_id, step)
