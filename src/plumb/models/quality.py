"""Quality score history: one row per object and slice for each full run of the checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plumb.models.base import Base, JSONType, UTCDateTime


class QualitySnapshot(Base):
    __tablename__ = "quality_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    object: Mapped[str] = mapped_column(String(20), nullable=False)
    slice_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    """``all``, ``owner``, ``team``, ``stage`` or ``source``."""
    slice_value: Mapped[str | None] = mapped_column(String(300))
    records: Mapped[int] = mapped_column(Integer, nullable=False)
    failing: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    """Records failing each indicator, ``{indicator: count}``."""
    score: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (Index(None, "object", "slice_kind", "taken_at"),)
