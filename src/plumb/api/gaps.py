"""``GET /api/v1/gaps``: open rule gaps on the records the caller may see."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from plumb.api.deps import transaction
from plumb.automation.gaps import gap_json, grouped, list_gaps
from plumb.core.errors import BadRequest


def gaps_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/gaps", tags=["automation"])

    @router.get("", summary="Open gaps: rules that matched but lacked the data they need")
    def gaps(request: Request) -> JSONResponse:
        """`rule=` limits to one rule; `by=rule` or `by=field` returns counts instead of gaps;
        `include_closed=true` lists closed gaps too."""
        params = request.query_params
        by = params.get("by")
        if by not in (None, "rule", "field"):
            raise BadRequest("by must be rule or field")
        include_closed = (params.get("include_closed") or "").lower() in ("1", "true", "yes")
        with transaction(request, write=False) as ctx:
            found = list_gaps(ctx, rule=params.get("rule"), include_closed=include_closed)
            body = grouped(found, by) if by else [gap_json(g) for g in found]
        return JSONResponse({"data": body})

    return router
