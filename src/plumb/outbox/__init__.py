"""Enqueue side effects in the caller's transaction; ``plumb worker`` delivers them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from plumb.core.context import Ctx
from plumb.core.ids import new_id
from plumb.models.outbox import OutboxMessage

CHANNELS = ("email", "webhook")


def enqueue(
    ctx: Ctx,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    origin: str | None = None,
    record: tuple[str, str] | None = None,
) -> str | None:
    """Write a message to deliver after this transaction commits.

    With ``dedupe_key``, a message already enqueued under that key is not enqueued again (the
    existing id is returned), so a producer that runs twice for one occurrence sends once.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    if dedupe_key is not None:
        existing = ctx.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    now = ctx.now()
    message_id = new_id()
    ctx.session.execute(
        insert(OutboxMessage).values(
            id=message_id,
            channel=channel,
            destination=destination,
            payload=payload,
            dedupe_key=dedupe_key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            origin=origin,
            record_type=record[0] if record else None,
            record_id=record[1] if record else None,
            correlation_id=ctx.correlation_id,
        )
    )
    return message_id
