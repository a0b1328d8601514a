"""The pipeline board: stages as columns with count, amount and weighted amount; moving a deal
posts the move (drag and drop with JavaScript, a small form without), and a move refused by the
stage's gate opens a form for exactly the fields it asks for."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.core.clock import parse_datetime
from plumb.core.errors import NotAuthenticated, NotFound, PlumbError, StageGateError
from plumb.records import operations as ops
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, text
from plumb.web.forms import field_errors, field_values, version_of
from plumb.web.views import field_views, record_label, references
from plumb.workspace.schema import Stage

CARDS_PER_STAGE = 50
STALE_IN_STAGE = timedelta(days=30)
STALE_NO_ACTIVITY = timedelta(days=14)


def _stale(page: Page, snap: dict[str, Any], stage: Stage) -> str | None:
    """Why an open deal looks stale (long in its stage, or no recent activity), or None.
    A deal closed won or lost is done, not stale."""
    if stage.outcome != "open":
        return None
    now = page.ctx.now()
    entered = snap.get("stage_entered_at")
    if entered and now - parse_datetime(entered) > STALE_IN_STAGE:
        return f"in this stage since {entered[:10]}"
    last = snap.get("last_activity_at")
    if last and now - parse_datetime(last) > STALE_NO_ACTIVITY:
        return f"no activity since {last[:10]}"
    return None


def board_page(
    request: Request,
    page: Page,
    pipeline_key: str,
    *,
    status: int = 200,
    gate: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    ctx = page.ctx
    ws = ctx.workspace
    pipe = ws.pipeline("deal", pipeline_key)
    if pipe is None:
        raise NotFound(f"no deal pipeline {pipeline_key!r}")
    sch = queries.schema(ctx, "deal")
    totals = lookups.stage_totals(ctx, pipe.key)
    users = lookups.user_names(ctx)
    columns = []
    # Currency -> [amount, weighted amount] over the open stages (never across currencies).
    open_totals: dict[str, list[Decimal]] = {}
    for stage in pipe.stages:
        filters = queries.parse_filters(sch, [("pipeline", pipe.key), ("stage", stage.key)])
        found = queries.list_records(
            ctx, "deal", filters=filters, sort="close_date", limit=CARDS_PER_STAGE
        )
        snaps = [
            lookups.redacted(ctx, "deal", s) for s in queries.snapshots(ctx, "deal", found.records)
        ]
        count, amounts = totals.get(stage.key, (0, {}))
        probability = Decimal(str(stage.probability if stage.probability is not None else 0.0))
        amount = None if amounts is None else [(c, a, a * probability) for c, a in amounts.items()]
        for cur, total, weighted in amount if amount and stage.outcome == "open" else []:
            sums = open_totals.setdefault(cur, [Decimal(0), Decimal(0)])
            sums[0] += total
            sums[1] += weighted
        columns.append(
            {
                "stage": stage,
                "count": count,
                "amounts": amount,
                "more": found.next_cursor is not None,
                "cards": [
                    {
                        "id": s["id"],
                        "version": s["version"],
                        "name": record_label("deal", s),
                        "amount": s.get("amount"),
                        "currency": s.get("currency"),
                        "owner": users.get(s.get("owner_id") or "", ""),
                        "close_date": s.get("close_date"),
                        "stale": _stale(page, s, stage),
                    }
                    for s in snaps
                ],
            }
        )
    return render(
        request,
        "board.html",
        page,
        status=status,
        open_totals=sorted(open_totals.items()),
        pipe=pipe,
        pipelines=ws.pipelines_for("deal"),
        columns=columns,
        may_move=page.may("deal", "edit"),
        gate=gate,
        error=error,
        currency=ws.workspace.default_currency,
    )


def board_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/pipeline")
    def first(request: Request) -> Response:
        with page_tx(request) as page:
            pipes = page.ctx.workspace.pipelines_for("deal")
            if not pipes:
                raise NotFound("the workspace defines no deal pipeline")
            return redirect(f"/pipeline/{pipes[0].key}")

    @router.get("/pipeline/{key}")
    def board(request: Request, key: str) -> Response:
        with page_tx(request) as page:
            return board_page(request, page, key)

    @router.post("/deals/{record_id}/move")
    def move(request: Request, record_id: str, form: FormData = Depends(form_of)) -> Response:
        stage = text(form, "stage")
        with page_tx(request, form=form) as page:
            ctx = page.ctx
            sch = queries.schema(ctx, "deal")
            deal = queries.get(ctx, "deal", record_id, for_update=True)
            pipeline_key = deal.pipeline  # type: ignore[attr-defined]
            values = field_values(sch, form)
            try:
                ops.move_stage(
                    ctx, "deal", deal, stage, values=values, expected_version=version_of(form)
                )
            except PlumbError as exc:
                if isinstance(exc, NotAuthenticated):
                    raise
                page.rollback()
                if not isinstance(exc, StageGateError):
                    return board_page(
                        request, page, pipeline_key, status=exc.status, error=str(exc)
                    )
                deal = queries.get(ctx, "deal", record_id)
                snap = lookups.redacted(ctx, "deal", queries.get_snapshot(ctx, "deal", deal))
                missing = set(exc.extra.get("missing_fields", []))
                views = field_views(
                    ctx.workspace,
                    sch,
                    snap,
                    hidden=authz.hidden_fields(ctx, "deal"),
                    locked=frozenset(),
                    may_edit=True,
                    users=lookups.user_names(ctx),
                    labels=lookups.labels_for(ctx, references(sch, [snap])),
                )
                for view in views:
                    if view.name in values:
                        view.raw = text(form, f"f.{view.name}")
                target = ctx.workspace.pipeline("deal", pipeline_key)
                stage_def = target.stage(stage) if target else None
                gate = {
                    "deal": snap,
                    "name": record_label("deal", snap),
                    "stage": stage,
                    "stage_label": stage_def.label if stage_def else stage,
                    "fields": [v for v in views if v.name in missing],
                    "errors": field_errors(exc),
                }
                return board_page(request, page, pipeline_key, status=exc.status, gate=gate)
        return redirect(f"/pipeline/{pipeline_key}#deal-{record_id.upper()}")

    return router
