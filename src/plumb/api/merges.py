"""Merge endpoints: ``POST /api/v1/{objects}/merge`` (with ``?preview=true`` for a dry run),
``GET /api/v1/merges``, ``GET /api/v1/merges/{id}`` and ``POST /api/v1/merges/{id}/undo``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from plumb.access import authz
from plumb.api.deps import etag, if_match, json_body, transaction
from plumb.core.errors import BadRequest, FieldIssue, ValidationFailed
from plumb.identity import merge as merging
from plumb.records import queries
from plumb.workspace.standard import PLURALS, SINGULARS
from plumb.workspace.survivorship import MERGEABLE


def _parse_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _request(body: Any) -> tuple[str, list[str], dict[str, Any], dict[str, int], str | None]:
    if not isinstance(body, dict):
        raise BadRequest('the body must be {"survivor": ID, "merged": [IDS], "choices": {...}}')
    issues: list[FieldIssue] = []
    survivor = body.get("survivor")
    merged = body.get("merged")
    choices = body.get("choices") or {}
    versions = body.get("versions") or {}
    note = body.get("note")
    if not isinstance(survivor, str) or not survivor.strip():
        issues.append(FieldIssue("survivor", "required", "the id of the record that survives"))
    if not isinstance(merged, list) or not all(isinstance(m, str) for m in merged):
        issues.append(FieldIssue("merged", "type", "a list of the ids to merge into it"))
    if not isinstance(choices, dict):
        issues.append(FieldIssue("choices", "type", "{field: record id or value}"))
    if not isinstance(versions, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in versions.values()
    ):
        issues.append(FieldIssue("versions", "type", "{record id: version you read}"))
    if note is not None and not isinstance(note, str):
        issues.append(FieldIssue("note", "type", "text"))
    if issues:
        raise ValidationFailed("the merge request is not well formed", issues=issues)
    return survivor, merged, choices, versions, note  # type: ignore[return-value]


def _object_route(router: APIRouter, obj: str) -> None:
    plural = PLURALS[obj]

    @router.post(f"/api/v1/{plural}/merge", summary=f"Merge {plural} into a survivor")
    def merge_records(request: Request, body: Any = Depends(json_body)) -> JSONResponse:
        """`{"survivor": ID, "merged": [IDS], "choices": {field: ID or value}, "versions":
        {ID: version}}`; `If-Match` names the survivor's version. `?preview=true` returns the
        per-field resolution without writing."""
        survivor, merged, choices, versions, note = _request(body)
        expected = if_match(request, required=False)
        if expected is not None:
            versions = {**versions, survivor: expected}
        preview = _parse_bool(request.query_params.get("preview"))
        with transaction(request, write=not preview) as ctx:
            if preview:
                s, others = merging.load_records(ctx, obj, survivor, merged, versions, lock=False)
                plan = merging.plan_merge(ctx, obj, s, others, choices)
                return JSONResponse({"preview": True, **plan.as_json(ctx)})
            done = merging.merge(
                ctx, obj, survivor, merged, choices=choices, versions=versions, note=note
            )
            record = queries.get(ctx, obj, done.survivor_id)
            out = merging.merge_json(ctx, done)
            out["record"] = authz.redact(ctx, obj, queries.get_snapshot(ctx, obj, record))
            version = record.version
        return JSONResponse(
            out,
            status_code=201,
            headers={"Location": f"/api/v1/merges/{done.id}", "ETag": etag(version)},
        )


def merges_router() -> APIRouter:
    router = APIRouter(tags=["merges"])
    for obj in MERGEABLE:
        _object_route(router, obj)

    @router.get("/api/v1/merges", summary="Merges, newest first")
    def list_(request: Request) -> JSONResponse:
        """Filter with `object=contact` and `record=ID` (the survivor or a merged record)."""
        params = request.query_params
        name = params.get("object")
        obj = SINGULARS.get(name, name) if name else None
        try:
            limit = int(params.get("limit", "100"))
        except ValueError as exc:
            raise BadRequest("limit must be a whole number") from exc
        with transaction(request, write=False) as ctx:
            found = merging.list_merges(
                ctx, obj=obj, record_id=params.get("record"), limit=max(1, min(limit, 500))
            )
            data = [merging.merge_json(ctx, m) for m in found]
        return JSONResponse({"data": data})

    @router.get("/api/v1/merges/{merge_id}", summary="One merge, with what it changed")
    def get(request: Request, merge_id: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            return JSONResponse(
                merging.merge_json(ctx, merging.get_merge(ctx, merge_id), detail=True)
            )

    @router.post("/api/v1/merges/{merge_id}/undo", summary="Undo a merge")
    def undo(request: Request, merge_id: str) -> JSONResponse:
        """Restores the merged records, their links and external ids, and the survivor's
        fields the merge set (fields changed since stay as they are)."""
        with transaction(request, write=True) as ctx:
            report = merging.undo(ctx, merge_id)
        return JSONResponse(report)

    return router
