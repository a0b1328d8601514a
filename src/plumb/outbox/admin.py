"""What an operator does with the outbox: list messages (dead letters first of all), read one,
and replay dead ones. Administrators only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from plumb.access import authz
from plumb.core.clock import isoformat
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, Conflict, NotFound
from plumb.models.outbox import OutboxMessage

STATUSES = ("pending", "delivered", "dead")


def _require_admin(ctx: Ctx) -> None:
    authz.require_admin(ctx, "read or replay the outbox")


def message_json(message: OutboxMessage) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return isoformat(value) if value is not None else None

    return {
        "id": message.id,
        "channel": message.channel,
        "destination": message.destination,
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at": when(message.created_at),
        "last_attempt_at": when(message.last_attempt_at),
        "worker": message.claimed_by,
        "next_attempt_at": when(message.next_attempt_at) if message.status == "pending" else None,
        "delivered_at": when(message.delivered_at),
        "origin": message.origin,
        "record_type": message.record_type,
        "record_id": message.record_id,
        "correlation_id": message.correlation_id,
        "payload": message.payload,
    }


def list_messages(ctx: Ctx, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Newest first, optionally of one status."""
    _require_admin(ctx)
    if status is not None and status not in STATUSES:
        raise BadRequest(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000")
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(ctx.session.scalars(query.limit(limit)))


def get_message(ctx: Ctx, message_id: str) -> OutboxMessage:
    _require_admin(ctx)
    message = ctx.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message {message_id}", object="outbox", record_id=message_id)
    return message


def replay(ctx: Ctx, message_id: str) -> OutboxMessage:
    """Put a dead message back in line: due now, with every attempt available again. Its last
    error stays until the next attempt."""
    message = get_message(ctx, message_id)
    if message.status != "dead":
        raise Conflict(
            f"outbox message {message_id} is {message.status}; only dead messages are replayed",
            object="outbox",
            record_id=message_id,
        )
    _replay(ctx, [message_id])
    ctx.session.refresh(message)
    return message


def replay_dead(ctx: Ctx) -> list[str]:
    """Replay every dead message; their ids."""
    _require_admin(ctx)
    ids = list(ctx.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "dead")))
    _replay(ctx, ids)
    return ids


def _replay(ctx: Ctx, ids: list[str]) -> None:
    for start in range(0, len(ids), 500):
        ctx.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[start : start + 500]), OutboxMessage.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=ctx.now(), claimed_by=None)
        )
