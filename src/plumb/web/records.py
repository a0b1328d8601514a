"""Record pages: lists with filters, sort, search and keyset pages; the record page with
inline edit and its timeline; creating records, logging activities and creating tasks."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.core.clock import isoformat
from plumb.core.errors import NotAuthenticated, NotFound, PlumbError, VersionConflict
from plumb.records import operations as ops
from plumb.records import queries
from plumb.records.fields import ObjectSchema
from plumb.web import lookups
from plumb.web.core import (
    Page,
    PageRoute,
    form_of,
    page_tx,
    redirect,
    render,
    text,
    wants_fragment,
)
from plumb.web.forms import field_errors, field_values, version_of
from plumb.web.record_context import related, timeline
from plumb.web.views import (
    FieldView,
    display_value,
    field_views,
    raw_value,
    record_href,
    record_label,
    references,
)
from plumb.workspace.standard import PLURALS, FieldType
from plumb.workspace.survivorship import MERGEABLE

VERSION_HEADER = "X-Plumb-Version"
"""On a saved inline edit: the record's new version, for the page's other edit forms."""
LISTED = ("contact", "company", "deal", "case", "task")
PAGE_SIZE = 50
COLUMNS = {
    "contact": [
        "first_name",
        "last_name",
        "emails",
        "phones",
        "lifecycle_stage",
        "company_id",
        "owner_id",
    ],
    "company": ["name", "domain", "lifecycle_stage", "industry", "owner_id"],
    "deal": ["name", "stage", "amount", "close_date", "company_id", "owner_id"],
    "case": ["subject", "status", "priority", "stage", "owner_id"],
    "task": ["title", "due_date", "status", "assignee_id", "record"],
}
FILTERABLE = (
    FieldType.STAGE,
    FieldType.PICKLIST,
    FieldType.PIPELINE,
    FieldType.CHOICE,
    FieldType.USER,
)
SORT_ALIASES = {"emails": "email", "phones": "phone"}
LIST_PARAMS = {"q", "sort", "cursor", "count"}


def _locked(page: Page, obj: str) -> frozenset[str]:
    role = authz.role_of(page.ctx)
    return role.read_only(obj) if role is not None else frozenset()


def _views(page: Page, obj: str, snap: dict[str, Any], users: dict[str, str]) -> list[FieldView]:
    ctx = page.ctx
    sch = queries.schema(ctx, obj)
    labels = lookups.labels_for(ctx, references(sch, [snap]))
    return field_views(
        ctx.workspace,
        sch,
        snap,
        hidden=authz.hidden_fields(ctx, obj),
        locked=_locked(page, obj),
        may_edit=page.may(obj, "edit"),
        users=users,
        labels=labels,
    )


def _slices(page: Page, obj: str) -> list[tuple[str, str]]:
    """Saved views as URLs: one lifecycle stage, one pipeline stage, my open tasks..."""
    ws = page.ctx.workspace
    base = f"/{PLURALS[obj]}"
    me = page.user.id
    out: list[tuple[str, str]] = [("All", base)]
    if obj in ("contact", "company"):
        out += [(s.label, f"{base}?lifecycle_stage={s.key}") for s in ws.lifecycle_stages]
    elif obj in ("deal", "case"):
        out.append(("Mine", f"{base}?owner_id={me}"))
        for pipe in ws.pipelines_for(obj):
            out += [(s.label, f"{base}?pipeline={pipe.key}&stage={s.key}") for s in pipe.stages]
    elif obj == "task":
        out += [
            ("My open tasks", f"{base}?assignee_id={me}&status=open&sort=due_date"),
            ("Open", f"{base}?status=open&sort=due_date"),
            ("Done", f"{base}?status=done"),
        ]
    return out


def _list_page(request: Request, obj: str) -> Response:
    params = request.query_params
    with page_tx(request) as page:
        ctx = page.ctx
        sch = queries.schema(ctx, obj)
        hidden = authz.hidden_fields(ctx, obj)
        raw_filters = [(k, v) for k, v in params.multi_items() if k not in LIST_PARAMS and v != ""]
        error: PlumbError | None = None
        try:
            filters = queries.parse_filters(sch, raw_filters)
            result = queries.list_records(
                ctx,
                obj,
                filters=filters,
                sort=params.get("sort") or None,
                cursor=params.get("cursor") or None,
                limit=PAGE_SIZE,
                search=params.get("q") or None,
                count=params.get("count") == "1",
            )
            totals = (
                lookups.amount_totals(ctx, filters, params.get("q") or None)
                if obj == "deal"
                else None
            )
        except PlumbError as exc:
            if isinstance(exc, NotAuthenticated):
                raise
            error, result, totals = exc, queries.Page([], None), None
        snaps = [lookups.redacted(ctx, obj, s) for s in queries.snapshots(ctx, obj, result.records)]
        users = lookups.user_names(ctx)
        labels = lookups.labels_for(ctx, references(sch, snaps))
        columns = [c for c in COLUMNS[obj] if c not in hidden and c in sch]
        rows = []
        for snap in snaps:
            cells = []
            for name in columns:
                shown, href, definition = display_value(
                    ctx.workspace, obj, sch[name], snap.get(name), snap, users, labels
                )
                cells.append({"name": name, "text": shown, "href": href, "title": definition})
            rows.append({"id": snap["id"], "label": record_label(obj, snap), "cells": cells})
        keep = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        next_url = (
            f"?{urlencode([*keep, ('cursor', result.next_cursor)])}" if result.next_cursor else None
        )
        sort = params.get("sort", "")
        headers = []
        for name in columns:
            key = SORT_ALIASES.get(name, name)
            sortable = not sch[name].many or name in SORT_ALIASES
            sortable = sortable and sch[name].type not in (FieldType.RECORD_ANY,)
            flip = f"-{key}" if sort == key else key
            query = urlencode([*[(k, v) for k, v in keep if k != "sort"], ("sort", flip)])
            arrow = "▲" if sort == key else ("▼" if sort == f"-{key}" else "")
            headers.append(
                {
                    "label": sch[name].label,
                    "href": f"?{query}" if sortable else None,
                    "arrow": arrow,
                }
            )
        filter_fields = [
            {
                "name": n,
                "label": f.label,
                "options": _filter_options(page, obj, sch, n, users),
                "value": params.get(n, ""),
            }
            for n, f in sch.fields.items()
            if f.type in FILTERABLE and n not in hidden and n != "pipeline"
        ]
        return render(
            request,
            "list.html",
            page,
            status=error.status if error else 200,
            obj=obj,
            plural=PLURALS[obj],
            headers=headers,
            rows=rows,
            next_url=next_url,
            first_url=f"?{urlencode(keep)}" if params.get("cursor") else None,
            total=result.total,
            amount_totals=totals,
            error=error,
            q=params.get("q", ""),
            sort=sort,
            slices=_slices(page, obj),
            current=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            filter_fields=filter_fields,
            may_create=page.may(obj, "create"),
            may_bulk=page.may(obj, "edit"),
            bulk_fields=[
                (n, f.label)
                for n, f in sch.fields.items()
                if n not in hidden
                and n not in _locked(page, obj)
                and not f.read_only
                and not f.is_link_set
                and f.type != FieldType.RECORD_ANY
            ],
            users=users,
        )


def _filter_options(
    page: Page, obj: str, sch: ObjectSchema, name: str, users: dict[str, str]
) -> list[tuple[str, str]]:
    from plumb.web.views import options_for

    return [(o.key, o.label) for o in options_for(page.ctx.workspace, obj, sch[name], {}, users)]


# -- the record page ------------------------------------------------------------------------------


def record_page(
    request: Request,
    page: Page,
    obj: str,
    record_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    conflict: dict[str, Any] | None = None,
    attempted: dict[str, Any] | None = None,
    only_field: str | None = None,
) -> Response:
    ctx = page.ctx
    record = queries.get(ctx, obj, record_id)
    snap = lookups.redacted(ctx, obj, queries.get_snapshot(ctx, obj, record))
    users = lookups.user_names(ctx)
    fields = _views(page, obj, snap, users)
    for view in fields:
        if attempted and view.name in attempted:
            view.raw = attempted[view.name]
    if only_field is not None:
        view = next(v for v in fields if v.name == only_field)
        return render(
            request,
            "_field.html",
            page,
            status=status,
            obj=obj,
            snap=snap,
            f=view,
            errors=errors or {},
            conflict=conflict,
        )
    return render(
        request,
        "record.html",
        page,
        status=status,
        obj=obj,
        plural=PLURALS[obj],
        snap=snap,
        title=record_label(obj, snap),
        fields=fields,
        errors=errors or {},
        conflict=conflict,
        timeline=timeline(page, obj, record.id, users),
        related=related(page, obj, record.id),
        may_log=page.may("activity", "create") and obj != "activity",
        may_task=page.may("task", "create") and obj not in ("task", "activity"),
        may_merge=obj in MERGEABLE and page.may(obj, "merge"),
        today=date.today().isoformat(),
    )


def _edit_field(request: Request, obj: str, record_id: str, name: str, form: FormData) -> Response:
    fragment = wants_fragment(request)
    with page_tx(request, form=form) as page:
        ctx = page.ctx
        sch = queries.schema(ctx, obj)
        if name not in sch or name in authz.hidden_fields(ctx, obj):
            raise NotFound(f"{obj} has no field {name!r}", object=obj)
        values = field_values(sch, form)
        record = queries.get(ctx, obj, record_id, for_update=True)
        try:
            ops.update(
                ctx, obj, record, {name: values.get(name)}, expected_version=version_of(form)
            )
        except PlumbError as exc:
            if isinstance(exc, NotAuthenticated):
                raise
            page.rollback()
            errors = field_errors(exc)
            if name not in errors:
                # The error is about other fields (a stage gate names the blank ones): it is
                # still shown where the user acted.
                errors[name] = errors.pop("", "") or "; ".join(i.message for i in exc.issues)
            conflict = None
            if isinstance(exc, VersionConflict):
                current = exc.extra.get("current", {})
                conflict = {
                    "field": name,
                    "yours": text(form, f"f.{name}"),
                    "theirs": raw_value(sch[name], current.get(name)),
                    "version": exc.extra.get("current_version"),
                }
            return record_page(
                request,
                page,
                obj,
                record_id,
                status=exc.status,
                errors=errors,
                conflict=conflict,
                attempted={name: text(form, f"f.{name}")},
                only_field=name if fragment else None,
            )
        if fragment:
            response = record_page(request, page, obj, record_id, only_field=name)
            response.headers[VERSION_HEADER] = str(queries.get(ctx, obj, record_id).version)
            return response
    return redirect(f"{record_href(obj, record.id)}#field-{name}")


def _create(request: Request, obj: str, form: FormData) -> Response:
    with page_tx(request, form=form) as page:
        ctx = page.ctx
        sch = queries.schema(ctx, obj)
        values = {k: v for k, v in field_values(sch, form).items() if v not in (None, [])}
        try:
            record = ops.create(ctx, obj, values)
        except PlumbError as exc:
            if isinstance(exc, NotAuthenticated):
                raise
            page.rollback()
            return _new_form(
                request, page, obj, status=exc.status, errors=field_errors(exc), form=form
            )
        created = record.id
    return redirect(record_href(obj, created))


def _new_form(
    request: Request,
    page: Page,
    obj: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: FormData | None = None,
) -> Response:
    ctx = page.ctx
    snap: dict[str, Any] = {}
    if obj in ("deal", "case"):
        pipes = ctx.workspace.pipelines_for(obj)
        if pipes:
            snap = {"pipeline": pipes[0].key, "stage": pipes[0].stages[0].key}
    if obj == "task":
        snap = {"status": "open", "assignee_id": page.user.id}
    snap["owner_id"] = page.user.id
    fields = [
        v
        for v in _views(page, obj, snap, lookups.user_names(ctx))
        if v.editable and v.name != "last_verified_at"
    ]
    if form is not None:
        for view in fields:
            view.raw = text(form, f"f.{view.name}")
    return render(
        request,
        "new.html",
        page,
        status=status,
        obj=obj,
        plural=PLURALS[obj],
        fields=fields,
        errors=errors or {},
    )


def _log_activity(request: Request, obj: str, record_id: str, form: FormData) -> Response:
    with page_tx(request, form=form) as page:
        ctx = page.ctx
        record = queries.get(ctx, obj, record_id)
        kind = text(form, "type") or "note"
        item = {
            "type": kind,
            "subject": text(form, "subject") or None,
            "body": text(form, "body") or None,
            "occurred_at": text(form, "occurred_at") or isoformat(ctx.now()),
            "links": [{"type": obj, "id": record.id}],
        }
        if kind in ("call", "email"):
            item["direction"] = text(form, "direction") or "outbound"
        return _create_from_record(request, page, obj, record.id, "activity", item, "timeline")


def _create_task(request: Request, obj: str, record_id: str, form: FormData) -> Response:
    with page_tx(request, form=form) as page:
        ctx = page.ctx
        record = queries.get(ctx, obj, record_id)
        item = {
            "title": text(form, "title"),
            "due_date": text(form, "due_date") or None,
            "status": "open",
            "assignee_id": page.user.id,
            "record": {"type": obj, "id": record.id},
        }
        return _create_from_record(request, page, obj, record.id, "task", item, "tasks")


def _create_from_record(
    request: Request,
    page: Page,
    obj: str,
    record_id: str,
    child: str,
    item: dict[str, Any],
    anchor: str,
) -> Response:
    """Create ``child`` (an activity, a task) from a record's page: back to that part of the
    page, or the page again with the refusal shown at the form."""
    try:
        ops.create(page.ctx, child, item)
    except PlumbError as exc:
        if isinstance(exc, NotAuthenticated):
            raise
        page.rollback()
        return record_page(
            request, page, obj, record_id, status=exc.status, errors={child: str(exc)}
        )
    return redirect(f"{record_href(obj, record_id)}#{anchor}")


def _routes(router: APIRouter, obj: str) -> None:
    plural = PLURALS[obj]

    @router.get(f"/{plural}", name=f"list_{plural}")
    def list_(request: Request) -> Response:
        return _list_page(request, obj)

    @router.get(f"/{plural}/new", name=f"new_{obj}")
    def new(request: Request) -> Response:
        with page_tx(request) as page:
            return _new_form(request, page, obj)

    @router.post(f"/{plural}", name=f"create_{obj}")
    def create(request: Request, form: FormData = Depends(form_of)) -> Response:
        return _create(request, obj, form)

    @router.get(f"/{plural}/{{record_id}}", name=f"show_{obj}")
    def show(request: Request, record_id: str) -> Response:
        with page_tx(request) as page:
            record = queries.get(page.ctx, obj, record_id)
            if record.id != record_id.strip().upper():
                return redirect(record_href(obj, record.id))
            return record_page(request, page, obj, record.id)

    @router.post(f"/{plural}/{{record_id}}/fields/{{name}}", name=f"edit_{obj}_field")
    def edit(
        request: Request, record_id: str, name: str, form: FormData = Depends(form_of)
    ) -> Response:
        return _edit_field(request, obj, record_id, name, form)

    @router.post(f"/{plural}/{{record_id}}/activities", name=f"log_{obj}_activity")
    def log(request: Request, record_id: str, form: FormData = Depends(form_of)) -> Response:
        return _log_activity(request, obj, record_id, form)

    @router.post(f"/{plural}/{{record_id}}/tasks", name=f"task_{obj}")
    def task(request: Request, record_id: str, form: FormData = Depends(form_of)) -> Response:
        return _create_task(request, obj, record_id, form)


def records_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)
    for obj in LISTED:
        _routes(router, obj)
    return router
