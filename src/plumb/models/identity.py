"""Identity: the decisions people (and policies) make about which records are the same.

These tables are shared by duplicate detection (``plumb.identity``) and merge: a merge writes a
``duplicate`` decision for every pair it joins, "not a duplicate" writes a ``distinct`` one, and
detection reads both (never proposing a ``distinct`` pair again, and refining its weights from
them). A merge keeps what it needs to be undone exactly; the ids it merged away stay resolvable
through ``record_aliases``.

Record values themselves change only through the operations layer; these tables hold metadata
about those changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumb.core.ids import new_id
from plumb.models.base import Base, JSONType, UTCDateTime


class MatchDecision(Base):
    """A person's (or a policy's) verdict on one pair of records of one object.

    The pair is stored ordered (``record_a < record_b``) so each pair has one row; a later
    decision on the same pair replaces the earlier one (undoing a merge turns its ``duplicate``
    decisions into ``undone``, which neither proposes nor suppresses the pair).
    """

    __tablename__ = "match_decisions"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    object: Mapped[str] = mapped_column(String(40), nullable=False)
    record_a: Mapped[str] = mapped_column(String(26), nullable=False)
    record_b: Mapped[str] = mapped_column(String(26), nullable=False)
    decision: Mapped[str] = mapped_column(String(20), nullable=False)
    """``duplicate`` (merged or confirmed), ``distinct`` (not a duplicate) or ``undone``."""
    merge_id: Mapped[str | None] = mapped_column(String(26))
    score: Mapped[float | None] = mapped_column(Float)
    """The match score the pair had when the decision was made, if it was scored."""
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """Per-field agreement levels of the pair at decision time (what weight learning reads)."""
    actor_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(300), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("object", "record_a", "record_b"),
        Index(None, "object", "record_b"),
    )


class Merge(Base):
    """One merge of N records of one object into a survivor, with what undoing it needs."""

    __tablename__ = "merges"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    object: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    survivor_id: Mapped[str] = mapped_column(String(26), nullable=False, index=True)
    merged_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """Per field: the rule (most recent, most complete, source priority, chosen) and the record
    whose value survived."""
    before: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """Full snapshots of every record in the merge, and their links, as they were before it."""
    applied: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """What the merge did: survivor fields set (old -> new), children re-linked."""
    actor_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(300), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(300))


class RecordAlias(Base):
    """An id merged away: it still resolves, to the record that survived."""

    __tablename__ = "record_aliases"

    object: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(26), nullable=False, index=True)
    merge_id: Mapped[str] = mapped_column(String(26), nullable=False, index=True)
