"""The duplicates review queue: likely pairs and clusters side by side with the score explained
field by field (level, both values, weight), a way into the merge page, and "Not a duplicate".

The pages call what the API does (``plumb.identity.queue``) as the signed-in user: a pair is
listed only when both its records are visible, and a field the user may not read is blanked in
its explanation. "Not a duplicate" records the ``distinct`` decision through
``queue.mark_distinct``, so the pair is never proposed again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, NotFound
from plumb.identity import queue
from plumb.identity.plan import Plan, plan_for
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, text
from plumb.workspace.standard import PLURALS, SINGULARS, FieldType
from plumb.workspace.survivorship import MERGEABLE

PAGE_SIZE = 25
LEVEL_CLASSES = {"exact": "agree", "missing": "missing", "disagree": "disagree"}


def matched_objects(ctx: Ctx) -> list[str]:
    """Objects with a matching definition that the user may view, in the usual order."""
    return [
        obj
        for obj in MERGEABLE
        if plan_for(ctx.workspace, obj) is not None and authz.may(ctx, obj, "view")
    ]


def _plan(ctx: Ctx, plural: str) -> tuple[str, Plan]:
    obj = SINGULARS.get(plural, "")
    plan = plan_for(ctx.workspace, obj) if obj else None
    if plan is None:
        raise NotFound(f"the workspace declares no duplicate matching for {plural!r}")
    return obj, plan


def _shown(value: Any) -> str:
    """A compared value as a person reads it (several e-mail addresses joined by commas)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if v not in (None, ""))
    return str(value)


def _references(ctx: Ctx, obj: str, pairs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Object -> ids compared in reference fields (a contact's company), to show their names."""
    sch = queries.schema(ctx, obj)
    out: dict[str, set[str]] = {}
    for pair in pairs:
        for item in pair["explanation"]:
            spec = sch.fields.get(item["field"])
            if spec is not None and spec.type == FieldType.RECORD and spec.target:
                out.setdefault(spec.target, set()).update(
                    str(v) for v in (item.get("a"), item.get("b")) if v
                )
    return out


def _explained(
    ctx: Ctx,
    obj: str,
    explanation: list[dict[str, Any]],
    labels: dict[tuple[str, str], str],
) -> list[dict[str, Any]]:
    """Each field of an explanation as a row: label, level, both values, signed weight."""
    sch = queries.schema(ctx, obj)
    rows = []
    for item in explanation:
        spec = sch.fields.get(item["field"])
        weight = float(item.get("weight") or 0.0)
        if spec is not None and spec.type == FieldType.RECORD and spec.target:
            item = {
                **item,
                **{
                    side: labels.get((spec.target, str(item[side])), item[side])
                    for side in ("a", "b")
                    if item.get(side)
                },
            }
        rows.append(
            {
                "field": item["field"],
                "label": spec.label if spec is not None else item["field"],
                "level": item["level"],
                "class": LEVEL_CLASSES.get(item["level"], "partial"),
                "a": _shown(item.get("a")),
                "b": _shown(item.get("b")),
                "hidden": bool(item.get("hidden")),
                "weight": f"{weight:+.1f}",
            }
        )
    rows.sort(key=lambda r: (r["level"] == "missing", r["label"]))
    return rows


def queue_page(request: Request, page: Page, plural: str) -> Response:
    ctx = page.ctx
    obj, plan = _plan(ctx, plural)
    params = request.query_params
    try:
        offset = max(int(params.get("offset") or 0), 0)
    except ValueError as exc:
        raise BadRequest("offset must be a whole number") from exc
    pairs, total = queue.listing(ctx, obj, limit=PAGE_SIZE, offset=offset)
    groups = {k: v for k, v in queue.clusters(ctx, obj).items() if len(v) > 2}
    ids = {p["record_a"] for p in pairs} | {p["record_b"] for p in pairs}
    ids.update(i for members in groups.values() for i in members)
    wanted = _references(ctx, obj, pairs)
    wanted.setdefault(obj, set()).update(ids)
    labels = lookups.labels_for(ctx, wanted)
    items = [
        {
            **p,
            "label_a": labels.get((obj, p["record_a"]), p["record_a"]),
            "label_b": labels.get((obj, p["record_b"]), p["record_b"]),
            "rows": _explained(ctx, obj, p["explanation"], labels),
            "merge_url": f"/merge/{plural}?"
            + urlencode([("ids", p["record_a"]), ("ids", p["record_b"])]),
        }
        for p in pairs
    ]
    clusters = [
        {
            "id": key,
            "records": [{"id": i, "label": labels.get((obj, i), i)} for i in members],
            "merge_url": f"/merge/{plural}?" + urlencode([("ids", i) for i in members]),
        }
        for key, members in groups.items()
    ]
    return render(
        request,
        "duplicates.html",
        page,
        obj=obj,
        plural=plural,
        objects=matched_objects(ctx),
        pairs=items,
        clusters=clusters,
        total=total,
        threshold=plan.config.threshold,
        offset=offset,
        next_offset=offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
        may_decide=page.may(obj, "merge"),
        done=params.get("done"),
    )


def duplicates_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/duplicates")
    def first(request: Request) -> Response:
        with page_tx(request) as page:
            objects = matched_objects(page.ctx)
            if not objects:
                raise NotFound("the workspace declares no duplicate matching you may review")
            return redirect(f"/duplicates/{PLURALS[objects[0]]}")

    @router.get("/duplicates/{plural}")
    def listing(request: Request, plural: str) -> Response:
        with page_tx(request) as page:
            return queue_page(request, page, plural)

    @router.post("/duplicates/{plural}/distinct")
    def distinct(request: Request, plural: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            _, plan = _plan(page.ctx, plural)
            decision = queue.mark_distinct(
                page.ctx,
                plan,
                text(form, "record_a"),
                text(form, "record_b"),
                note=text(form, "note") or None,
            )
            done = f"{decision.record_a},{decision.record_b}"
        return redirect(f"/duplicates/{plural}?{urlencode({'done': done})}")

    return router
