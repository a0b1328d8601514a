"""The Reports and Checks pages: every report with its figures, a chart, the integrity of each
figure linked to the records it rests on, as-of and period inputs and CSV/XLSX downloads; the
check summary and the violating records of a chosen check or slice."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from plumb.core.errors import BadRequest
from plumb.quality.checks import INDICATORS
from plumb.quality.engine import all_checks, run_checks
from plumb.reports import export
from plumb.reports.base import Report, parse_time
from plumb.reports.integrity import LABELS
from plumb.reports.registry import PERIOD_REPORTS, REPORTS, report_name, run_report
from plumb.reports.svg import bar_chart
from plumb.web.core import PageRoute, page_tx, render

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FINDINGS_LIMIT = 200

CHARTS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    # report: (chart title, label columns, value column, flagged part: integrity "any" key)
    "pipeline": ("Amount by stage", ("stage",), "amount", "amount"),
    "forecast": ("Open amount by close month", ("close_month",), "amount", "amount"),
    "funnel": ("Contacts entering each stage", ("from_stage",), "entered", "count"),
    "status_usage": ("Contacts holding each value", ("field", "value"), "holding", "count"),
    "time_in_stage": ("Median days in stage", ("stage",), "median_days", ""),
    "activity_by_owner": ("Activities by owner and type", ("owner", "type"), "count", "count"),
}


def _chart(report: Report) -> str | None:
    spec = CHARTS.get(report.name)
    if spec is None or not report.rows:
        return None
    title, label_cols, value_col, flag_key = spec
    labels = [" ".join(str(r.get(c) or "") for c in label_cols) for r in report.rows]
    values = [r.get(value_col) or 0 for r in report.rows]
    flagged = None
    if flag_key:
        flagged = [(r.get("integrity") or {}).get("any", {}).get(flag_key, 0) for r in report.rows]
    return bar_chart(title, labels, values, flagged)


def _page_link(api_link: str) -> str:
    """The Checks page for an annotation's worklist link (``/api/v1/checks?...``)."""
    return "/checks" + api_link.removeprefix("/api/v1/checks")


def _params(request: Request) -> dict[str, str]:
    keep = ("as_of", "from", "to")
    return {k: v for k, v in request.query_params.items() if k in keep and v}


def _run(request: Request, page: Any, name: str) -> Report:
    params = request.query_params
    key = report_name(name)
    start = parse_time("from", params.get("from"))
    stop = parse_time("to", params.get("to"))
    if key not in PERIOD_REPORTS:
        start = stop = None
    as_of = parse_time("as_of", params.get("as_of"), end_of_day=True)
    return run_report(page.ctx, key, as_of=as_of, start=start, stop=stop)


def reports_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/reports")
    def reports_index(request: Request) -> Response:
        return _report_page(request, "pipeline")

    @router.get("/reports/{name}")
    def report_page(request: Request, name: str) -> Response:
        return _report_page(request, name)

    @router.get("/reports/{name}/export")
    def report_export(request: Request, name: str) -> Response:
        fmt = request.query_params.get("format", "csv")
        with page_tx(request) as page:
            report = _run(request, page, name)
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerows(export.table(report))
            return Response(
                buf.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{report.name}.csv"'},
            )
        if fmt == "xlsx":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{report.name}.xlsx"
                export.write(report, path)
                return Response(
                    path.read_bytes(),
                    media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{report.name}.xlsx"'},
                )
        raise BadRequest("format must be csv or xlsx")

    @router.get("/checks")
    def checks_page(request: Request) -> Response:
        params = request.query_params
        obj = params.get("object") or None
        chosen = params.getlist("check") or None
        indicator = params.get("indicator") or None
        slice_text = params.get("slice") or None
        with page_tx(request) as page:
            run = run_checks(
                page.ctx,
                obj=obj,
                slice_text=slice_text,
                names=chosen,
                indicator=indicator,
                limit=FINDINGS_LIMIT,
            )
            objects = sorted({c.object for c in all_checks(page.ctx)})
            return render(
                request,
                "checks.html",
                page,
                run=run,
                obj=obj,
                chosen=chosen or [],
                indicator=indicator,
                slice_text=slice_text or "",
                objects=objects,
                indicators=INDICATORS,
                limit=FINDINGS_LIMIT,
                check_href=lambda s: (
                    "/checks?"
                    + urlencode({"object": s.object, "check": s.check, **_slice(slice_text)})
                ),
            )

    def _report_page(request: Request, name: str) -> Response:
        with page_tx(request) as page:
            report = _run(request, page, name)
            query = urlencode(_params(request))
            return render(
                request,
                "reports.html",
                page,
                report=report,
                names=list(REPORTS),
                period=report.name in PERIOD_REPORTS,
                params=_params(request),
                query=query,
                chart=_chart(report),
                kinds=list(LABELS.values()),
                page_link=_page_link,
                object_of="deal" if report.name in DEAL_REPORTS else _object_of(report.name),
            )

    return router


DEAL_REPORTS = {"pipeline", "forecast", "stale_deals", "time_in_stage"}


def _object_of(name: str) -> str:
    return "activity" if name == "activity_by_owner" else "contact"


def _slice(slice_text: str | None) -> dict[str, str]:
    return {"slice": slice_text} if slice_text else {}
