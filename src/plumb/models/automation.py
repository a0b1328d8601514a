"""What rules leave behind: outcome counts, open gaps, firing keys and routing counters.

Outcomes are counted, not logged: one row per rule, day and outcome (``fired``, ``not_matched``,
``gap``, ``stopped``) whose count grows, with the last record it happened on. A thousand rules on
a busy workspace add rows per day, not per write.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumb.core.ids import new_id
from plumb.models.base import Base, UTCDateTime


class RuleOutcome(Base):
    __tablename__ = "rule_outcomes"

    rule: Mapped[str] = mapped_column(String(120), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_record_type: Mapped[str | None] = mapped_column(String(40))
    last_record_id: Mapped[str | None] = mapped_column(String(26))
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RuleGap(Base):
    """A rule whose trigger matched but which could not run for want of data."""

    __tablename__ = "rule_gaps"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    record_type: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[str] = mapped_column(String(26), nullable=False)
    field: Mapped[str | None] = mapped_column(String(200))
    """The missing or unusable field (``region``, ``owner_id``, ``company.size``)."""
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    assignee: Mapped[str | None] = mapped_column(String(320), index=True)
    """Who should fix it: the record's active owner, else the workspace's integrity owner."""
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    """``rule|type|id`` while open, NULL once closed: one open gap per rule and record."""
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_because: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index(None, "record_type", "record_id", "closed_at"),)


class RuleFiring(Base):
    """One occurrence of a time-based rule on one record: unique, so it fires once."""

    __tablename__ = "rule_firings"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    rule: Mapped[str] = mapped_column(String(120), nullable=False)
    record_type: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[str] = mapped_column(String(26), nullable=False)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RoutingCounter(Base):
    """Round-robin position per routing territory, moved in the routing transaction."""

    __tablename__ = "routing_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    counter: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
