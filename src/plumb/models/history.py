"""The change log: append-only, hash-chained in lanes.

Each entry belongs to one lane and has a gap-free sequence number within it. Its hash covers
the previous entry's hash in that lane, its metadata and a digest of its field changes, so an
entry altered, inserted or removed in the database breaks the chain at that point.

Lanes let concurrent writers on PostgreSQL append without waiting on one global lock: a
transaction claims a free lane's head row (``FOR UPDATE SKIP LOCKED``) and keeps it until it
commits. See ``plumb.history.chain``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumb.models.base import Base, JSONType, UTCDateTime


class ChangeEntry(Base):
    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    lane: Mapped[int] = mapped_column(Integer, nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    record_type: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[str] = mapped_column(String(64), nullable=False)
    record_version: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    actor_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(300), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """{field: [old, new]} with JSON values (decimals and dates as strings)."""
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """What the change does not say by field: a bypass used, a merge's ids, an erasure's scope."""
    nonce: Mapped[str | None] = mapped_column(String(32))
    """Random salt of the payload digest; removed when personal data in the entry is erased."""
    payload_digest: Mapped[str | None] = mapped_column(String(64))
    """Kept only after erasure: the digest the chain was built on, which the values no longer give."""
    redacted: Mapped[list[Any] | None] = mapped_column(JSONType)
    """Fields whose values were erased, when this entry was redacted."""
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("lane", "seq"),
        Index(None, "record_type", "record_id", "at"),
    )


class ChainLane(Base):
    """The head of one hash-chain lane: the last sequence number and hash appended to it."""

    __tablename__ = "chain_lanes"

    lane: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class WorkspaceRevision(Base):
    """Each distinct workspace definition the database has run with (its changes are in history)."""

    __tablename__ = "workspace_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
