"""Import runs: one row per import of one file into one object, with its checkpoint, counts
and the rows it refused.

A run is keyed by the file's content hash, the object and the mapping's hash, so running the
same command again after a crash finds the run and resumes after its last committed batch.
Each batch commits together with the run's checkpoint (``rows_done``) and its refused rows, so
the checkpoint never runs ahead of, nor behind, what landed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumb.models.base import Base, JSONType, UTCDateTime


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    object: Mapped[str] = mapped_column(String(20), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    """sha256 of (file hash, object, mapping hash): the same command finds the same run."""
    file_name: Mapped[str] = mapped_column(String(500), nullable=False)
    file_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    """The external-id source rows are keyed under (``hubspot``, ``file:<hash>``, ...)."""
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    """``running`` (also after a crash, until resumed), ``done`` or ``undone``."""
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    duplicate: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    invalid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    actor_label: Mapped[str] = mapped_column(String(300), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(300))
    undo_report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (Index(None, "key"),)


class ImportRowError(Base):
    """One problem with one row: the column and value, the rule it broke, and why."""

    __tablename__ = "import_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(String(26), nullable=False)
    row: Mapped[int] = mapped_column(Integer, nullable=False)
    """The row as a spreadsheet numbers it: the header is row 1."""
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    """``invalid`` or ``duplicate``."""
    column: Mapped[str | None] = mapped_column(String(300))
    value: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(100), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index(None, "import_id", "row"),)
