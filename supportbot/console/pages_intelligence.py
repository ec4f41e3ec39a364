"""Customer intelligence pages: segments (with their trend), churn risk with reasons, next best actions,
lifetime value, and the co-creation programme with its export.

Every figure comes from the tables ``supportbot.intelligence`` fills on its daily refresh
(docs/INTELLIGENCE.md); before the first refresh each page says how to run it. Pages name
customers by id only; the programme export holds names and email addresses and is a POST with
the session's CSRF token, written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from supportbot.console import charts, intelligence_view, params, programme_view
from supportbot.console.auth import StaffUser
from supportbot.console.web import NotFound, audit, console, form_by, render, require
from supportbot.intelligence.segment_catalogue import SEGMENTS_BY_CODE
from supportbot.store.intelligence_models import ACTIONS

router = APIRouter()
Viewer = Annotated[StaffUser, Depends(require("view_intelligence"))]
HELPERS: dict[str, Any] = {"money": intelligence_view.money, "percent": intelligence_view.percent}


@router.get("/segments", response_class=HTMLResponse)
def segments(request: Request, user: Viewer) -> Response:
    with console(request).stores.profile() as session:
        overview = intelligence_view.segment_overview(session)
    return render(
        request,
        "segments.html",
        user,
        overview=overview,
        spark=charts.sparkline,
        **HELPERS,
    )


@router.get("/segments/{code}", response_class=HTMLResponse)
def segment_page(request: Request, code: str, user: Viewer) -> Response:
    segment = SEGMENTS_BY_CODE.get(code)
    if segment is None:
        raise NotFound("No such segment.")
    with console(request).stores.profile() as session:
        series = intelligence_view.segment_series(session, code)
        members = intelligence_view.segment_members(session, code)
    days = [run.as_of.strftime("%d %b %y") for run, _ in series]

    def line(title: str, values: list[float | None], lower: float, upper: float) -> object:
        return charts.line_chart(title, list(zip(days, values, strict=True)), lower=lower, upper=upper)

    sizes = [float(stat.customers) for _, stat in series]
    risks = [100 * stat.mean_churn_risk if stat.mean_churn_risk is not None else None for _, stat in series]
    values = [stat.mean_clv_12m_cents / 100 if stat.mean_clv_12m_cents is not None else None for _, stat in series]
    mrr = [stat.monthly_recurring_cents / 100 for _, stat in series]
    return render(
        request,
        "segment.html",
        user,
        segment=segment,
        series=series,
        members=members,
        charts_=[
            charts.line_chart(
                "Customers", list(zip(days, sizes, strict=True)), lower=0, upper=charts.nice_ceiling(max([*sizes, 1.0]))
            ),
            line("Mean churn risk (%)", risks, 0, 100),
            line("CSAT (1-5)", [stat.avg_csat for _, stat in series], 1, 5),
            line("NPS", [stat.nps for _, stat in series], -100, 100),
            line("Monthly recurring revenue ($)", list(mrr), 0, charts.nice_ceiling(max([*mrr, 1.0]))),
            line(
                "Mean lifetime value, 12 months ($)",
                values,
                0,
                charts.nice_ceiling(max([v for v in values if v is not None] + [1.0])),
            ),
        ],
        **HELPERS,
    )


@router.get("/churn", response_class=HTMLResponse)
def churn(request: Request, user: Viewer) -> Response:
    with console(request).stores.profile() as session:
        overview = intelligence_view.churn_overview(session)
    return render(
        request,
        "churn.html",
        user,
        overview=overview,
        distribution_chart=charts.bar_chart("Customers per band of churn risk", overview.distribution),
        **HELPERS,
    )


@router.get("/next-actions", response_class=HTMLResponse)
def next_actions(request: Request, user: Viewer) -> Response:
    wanted = params.text(request.query_params, "action", max_length=32)
    if wanted and wanted not in ACTIONS:
        raise params.BadParameter(f"action: one of {', '.join(ACTIONS)}")
    with console(request).stores.profile() as session:
        overview = intelligence_view.actions_overview(session, action=wanted)
    return render(
        request,
        "next_actions.html",
        user,
        overview=overview,
        names=intelligence_view.ACTION_NAMES,
        counts_chart=charts.bar_chart(
            "Next best actions in the latest run",
            [(intelligence_view.ACTION_NAMES[a], float(n)) for a, n in overview.counts],
        ),
        **HELPERS,
    )


@router.get("/value", response_class=HTMLResponse)
def value(request: Request, user: Viewer) -> Response:
    with console(request).stores.profile() as session:
        overview = intelligence_view.value_overview(session)
    known = [v for _, v in overview.trend if v is not None]
    return render(
        request,
        "value.html",
        user,
        overview=overview,
        distribution_chart=charts.bar_chart("Customers per band of 12-month value", overview.distribution),
        trend_chart=charts.line_chart(
            "Mean 12-month lifetime value ($) per refresh",
            overview.trend,
            lower=0,
            upper=charts.nice_ceiling(max([*known, 1.0]) * 1.1),
        ),
        **HELPERS,
    )


@router.get("/programme", response_class=HTMLResponse)
def programme(request: Request, user: Annotated[StaffUser, Depends(require("view_programme"))]) -> Response:
    with console(request).stores.profile() as session:
        found = programme_view.programme(session)
    return render(request, "programme.html", user, programme=found, **HELPERS)


@router.post("/programme/export.csv")
def programme_export(request: Request, user: Annotated[StaffUser, Depends(form_by("export"))]) -> Response:
    """The product team's list, with names and email addresses: audited (the count, no personal data)."""
    with console(request).stores.profile() as session:
        members = programme_view.programme(session).members
        body = programme_view.export_csv(session, members)
    audit(request, user, "export_programme", "programme:advisory_beta", members=len(members))
    day = dt.datetime.now(dt.UTC).date().isoformat()
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="advisory-beta-programme-{day}.csv"'},
    )
