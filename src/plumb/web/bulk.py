"""Bulk actions on a list: assign an owner, set a field, archive; with a preview of what will
change and an undo afterwards.

The preview runs the real write path on every selected record (standardization, validation,
stage gates, rules) inside the request's transaction and rolls it all back, so it shows exactly
what would change and which records would be refused. Applying writes each record in its own
savepoint (a refused record leaves the others alone) under one correlation id; undo reverses,
through the operations layer, the changes this user made under that id, skipping any record
changed since.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.core.errors import BadRequest, NotAuthenticated, PlumbError
from plumb.models import ChangeEntry
from plumb.records import operations as ops
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import Page, PageRoute, form_of, page_tx, render, text
from plumb.web.views import parse_input, raw_value, record_label
from plumb.workspace.standard import PLURALS, SINGULARS

MAX_RECORDS = 200
ACTIONS = ("owner", "set", "archive")
OWNER_FIELD = {"task": "assignee_id"}
"""The field "assign" sets: a task is assigned, other records are owned."""


def _request(page: Page, obj: str, form: FormData) -> tuple[str, list[str], dict[str, Any]]:
    action = text(form, "action")
    ids = [i.strip().upper() for i in form.getlist("ids") if isinstance(i, str) and i.strip()]
    if action not in ACTIONS:
        raise BadRequest("choose an action: assign an owner, set a field or archive")
    if not ids:
        raise BadRequest("select at least one record")
    if len(ids) > MAX_RECORDS:
        raise BadRequest(f"at most {MAX_RECORDS} records at a time")
    patch: dict[str, Any] = {}
    sch = queries.schema(page.ctx, obj)
    if action == "owner":
        patch = {OWNER_FIELD.get(obj, "owner_id"): text(form, "owner") or None}
    elif action == "set":
        name = text(form, "field")
        if name not in sch or name in authz.hidden_fields(page.ctx, obj):
            raise BadRequest(f"{obj} has no field {name!r}")
        patch = {name: parse_input(sch[name], text(form, "value"))}
    return action, ids, patch


def _run(
    page: Page, obj: str, action: str, ids: list[str], patch: dict[str, Any], reason: str
) -> list[dict[str, Any]]:
    """Apply to each record in its own savepoint; what changed (visible fields) or why not."""
    ctx = page.ctx
    sch = queries.schema(ctx, obj)
    hidden = authz.hidden_fields(ctx, obj)
    out: list[dict[str, Any]] = []
    for ident in ids:
        item: dict[str, Any] = {"id": ident, "label": ident, "changes": [], "error": None}
        try:
            with ctx.session.begin_nested():
                record = queries.get(ctx, obj, ident, for_update=True)
                before = lookups.redacted(ctx, obj, queries.get_snapshot(ctx, obj, record))
                item["label"] = record_label(obj, before)
                if action == "archive":
                    record = ops.archive(ctx, obj, record, reason=reason or "bulk archive")
                else:
                    record = ops.update(ctx, obj, record, patch)
                after = lookups.redacted(ctx, obj, queries.get_snapshot(ctx, obj, record))
        except PlumbError as exc:
            if isinstance(exc, NotAuthenticated):
                raise
            item["error"] = str(exc)
            out.append(item)
            continue
        for name in [*sch.fields, "archived"]:
            if name in hidden or before.get(name) == after.get(name):
                continue
            spec = sch.fields.get(name)
            if spec is None:
                item["changes"].append(("Archived", "no", "yes"))
                continue
            old, new = raw_value(spec, before.get(name)), raw_value(spec, after.get(name))
            item["changes"].append((spec.label, old or "—", new or "—"))
        out.append(item)
    return out


def _context(page: Page, obj: str, form: FormData) -> dict[str, Any]:
    users = lookups.user_names(page.ctx)
    return {
        "obj": obj,
        "plural": PLURALS[obj],
        "form_items": [
            (k, v) for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)
        ],
        "users": users,
    }


def bulk_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.post("/{plural}/bulk/preview")
    def preview(request: Request, plural: str, form: FormData = Depends(form_of)) -> Response:
        obj = SINGULARS.get(plural, "")
        if obj not in ("contact", "company", "deal", "case", "task"):
            raise BadRequest(f"no bulk actions on {plural}")
        with page_tx(request, form=form) as page:
            action, ids, patch = _request(page, obj, form)
            results = _run(page, obj, action, ids, patch, text(form, "reason"))
            page.rollback()  # a preview writes nothing
            return render(
                request,
                "bulk.html",
                page,
                stage="preview",
                results=results,
                changing=sum(1 for r in results if r["changes"]),
                **_context(page, obj, form),
            )

    @router.post("/{plural}/bulk/apply")
    def apply(request: Request, plural: str, form: FormData = Depends(form_of)) -> Response:
        obj = SINGULARS.get(plural, "")
        if obj not in ("contact", "company", "deal", "case", "task"):
            raise BadRequest(f"no bulk actions on {plural}")
        with page_tx(request, form=form) as page:
            page.ctx.correlation_id = f"bulk-{uuid.uuid4().hex}"
            action, ids, patch = _request(page, obj, form)
            results = _run(page, obj, action, ids, patch, text(form, "reason"))
            return render(
                request,
                "bulk.html",
                page,
                stage="done",
                results=results,
                changing=sum(1 for r in results if r["changes"]),
                correlation=page.ctx.correlation_id,
                **_context(page, obj, form),
            )

    @router.post("/{plural}/bulk/{correlation}/undo")
    def undo(
        request: Request, plural: str, correlation: str, form: FormData = Depends(form_of)
    ) -> Response:
        obj = SINGULARS.get(plural, "")
        with page_tx(request, form=form) as page:
            ctx = page.ctx
            sch = queries.schema(ctx, obj)
            entries = ctx.session.scalars(
                select(ChangeEntry)
                .where(
                    ChangeEntry.correlation_id == correlation,
                    ChangeEntry.record_type == obj,
                    ChangeEntry.actor_id == page.user.id,
                    ChangeEntry.source == "ui",
                )
                .order_by(ChangeEntry.at.desc(), ChangeEntry.id.desc())
            ).all()
            results: list[dict[str, Any]] = []
            for entry in entries:
                item: dict[str, Any] = {
                    "id": entry.record_id,
                    "label": entry.record_id,
                    "changes": [],
                    "error": None,
                }
                try:
                    with ctx.session.begin_nested():
                        record = queries.get(ctx, obj, entry.record_id, for_update=True)
                        item["label"] = record_label(
                            obj, lookups.redacted(ctx, obj, queries.get_snapshot(ctx, obj, record))
                        )
                        if entry.action == "archive":
                            ops.restore(ctx, obj, record, expected_version=entry.record_version)
                            item["changes"].append(("Archived", "yes", "no"))
                        else:
                            back = {
                                k: old
                                for k, (old, _new) in entry.changes.items()
                                if k in sch and not sch[k].read_only
                            }
                            ops.update(
                                ctx, obj, record, back, expected_version=entry.record_version
                            )
                            item["changes"] += [
                                (sch[k].label, "", "restored")
                                for k in back
                                if k not in authz.hidden_fields(ctx, obj)
                            ]
                except PlumbError as exc:
                    if isinstance(exc, NotAuthenticated):
                        raise
                    item["error"] = f"left as it is: {exc.message}"
                results.append(item)
            return render(
                request,
                "bulk.html",
                page,
                stage="undone",
                results=results,
                changing=sum(1 for r in results if not r["error"]),
                obj=obj,
                plural=PLURALS[obj],
                form_items=[],
                users={},
            )

    return router
