"""REST endpoints for the six record objects, generated from one definition per object.

Bodies are plain JSON objects of field values, cleaned and validated by the records layer (so
the API, the CLI and imports refuse the same things with the same errors). The OpenAPI document
carries each object's field schema, built from the workspace definition.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from plumb.access import authz
from plumb.api.deps import etag, if_match, json_body, transaction
from plumb.core.clock import parse_datetime
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, FieldIssue, ValidationFailed
from plumb.history.erase import erase as erase_record
from plumb.history.queries import as_of, record_history
from plumb.records import external_ids, queries
from plumb.records import operations as ops
from plumb.records.fields import ObjectSchema, schema_for
from plumb.workspace.schema import Workspace
from plumb.workspace.standard import PLURALS

LIST_PARAMS = {"limit", "cursor", "sort", "q", "include_archived", "count"}
MAX_BULK = 1000


def _record_response(ctx: Ctx, obj: str, record: Any, status: int = 200) -> JSONResponse:
    snap = authz.redact(ctx, obj, queries.get_snapshot(ctx, obj, record))
    return JSONResponse(snap, status_code=status, headers={"ETag": etag(record.version)})


def _body_schema(schema: ObjectSchema, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/json": {"schema": schema.json_schema()},
                "application/merge-patch+json": {"schema": schema.json_schema()},
            },
        }
    }


def _parse_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def object_router(obj: str, workspace: Workspace) -> APIRouter:
    plural = PLURALS[obj]
    schema = schema_for(workspace, obj)
    router = APIRouter(prefix=f"/api/v1/{plural}", tags=[plural])

    @router.get("", summary=f"List {plural}")
    def list_(request: Request) -> JSONResponse:
        """Filter with `field=value` or `field.op=value` (ops: eq, ne, gt, gte, lt, lte, in,
        contains, null); sort with `sort=field` or `sort=-field`; page with `cursor`."""
        params = request.query_params
        try:
            limit = int(params.get("limit", "50"))
        except ValueError as exc:
            raise BadRequest("limit must be a whole number") from exc
        with transaction(request, write=False) as ctx:
            filters = queries.parse_filters(
                queries.schema(ctx, obj),
                [(k, v) for k, v in params.multi_items() if k not in LIST_PARAMS],
            )
            page = queries.list_records(
                ctx,
                obj,
                filters=filters,
                sort=params.get("sort"),
                cursor=params.get("cursor"),
                limit=limit,
                include_archived=_parse_bool(params.get("include_archived")),
                count=_parse_bool(params.get("count")),
                search=params.get("q"),
            )
            data = [authz.redact(ctx, obj, s) for s in queries.snapshots(ctx, obj, page.records)]
        body: dict[str, Any] = {"data": data, "next_cursor": page.next_cursor}
        if page.total is not None:
            body["total"] = page.total
        return JSONResponse(body)

    @router.post(
        "",
        status_code=201,
        summary=f"Create a {obj}",
        openapi_extra=_body_schema(schema, f"Field values of the new {obj}."),
    )
    def create(request: Request, body: Any = Depends(json_body)) -> JSONResponse:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object of field values")
        with transaction(request, write=True) as ctx:
            record = ops.create(ctx, obj, body)
            response = _record_response(ctx, obj, record, 201)
        response.headers["Location"] = f"/api/v1/{plural}/{record.id}"
        return response

    @router.post("/bulk", summary=f"Create or upsert many {plural}")
    def bulk(request: Request, body: Any = Depends(json_body)) -> JSONResponse:
        """`{"items": [{...}, ...]}` creates; `{"mode": "upsert", "source": "hubspot", "items":
        [{"external_id": "123", ...}]}` creates or updates by external id. Each item succeeds
        or fails on its own; the response lists a result per item."""
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise BadRequest('the body must be {"items": [...]}')
        items = body["items"]
        if len(items) > MAX_BULK:
            raise BadRequest(f"at most {MAX_BULK} items per request")
        mode = body.get("mode", "create")
        with transaction(request, write=True) as ctx:
            if mode == "create":
                results = ops.create_many(ctx, obj, items)
            elif mode == "upsert":
                source = str(body.get("source") or "").strip()
                if not source:
                    raise BadRequest(
                        "upsert needs a source (the system the external ids come from)"
                    )
                pairs = [
                    (
                        str(i.get("external_id", "")) if isinstance(i, dict) else "",
                        {k: v for k, v in i.items() if k != "external_id"}
                        if isinstance(i, dict)
                        else i,
                    )
                    for i in items
                ]
                results = external_ids.upsert_many(ctx, obj, source, pairs)
            else:
                raise BadRequest("mode is create or upsert")
        out = [
            {
                "index": r.index,
                "status": "error" if r.error else ("created" if r.created else "updated"),
                "id": r.record_id,
                **({"error": r.error.problem()} if r.error else {}),
            }
            for r in results
        ]
        failed = sum(1 for r in results if r.error)
        return JSONResponse({"results": out, "succeeded": len(results) - failed, "failed": failed})

    @router.get("/{record_id}", summary=f"Get a {obj}")
    def get(request: Request, record_id: str) -> JSONResponse:
        """`?as_of=2026-03-01T00:00:00Z` returns the record as it stood then."""
        at = request.query_params.get("as_of")
        with transaction(request, write=False) as ctx:
            if at:
                try:
                    when = parse_datetime(at)
                except ValueError as exc:
                    raise ValidationFailed(
                        "as_of is not a date and time",
                        issues=[FieldIssue("as_of", "datetime", "use ISO 8601", at)],
                    ) from exc
                return JSONResponse(authz.redact(ctx, obj, as_of(ctx, obj, record_id, when)))
            record = queries.get(ctx, obj, record_id)
            response = _record_response(ctx, obj, record)
            if record.id != record_id.strip().upper():
                # The id was merged into this record: say so, and where the record lives.
                response.headers["Plumb-Resolved-From"] = record_id.strip().upper()
                response.headers["Content-Location"] = f"/api/v1/{plural}/{record.id}"
            return response

    @router.patch(
        "/{record_id}",
        summary=f"Update a {obj} (JSON Merge Patch, If-Match required)",
        openapi_extra=_body_schema(schema, "Fields to change; null clears a field."),
    )
    def patch(request: Request, record_id: str, body: Any = Depends(json_body)) -> JSONResponse:
        if not isinstance(body, dict):
            raise BadRequest("a merge patch must be a JSON object")
        expected = if_match(request, required=True)
        with transaction(request, write=True) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.update(ctx, obj, record, body, expected_version=expected)
            return _record_response(ctx, obj, record)

    @router.post("/{record_id}/archive", summary=f"Archive a {obj}")
    def archive(request: Request, record_id: str) -> JSONResponse:
        reason = request.query_params.get("reason")
        expected = if_match(request, required=False)
        with transaction(request, write=True) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.archive(ctx, obj, record, reason=reason, expected_version=expected)
            return _record_response(ctx, obj, record)

    @router.post("/{record_id}/restore", summary=f"Restore an archived {obj}")
    def restore(request: Request, record_id: str) -> JSONResponse:
        expected = if_match(request, required=False)
        with transaction(request, write=True) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.restore(ctx, obj, record, expected_version=expected)
            return _record_response(ctx, obj, record)

    @router.get("/{record_id}/history", summary=f"Change history of a {obj}")
    def history(request: Request, record_id: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            return JSONResponse({"data": record_history(ctx, obj, record_id)})

    @router.put(
        "/by-external-id/{source}/{external_id}",
        summary=f"Create or update a {obj} by its id in another system",
        openapi_extra=_body_schema(schema, "Field values to set."),
    )
    def upsert(
        request: Request, source: str, external_id: str, body: Any = Depends(json_body)
    ) -> JSONResponse:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object of field values")
        expected = if_match(request, required=False)
        with transaction(request, write=True) as ctx:
            record, created = external_ids.upsert(
                ctx, obj, source, external_id, body, expected_version=expected
            )
            return _record_response(ctx, obj, record, 201 if created else 200)

    if schema.personal:

        @router.post("/{record_id}/erase", summary=f"Erase the personal data of a {obj}")
        def erase(request: Request, record_id: str, body: Any = Depends(json_body)) -> JSONResponse:
            """Right to erasure: blanks the personal fields and their values in the history.
            The body names the reason: `{"reason": "request #123"}`."""
            reason = str(body.get("reason") or "").strip() if isinstance(body, dict) else ""
            if not reason:
                raise ValidationFailed(
                    "an erasure needs a reason",
                    issues=[FieldIssue("reason", "required", "say why (e.g. the request id)")],
                )
            with transaction(request, write=True) as ctx:
                record = queries.get(ctx, obj, record_id, for_update=True)
                return JSONResponse(erase_record(ctx, obj, record, reason=reason))

    if obj == "deal":
        _deal_links(router)
    if obj == "activity":
        _activity_links(router)
    return router


def _deal_links(router: APIRouter) -> None:
    @router.post("/{record_id}/contacts", summary="Add a contact to a deal, in a role")
    def add_contact(
        request: Request, record_id: str, body: Any = Depends(json_body)
    ) -> JSONResponse:
        if not isinstance(body, dict) or "contact_id" not in body:
            raise BadRequest('the body must be {"contact_id": "...", "role": "..."}')
        with transaction(request, write=True) as ctx:
            deal = queries.get(ctx, "deal", record_id, for_update=True)
            deal = ops.link(
                ctx, "deal", deal, body, expected_version=if_match(request, required=False)
            )
            return _record_response(ctx, "deal", deal)

    @router.delete("/{record_id}/contacts/{contact_id}", summary="Remove a contact from a deal")
    def remove_contact(request: Request, record_id: str, contact_id: str) -> JSONResponse:
        with transaction(request, write=True) as ctx:
            deal = queries.get(ctx, "deal", record_id, for_update=True)
            deal = ops.unlink(
                ctx, "deal", deal, contact_id, expected_version=if_match(request, required=False)
            )
            return _record_response(ctx, "deal", deal)


def _activity_links(router: APIRouter) -> None:
    @router.post("/{record_id}/links", summary="Relate an activity to a record")
    def add_link(request: Request, record_id: str, body: Any = Depends(json_body)) -> JSONResponse:
        if not isinstance(body, dict) or set(body) != {"type", "id"}:
            raise BadRequest('the body must be {"type": "contact", "id": "..."}')
        with transaction(request, write=True) as ctx:
            activity = queries.get(ctx, "activity", record_id, for_update=True)
            activity = ops.link(ctx, "activity", activity, body)
            return _record_response(ctx, "activity", activity)

    @router.delete("/{record_id}/links/{record_type}/{target_id}", summary="Remove a relation")
    def remove_link(request: Request, record_id: str, record_type: str, target_id: str) -> Response:
        with transaction(request, write=True) as ctx:
            activity = queries.get(ctx, "activity", record_id, for_update=True)
            activity = ops.unlink(ctx, "activity", activity, target_id, record_type)
            return _record_response(ctx, "activity", activity)
