"""Every report by name, for the CLI, the API and the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.reports import activity, lifecycle, pipeline
from plumb.reports.base import Report

ReportFn = Callable[..., Report]

REPORTS: dict[str, ReportFn] = {
    "pipeline": pipeline.pipeline,
    "forecast": pipeline.forecast,
    "funnel": lifecycle.funnel,
    "status_usage": lifecycle.status_usage,
    "time_in_stage": activity.time_in_stage,
    "stale_deals": activity.stale_deals,
    "activity_by_owner": activity.activity_by_owner,
}
PERIOD_REPORTS = {"funnel", "status_usage"}
"""Reports over a period (``start``/``stop``, default the 90 days up to now or ``as_of``)."""


def report_name(name: str) -> str:
    """The registry key for ``name`` (``status-usage`` and ``status_usage`` are the same)."""
    key = name.replace("-", "_")
    if key not in REPORTS:
        raise BadRequest(f"unknown report {name!r}; reports are {', '.join(REPORTS)}")
    return key


def run_report(
    ctx: Ctx,
    name: str,
    *,
    as_of: datetime | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> Report:
    key = report_name(name)
    if key not in PERIOD_REPORTS:
        if start is not None or stop is not None:
            raise BadRequest(f"report {key} takes no period (from/to); only as_of")
        return REPORTS[key](ctx, as_of=as_of)
    return REPORTS[key](ctx, as_of=as_of, start=start, stop=stop)
