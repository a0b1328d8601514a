"""Every report by name, for the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.reports import activity, pipeline
from plumb.reports.base import Report

ReportFn = Callable[..., Report]

REPORTS: dict[str, ReportFn] = {
    "pipeline": pipeline.pipeline,
    "forecast": pipeline.forecast,
    "stale_deals": activity.stale_deals,
    "activity_by_owner": activity.activity_by_owner,
    "time_in_stage": activity.time_in_stage,
}


def run_report(ctx: Ctx, name: str, *, as_of: datetime | None = None) -> Report:
    fn = REPORTS.get(name)
    if fn is None:
        raise BadRequest(f"unknown report {name!r}; reports are {', '.join(REPORTS)}")
    return fn(ctx, as_of=as_of)
