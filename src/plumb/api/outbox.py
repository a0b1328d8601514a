"""``/api/v1/outbox``: messages waiting, delivered and dead, and replay (administrators)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from plumb.api.deps import transaction
from plumb.outbox.admin import get_message, list_messages, message_json, replay, replay_dead


def outbox_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])

    @router.get("", summary="Outbox messages, newest first (administrators)")
    def list_(
        request: Request,
        status: str | None = Query(None, description="pending, delivered or dead"),
        limit: int = Query(100, description="At most 1000."),
    ) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            data = [message_json(m) for m in list_messages(ctx, status=status, limit=limit)]
        return JSONResponse({"data": data})

    @router.get("/{message_id}", summary="One outbox message and its attempts (administrators)")
    def get(request: Request, message_id: str) -> JSONResponse:
        with transaction(request, write=False) as ctx:
            data = message_json(get_message(ctx, message_id))
        return JSONResponse(data)

    @router.post("/{message_id}/replay", summary="Send a dead message again (administrators)")
    def replay_one(request: Request, message_id: str) -> JSONResponse:
        with transaction(request, write=True) as ctx:
            data = message_json(replay(ctx, message_id))
        return JSONResponse(data)

    @router.post("/replay-dead", summary="Send every dead message again (administrators)")
    def replay_all(request: Request) -> JSONResponse:
        with transaction(request, write=True) as ctx:
            ids = replay_dead(ctx)
        return JSONResponse({"replayed": ids})

    return router
