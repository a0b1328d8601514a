"""The FastAPI application: records, history, audit, users and the workspace definition."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

import plumb
from plumb.access import authz
from plumb.access.users import find_user, list_users, user_json
from plumb.api import duplicates, problems
from plumb.api.auth import auth_router
from plumb.api.deps import transaction
from plumb.api.gaps import gaps_router
from plumb.api.merges import merges_router
from plumb.api.outbox import outbox_router
from plumb.api.quality import quality_router
from plumb.api.records import object_router
from plumb.history.queries import admin_history
from plumb.history.verify import verify
from plumb.runtime import Runtime
from plumb.web.app import install_web
from plumb.workspace.glossary import glossary
from plumb.workspace.standard import OBJECTS


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Plumb",
        version=plumb.__version__,
        description="A CRM whose data can be trusted. Authenticate with `Authorization: Bearer "
        "<token>`; create tokens with `plumb tokens create`.",
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    problems.install(app)
    for obj in OBJECTS:
        app.include_router(object_router(obj, runtime.loaded.workspace))
    app.include_router(auth_router())
    app.include_router(merges_router())
    app.include_router(gaps_router())
    app.include_router(duplicates.router())
    app.include_router(_meta_router())
    app.include_router(outbox_router())
    app.include_router(quality_router())
    install_web(app)
    return app


def _meta_router() -> APIRouter:
    router = APIRouter(tags=["workspace"])

    @router.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/api/v1/me", summary="Who the token acts as")
    def me(request: Request) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            actor = ctx.actor
            return JSONResponse(
                {
                    "user_id": actor.user_id,
                    "label": actor.label,
                    "role": actor.role,
                    "scopes": sorted(actor.scopes),
                }
            )

    @router.get("/api/v1/glossary", summary="Every stage and picklist value with its definition")
    def glossary_(request: Request) -> JSONResponse:
        rt = request.app.state.runtime
        with transaction(request, write=False):
            return JSONResponse({"data": [asdict(t) for t in glossary(rt.loaded.workspace)]})

    @router.get("/api/v1/workspace", summary="The workspace definition in use")
    def workspace(request: Request) -> JSONResponse:
        rt = request.app.state.runtime
        with transaction(request, write=False):
            return JSONResponse(
                {
                    "source": rt.loaded.source,
                    "digest": rt.loaded.digest,
                    "definition": rt.loaded.content,
                }
            )

    @router.get("/api/v1/users", summary="Users")
    def users(request: Request) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            return JSONResponse({"data": [user_json(u) for u in list_users(ctx)]})

    @router.get("/api/v1/users/{user_ref}/history", summary="Changes to a user (administrators)")
    def user_history(request: Request, user_ref: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            user = find_user(ctx, user_ref)
            return JSONResponse({"data": admin_history(ctx, "user", user.id)})

    @router.get("/api/v1/audit/verify", summary="Verify the change log's hash chain")
    def audit_verify(request: Request) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            authz.require_admin(ctx, "verify the change log")
            report = verify(ctx.session)
        body: dict[str, Any] = {
            "ok": report.ok,
            "entries": report.entries,
            "lanes": {str(k): {"seq": v[0], "hash": v[1]} for k, v in report.lanes.items()},
            "problems": [str(p) for p in report.problems],
            "first_problem": str(report.first) if report.first else None,
        }
        return JSONResponse(body)

    return router
