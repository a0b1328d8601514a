"""Duplicates: the review queue, likely duplicates of one record, "not a duplicate", weights.

Everything is filtered by what the actor may see: a pair is listed only when both its records
are visible, and fields the actor may not read are blanked in explanations.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from plumb.access import authz
from plumb.api.deps import json_body, transaction
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, NotFound
from plumb.identity import candidates, queue, scan
from plumb.identity import weights as weights_mod
from plumb.identity.plan import Plan, plan_for


def _plan(ctx: Ctx, obj: str) -> Plan:
    plan = plan_for(ctx.workspace, obj)
    if plan is None:
        raise NotFound(f"the workspace declares no matching for {obj!r} (matching: in plumb.yaml)")
    return plan


def _number(request: Request, name: str, default: float | None) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a number") from exc


def router() -> APIRouter:
    r = APIRouter(prefix="/api/v1/duplicates", tags=["duplicates"])

    @r.get("/{obj}", summary="The review queue of likely duplicate pairs, best first")
    def listing(request: Request, obj: str) -> JSONResponse:
        """`?limit=100&offset=0&min_score=12`. Pairs decided "not a duplicate", and records
        archived or merged away, are not listed."""
        limit = int(_number(request, "limit", 100) or 100)
        offset = int(_number(request, "offset", 0) or 0)
        with transaction(request, write=False) as ctx:
            _plan(ctx, obj)
            data, total = queue.listing(
                ctx,
                obj,
                limit=min(max(limit, 1), 1000),
                offset=max(offset, 0),
                min_score=_number(request, "min_score", None),
            )
        return JSONResponse({"data": data, "total": total})

    @r.get("/{obj}/clusters", summary="Open clusters of likely duplicates")
    def clusters(request: Request, obj: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            _plan(ctx, obj)
            authz.require(ctx, obj, "view")
            found = queue.clusters(ctx, obj)
        return JSONResponse({"data": [{"cluster": k, "records": v} for k, v in found.items()]})

    @r.get("/{obj}/candidates/{record_id}", summary="Likely duplicates of one record, explained")
    def for_record(request: Request, obj: str, record_id: str) -> JSONResponse:
        """`?threshold=` lowers or raises the bar (the object's threshold by default)."""
        with transaction(request, write=False) as ctx:
            plan = _plan(ctx, obj)
            found = candidates.for_record(
                ctx, plan, record_id, threshold=_number(request, "threshold", None)
            )
            data = [
                {**c.as_json(), "explanation": queue.redact_explanation(ctx, obj, c.explanation)}
                for c in found
            ]
        return JSONResponse({"record_id": record_id.upper(), "data": data})

    @r.post("/{obj}/distinct", summary="Not a duplicate: never propose this pair again")
    def distinct(request: Request, obj: str, body: Any = Depends(json_body)) -> JSONResponse:
        """Body: `{"record_a": "...", "record_b": "...", "note": "..."}`."""
        if not isinstance(body, dict) or not body.get("record_a") or not body.get("record_b"):
            raise BadRequest('the body must be {"record_a": "...", "record_b": "..."}')
        with transaction(request, write=True) as ctx:
            plan = _plan(ctx, obj)
            decision = queue.mark_distinct(
                ctx, plan, str(body["record_a"]), str(body["record_b"]), note=body.get("note")
            )
            out = {
                "id": decision.id,
                "object": obj,
                "record_a": decision.record_a,
                "record_b": decision.record_b,
                "decision": decision.decision,
                "score": decision.score,
                "comparison": decision.comparison,
                "decided_by": decision.actor_label,
            }
        return JSONResponse(out, status_code=201)

    @r.get("/{obj}/weights", summary="The match weights in use")
    def weights(request: Request, obj: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            plan = _plan(ctx, obj)
            authz.require(ctx, obj, "view")
            current = weights_mod.current(ctx.session, plan)
            return JSONResponse(
                {
                    "object": obj,
                    "weights_id": current.id,
                    "source": "estimated" if current.id else "defaults",
                    "threshold": plan.config.threshold,
                    "weights": current.as_json(plan),
                }
            )

    @r.post("/{obj}/estimate", summary="Re-estimate the weights from the data and decisions")
    def estimate(request: Request, obj: str) -> JSONResponse:
        with transaction(request, write=True) as ctx:
            plan = _plan(ctx, obj)
            authz.require(ctx, obj, "administer")
            _, row = scan.estimate_only(ctx, plan)
            out = scan.estimation_json(row)
        return JSONResponse(out, status_code=201)

    return r
