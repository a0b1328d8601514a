"""``/api/v1/checks`` and ``/api/v1/reports/{name}``: findings and reports over the records the
caller may see; reports as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from plumb.api.deps import transaction
from plumb.core.clock import ensure_utc, parse_datetime
from plumb.core.errors import BadRequest
from plumb.quality.engine import run_checks
from plumb.reports import export
from plumb.reports.registry import run_report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_as_of(text: str | None) -> datetime | None:
    """A date (the end of that day, UTC) or a datetime."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return ensure_utc(datetime.fromisoformat(text)).replace(hour=23, minute=59, second=59)
        return parse_datetime(text)
    except ValueError as exc:
        raise BadRequest(f"as_of {text!r} is not a date or datetime") from exc


def quality_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["quality"])

    @router.get("/checks", summary="Records failing data-quality checks, with reasons")
    def checks(request: Request) -> JSONResponse:
        """`object=`, `slice=` (a condition), `check=` (repeatable), `indicator=`, `limit=`
        (per check; 0: all)."""
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError as exc:
            raise BadRequest("limit must be a number") from exc
        with transaction(request, write=False) as ctx:
            run = run_checks(
                ctx,
                obj=params.get("object"),
                slice_text=params.get("slice"),
                names=params.getlist("check") or None,
                indicator=params.get("indicator"),
                limit=limit or None,
            )
        return JSONResponse(run.json())

    @router.get("/reports/{name}", summary="A report with the integrity of every figure")
    def report(request: Request, name: str) -> Response:
        """`as_of=` (date or datetime) computes it from the change log as the data stood then;
        `format=csv|xlsx` exports it."""
        params = request.query_params
        as_of = parse_as_of(params.get("as_of"))
        fmt = params.get("format", "json")
        with transaction(request, write=False) as ctx:
            result = run_report(ctx, name, as_of=as_of)
        if fmt == "json":
            return JSONResponse(result.json())
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerows(export.table(result))
            return Response(buf.getvalue(), media_type="text/csv")
        if fmt == "xlsx":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{name}.xlsx"
                export.write(result, path)
                return Response(path.read_bytes(), media_type=XLSX)
        raise BadRequest("format must be json, csv or xlsx")

    return router
