"""The outbox: side effects (e-mail, webhooks) leave through rows written in the same transaction
as the change that caused them, and a worker delivers them at least once.

A message is written with the change or not at all; the worker claims due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), delivers, and records each attempt. After the last
attempt a message is ``dead`` until an operator replays it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumb.core.ids import new_id
from plumb.models.base import Base, JSONType, UTCDateTime


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    """Also the message's idempotency id toward receivers (the ``webhook-id`` header)."""
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    """``email`` or ``webhook``."""
    destination: Mapped[str] = mapped_column(String(2000), nullable=False)
    """An e-mail address, or the name of a webhook endpoint declared in the workspace."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """E-mail: ``{"subject", "text"}``; webhook: the JSON body sent."""
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """Set by producers that must enqueue once per occurrence (a rule firing on a record)."""
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    """``pending``, ``delivered`` or ``dead``."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the latest attempt started (its claim)."""
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    """The worker that made the latest attempt; its outcome is written only by that worker."""
    origin: Mapped[str | None] = mapped_column(String(300))
    """What produced it: a rule's name, a user's action."""
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(26))
    correlation_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index(None, "status", "next_attempt_at"),)
