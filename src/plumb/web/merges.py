"""Merging records side by side: each field's values, the surviving value per field (the
workspace's survivorship rules by default, a choice per field), the merge, and the merge
history with undo (all through ``plumb.identity.merge``).

A merge starts from the duplicates review queue (``web/duplicates.py``: "Compare and merge")
or from a record page ("Merge a duplicate").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.core.errors import BadRequest, NotAuthenticated, PlumbError
from plumb.identity import merge as merging
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, text
from plumb.web.views import display_value, record_label, references
from plumb.workspace.standard import PLURALS, SINGULARS
from plumb.workspace.survivorship import MERGEABLE


def _ids(raw: str) -> list[str]:
    return [i.strip().upper() for i in raw.replace(" ", ",").split(",") if i.strip()]


def _choices(form: Any, ids: list[str]) -> dict[str, str]:
    """``c.<field>=<record id>`` inputs: the record whose value the field keeps."""
    out: dict[str, str] = {}
    for key in form:
        if key.startswith("c."):
            value = form.get(key)
            if isinstance(value, str) and value.upper() in ids:
                out[key.removeprefix("c.")] = value.upper()
    return out


def compare_page(
    request: Request,
    page: Page,
    obj: str,
    survivor: str,
    merged: list[str],
    choices: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    ctx = page.ctx
    sch = queries.schema(ctx, obj)
    head, others = merging.load_records(ctx, obj, survivor, merged, lock=False)
    records = [head, *others]
    plan = merging.plan_merge(ctx, obj, head, others, dict(choices))
    snaps = [lookups.redacted(ctx, obj, s) for s in queries.snapshots(ctx, obj, records)]
    hidden = authz.hidden_fields(ctx, obj)
    users = lookups.user_names(ctx)
    labels = lookups.labels_for(ctx, references(sch, snaps))
    rows = []
    for name, resolution in plan.fields.items():
        if name in hidden or name not in sch:
            continue
        spec = sch[name]
        values = [
            display_value(ctx.workspace, obj, spec, s.get(name), s, users, labels)[0] for s in snaps
        ]
        differ = len({v for v in values}) > 1
        result = display_value(ctx.workspace, obj, spec, resolution.value, snaps[0], users, labels)[
            0
        ]
        rows.append(
            {
                "name": name,
                "label": spec.label,
                "cells": values,
                "differ": differ,
                "choosable": differ and not spec.many and resolution.rule != "with_stage",
                "chosen": resolution.record_id,
                "rule": resolution.rule,
                "result": result,
            }
        )
    rows.sort(key=lambda r: not r["differ"])
    return render(
        request,
        "merge.html",
        page,
        status=status,
        obj=obj,
        plural=PLURALS[obj],
        records=[
            {"id": s["id"], "label": record_label(obj, s), "version": s["version"]} for s in snaps
        ],
        survivor=head.id,
        merged=[r.id for r in others],
        rows=rows,
        error=error,
    )


def merges_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/merge/{plural}")
    def compare(request: Request, plural: str) -> Response:
        obj = SINGULARS.get(plural, "")
        if obj not in MERGEABLE:
            raise BadRequest(f"{plural} cannot be merged")
        params = request.query_params
        ids = _ids(",".join(params.getlist("ids")))
        survivor = (params.get("survivor") or (ids[0] if ids else "")).upper()
        merged = [i for i in ids if i != survivor]
        with page_tx(request) as page:
            return compare_page(
                request, page, obj, survivor, merged, _choices(params, [survivor, *merged])
            )

    @router.post("/merge/{plural}")
    def merge(request: Request, plural: str, form: FormData = Depends(form_of)) -> Response:
        obj = SINGULARS.get(plural, "")
        if obj not in MERGEABLE:
            raise BadRequest(f"{plural} cannot be merged")
        survivor = text(form, "survivor").upper()
        merged = _ids(text(form, "merged"))
        choices = _choices(form, [survivor, *merged])
        versions = {
            k.removeprefix("v."): int(v)
            for k, v in form.items()
            if k.startswith("v.") and isinstance(v, str) and v.isdigit()
        }
        with page_tx(request, form=form) as page:
            try:
                done = merging.merge(
                    page.ctx, obj, survivor, merged, choices=dict(choices), versions=versions
                )
            except PlumbError as exc:
                if isinstance(exc, NotAuthenticated):
                    raise
                page.rollback()
                return compare_page(
                    request, page, obj, survivor, merged, choices, status=exc.status, error=str(exc)
                )
            merge_id = done.id
        return redirect(f"/merges?done={merge_id}#merge-{merge_id}")

    @router.get("/merges")
    def history(request: Request) -> Response:
        with page_tx(request) as page:
            found = merging.list_merges(page.ctx, limit=100)
            items = [merging.merge_json(page.ctx, m) for m in found]
            for item in items:
                item["may_undo"] = item["undone_at"] is None and page.may(item["object"], "merge")
            return render(
                request, "merges.html", page, merges=items, done=request.query_params.get("done")
            )

    @router.post("/merges/{merge_id}/undo")
    def undo(request: Request, merge_id: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            merging.undo(page.ctx, merge_id)
        return redirect(f"/merges#merge-{merge_id.upper()}")

    return router
