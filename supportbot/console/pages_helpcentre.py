"""The help centre in the console: its articles, the index's state, the content gaps, and re-indexing.

- ``/helpcentre`` (every role): every article with its section, date and public link;
  which model built the index and whether the folder changed since; the questions the help
  centre could not answer, grouped, with counts and redacted examples (``supportbot.helpcentre.gaps``).
- ``POST /helpcentre/reindex`` (admins): runs ``python -m supportbot.helpcentre reindex`` in
  a child process, so the web process never loads the embedding model; the result (or the
  article error that stopped it) is kept in the audit log and shown on the page.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from supportbot.console.auth import StaffUser
from supportbot.console.pages_insights import period_from
from supportbot.console.web import audit, console, form_by, render, require
from supportbot.errors import SupportBotError
from supportbot.helpcentre.articles import ArticleError, load_articles
from supportbot.helpcentre.cli import index_is_current
from supportbot.helpcentre.config import get_helpcentre_settings
from supportbot.helpcentre.gaps import find_gaps, group_gaps
from supportbot.helpcentre.index import read_meta
from supportbot.settings import PROJECT_ROOT
from supportbot.store.console_models import AuditEntry

router = APIRouter()
REINDEX_TIMEOUT_SECONDS = 600
REINDEX_ACTION = "helpcentre_reindex"


@router.get("/helpcentre", response_class=HTMLResponse, name="helpcentre")
def helpcentre_page(request: Request, user: Annotated[StaffUser, Depends(require("view_feedback"))]) -> Response:
    settings = get_helpcentre_settings()
    period = period_from(request)
    try:
        articles, article_error = load_articles(settings.content_dir), None
    except ArticleError as exc:
        articles, article_error = [], str(exc)
    try:
        meta, index_error = read_meta(settings.index_path), None
    except SupportBotError as exc:
        meta, index_error = None, str(exc)
    since = dt.datetime.combine(period.since, dt.time.min, tzinfo=dt.UTC)
    with console(request).stores.profile() as session:
        gaps = [
            g
            for g in find_gaps(session=session, since=since, followup_minutes=settings.gap_followup_minutes)
            if g.answer.created_at.date() <= period.until
        ]
        last_reindex = session.scalar(
            select(AuditEntry).where(AuditEntry.action == REINDEX_ACTION).order_by(AuditEntry.at.desc()).limit(1)
        )
    return render(
        request,
        "helpcentre.html",
        user,
        period=period,
        articles=sorted(articles, key=lambda a: (a.section, a.title)),
        article_error=article_error,
        meta=meta,
        index_error=index_error,
        up_to_date=index_is_current(settings) if meta else False,
        configured_model=settings.embedding_model,
        groups=group_gaps(gaps, similarity=settings.gap_group_similarity),
        gap_count=len(gaps),
        url_for_article=settings.article_url,
        last_reindex=json.loads(last_reindex.details) if last_reindex else None,
        last_reindex_at=last_reindex.at if last_reindex else None,
    )


@router.post("/helpcentre/reindex", name="helpcentre_reindex")
def reindex_now(request: Request, user: Annotated[StaffUser, Depends(form_by("reindex_help"))]) -> Response:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(  # our own module, fixed arguments
            [sys.executable, "-m", "supportbot.helpcentre", "reindex"],
            capture_output=True,
            text=True,
            timeout=REINDEX_TIMEOUT_SECONDS,
            env=env,
            cwd=PROJECT_ROOT,
            check=False,
        )
        ok = done.returncode == 0
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("help centre:")]
        message = lines[-1] if lines else f"reindex exited with code {done.returncode}"
    except subprocess.TimeoutExpired:
        ok, message = False, f"reindex did not finish within {REINDEX_TIMEOUT_SECONDS} s"
    audit(request, user, REINDEX_ACTION, "helpcentre", ok=ok, message=message[:500])
    return RedirectResponse(str(request.url_for("helpcentre")), status_code=303)
