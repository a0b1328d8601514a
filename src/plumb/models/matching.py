"""Duplicate detection's own tables: blocking keys, estimated weights and the review queue.

``match_keys`` holds each live record's blocking keys (kept in the write's transaction by an
after-write hook), so candidates are found by an index lookup or a self-join, never by
comparing all pairs. ``match_weights`` keeps every estimation of the Fellegi-Sunter weights with
when and from what it was made, so a score can be reproduced. ``match_candidates`` is the review
queue; it is read through filters that hide pairs decided ``distinct`` and records archived or
merged away, so decisions and merges close items without touching it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumb.core.ids import new_id
from plumb.models.base import Base, JSONType, UTCDateTime


class MatchKey(Base):
    """One blocking key of one live record."""

    __tablename__ = "match_keys"

    object: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(26), primary_key=True)

    # record_id first: an index led by object would look as cheap as the primary key to a
    # planner without statistics for "object = ? AND key = ?", and be scanned in full.
    __table_args__ = (Index(None, "record_id", "object"),)


class MatchWeights(Base):
    """One estimation of an object's weights: per field and agreement level, m, u and weight."""

    __tablename__ = "match_weights"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    object: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    estimated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    definition: Mapped[str] = mapped_column(String(64), nullable=False)
    """Digest of the object's matching definition the weights belong to."""
    pairs: Mapped[int] = mapped_column(Integer, nullable=False)
    """Candidate pairs the estimation read."""
    random_pairs: Mapped[int] = mapped_column(Integer, nullable=False)
    labelled: Mapped[int] = mapped_column(Integer, nullable=False)
    """People's decisions (duplicate / distinct) that took part."""
    iterations: Mapped[int] = mapped_column(Integer, nullable=False)
    converged: Mapped[bool] = mapped_column(Boolean, nullable=False)
    match_share: Mapped[float] = mapped_column(Float, nullable=False)
    """The estimated share of candidate pairs that are duplicates."""
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """{field: {level: {"m": .., "u": .., "weight": ..}}}"""
    actor_label: Mapped[str] = mapped_column(String(300), nullable=False)


class MatchCandidate(Base):
    """A pair in the review queue: its score, cluster and per-field explanation."""

    __tablename__ = "match_candidates"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    object: Mapped[str] = mapped_column(String(40), nullable=False)
    record_a: Mapped[str] = mapped_column(String(26), nullable=False)
    record_b: Mapped[str] = mapped_column(String(26), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    cluster: Mapped[str | None] = mapped_column(String(26))
    """The smallest record id of the connected component the pair belongs to."""
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    origin: Mapped[str] = mapped_column(String(20), nullable=False)
    """``scan`` (batch dedupe) or ``entry`` (flagged when written)."""
    weights_id: Mapped[str | None] = mapped_column(String(26))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("object", "record_a", "record_b"),
        Index(None, "object", "score"),
        Index(None, "object", "record_b"),
    )
