"""``/api/v1/checks`` and ``/api/v1/reports/{name}``: findings and reports over the records the
caller may see; reports as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from plumb.api.deps import if_match, json_body, transaction
from plumb.core.errors import BadRequest
from plumb.quality.engine import run_checks
from plumb.quality.freshness import decay_estimate, verify
from plumb.quality.quarantine import quarantine, release
from plumb.quality.scores import history, slice_scores
from plumb.records import queries
from plumb.reports import export
from plumb.reports.base import parse_time
from plumb.reports.registry import run_report
from plumb.workspace.standard import SINGULARS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_as_of(text: str | None) -> datetime | None:
    """A date (the end of that day, UTC) or a datetime."""
    return parse_time("as_of", text, end_of_day=True)


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
        `from=` and `to=` set the period of `funnel` and `status_usage` (default: the 90 days
        up to now or `as_of`); `format=csv|xlsx` exports it."""
        params = request.query_params
        as_of = parse_as_of(params.get("as_of"))
        start = parse_time("from", params.get("from"))
        stop = parse_time("to", params.get("to"))
        fmt = params.get("format", "json")
        with transaction(request, write=False) as ctx:
            result = run_report(ctx, name, as_of=as_of, start=start, stop=stop)
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

    @router.post("/{plural}/{record_id}/verify", summary="Confirm a contact or company is right")
    def verify_(request: Request, plural: str, record_id: str) -> JSONResponse:
        obj = SINGULARS.get(plural)
        if obj is None:
            raise BadRequest(f"unknown object {plural!r}")
        with transaction(request, write=True) as ctx:
            record = queries.get(ctx, obj, record_id)
            record = verify(ctx, obj, record, expected_version=if_match(request, required=False))
            snap = queries.get_snapshot(ctx, obj, record)
        return JSONResponse(snap)

    @router.get("/quality/scores", summary="Quality score per slice, and the decay estimate")
    def scores(request: Request) -> JSONResponse:
        """`object=` (default contact), `by=all|owner|team|stage|source`, `history=true`."""
        params = request.query_params
        obj = params.get("object", "contact")
        by = params.get("by", "all")
        with transaction(request, write=False) as ctx:
            if params.get("history") in ("1", "true"):
                body: dict[str, Any] = {"history": history(ctx, obj, by)}
            else:
                body = {"scores": slice_scores(ctx, obj, by)}
            if obj in ("contact", "company"):
                body["decay"] = decay_estimate(ctx, obj)
        return JSONResponse(body)

    @router.post("/quarantine", summary="Archive the records failing a check (reversible)")
    async def quarantine_(request: Request) -> JSONResponse:
        """Body: `{object, check, slice?, reason?, dry_run?}`, or `{object, release: run_id}`."""
        body = await json_body(request)
        if not isinstance(body, dict) or "object" not in body:
            raise BadRequest("the body needs object and check (or release)")
        with transaction(request, write=not body.get("dry_run")) as ctx:
            if body.get("release"):
                ids = release(ctx, body["object"], str(body["release"]))
                return JSONResponse({"restored": ids})
            result = quarantine(
                ctx,
                body["object"],
                str(body.get("check", "")),
                slice_text=body.get("slice"),
                reason=body.get("reason"),
                dry_run=bool(body.get("dry_run")),
            )
            run_id = ctx.correlation_id
        return JSONResponse(
            {"records": result.records, "dry_run": result.dry_run, "run_id": run_id}
        )

    return router
