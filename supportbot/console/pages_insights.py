"""The KPI dashboard, the feedback page (ratings, themes, detractors) and the outreach page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportbot.console import audit_log, charts, growth_kpis, intelligence_view, kpis, outreach_view, params
from supportbot.console.auth import StaffUser
from supportbot.console.web import audit, console, form_by, render, require
from supportbot.errors import NotFoundError
from supportbot.feedback.store import mark_follow_up_done, open_follow_ups
from supportbot.services.handoff import agent_name
from supportbot.store.feedback_models import FeedbackTheme, ThemeQuote

router = APIRouter()
DEFAULT_DAYS = 30
MAX_DAYS = 366


def period_from(request: Request) -> kpis.Period:
    """``?since=&until=`` (ISO dates), defaulting to the last 30 days; at most a year.

    A date that is not one, or outside ``params.EARLIEST_DAY``..``LATEST_DAY``, is a 400 page
    (``params.BadParameter``), not silently the default.
    """
    today = dt.datetime.now(dt.UTC).date()

    def day(name: str, default: dt.date) -> dt.date:
        value = params.text(request.query_params, name, max_length=10)
        return params.day(name, value) if value else default

    until = day("until", today)
    since = day("since", until - dt.timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        since, until = until, since
    return kpis.Period(since=max(since, until - dt.timedelta(days=MAX_DAYS - 1)), until=until)


def minutes(value: dt.timedelta | None) -> str:
    return "–" if value is None else f"{value.total_seconds() / 60:.1f} min"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


@router.get("/", response_class=HTMLResponse, name="kpis")
def kpi_dashboard(request: Request, user: Annotated[StaffUser, Depends(require("view_kpis"))]) -> Response:
    state = console(request)
    period = period_from(request)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        talk = kpis.conversation_kpis(connection, period)
        ratings = kpis.rating_kpis(session, period)
        reach = kpis.outreach_kpis(outreach_view.outcomes(session, connection, since=period.start, until=period.end))
        people = kpis.handoff_kpis(session, period)
        agent_names = {agent: agent_name(session=session, user_id=agent) for agent, _, _ in people.by_agent}
        growth = growth_kpis.growth_kpis(session, connection, period)
        clv_trend = intelligence_view.clv_trend(session)
    per_day = [(day.strftime("%d %b"), float(count)) for day, count in talk.per_day]
    return render(
        request,
        "kpis.html",
        user,
        period=period,
        talk=talk,
        ratings=ratings,
        reach=reach,
        people=people,
        agent_names=agent_names,
        minutes=minutes,
        percent=percent,
        conversations_chart=charts.bar_chart("Conversations per day", per_day),
        csat_chart=charts.line_chart("CSAT per week (1-5)", ratings.csat_weekly, lower=1, upper=5),
        nps_chart=charts.line_chart("NPS per week", ratings.nps_weekly, lower=-100, upper=100),
        growth=growth,
        **growth_kpis.charts_for(growth, clv_trend),
    )


@router.get("/feedback", response_class=HTMLResponse)
def feedback(request: Request, user: Annotated[StaffUser, Depends(require("view_feedback"))]) -> Response:
    state = console(request)
    period = period_from(request)
    with state.stores.profile() as session:
        ratings = kpis.rating_kpis(session, period)
        themes = list(
            session.scalars(
                select(FeedbackTheme)
                .options(selectinload(FeedbackTheme.quotes).selectinload(ThemeQuote.feedback))
                .order_by(FeedbackTheme.size.desc(), FeedbackTheme.id)
            )
        )
        theme_views = [
            {
                "theme": theme,
                "phrases": json.loads(theme.key_phrases or "[]"),
                "trend": charts.bar_chart(
                    f"Theme {theme.label}: new per week",
                    [(week, float(n)) for week, n in sorted(json.loads(theme.trend or "{}").items())],
                ),
                "quotes": [q.feedback.text_redacted or "" for q in theme.quotes[:3]],
            }
            for theme in themes
        ]
        follow_ups = open_follow_ups(session=session) if user.can("follow_up") else []
    return render(
        request,
        "feedback.html",
        user,
        period=period,
        ratings=ratings,
        themes=theme_views,
        follow_ups=follow_ups,
        csat_chart=charts.line_chart("CSAT per week (1-5)", ratings.csat_weekly, lower=1, upper=5),
        nps_chart=charts.line_chart("NPS per week", ratings.nps_weekly, lower=-100, upper=100),
    )


@router.post("/feedback/follow-ups/{follow_up_id}/done")
def follow_up_done(
    request: Request,
    follow_up_id: Annotated[int, Path(ge=1, le=params.MAX_SQL_INT)],
    user: Annotated[StaffUser, Depends(form_by("follow_up"))],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        with console(request).stores.profile.begin() as session:
            done = mark_follow_up_done(
                session=session, follow_up_id=follow_up_id, done_by=user.email, note=note or None
            )
    except NotFoundError:
        return render(request, "error.html", user, status_code=404, message="No such follow-up.")
    secret = console(request).secret
    subject = audit_log.customer_subject(secret, done.customer_id) if done.customer_id else ""
    audit(request, user, "follow_up_done", subject, follow_up=follow_up_id)
    return RedirectResponse(str(request.url_for("feedback")), status_code=303)


@router.get("/outreach", response_class=HTMLResponse)
def outreach(request: Request, user: Annotated[StaffUser, Depends(require("view_outreach"))]) -> Response:
    state = console(request)
    period = period_from(request)
    with state.stores.profile() as session, state.stores.tracker() as connection:
        results = outreach_view.outcomes(session, connection, since=period.start, until=period.end)
        context: dict[str, Any] = {
            "campaigns": outreach_view.campaign_summaries(session, results),
            "upcoming": outreach_view.rows_with_status(session, "planned"),
            "sent": outreach_view.rows_with_status(session, "sent"),
            "skipped": outreach_view.rows_with_status(session, "skipped"),
            "failed": outreach_view.rows_with_status(session, "failed"),
            "skip_reasons": outreach_view.skip_reasons(session),
        }
    return render(
        request, "outreach.html", user, period=period, percent=percent, reach=kpis.outreach_kpis(results), **context
    )
