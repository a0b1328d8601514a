"""The CRM record tables. Standard fields are columns named exactly as the field; custom
fields declared in the workspace live in ``custom``.

Only ``plumb.records.operations`` (and the other operations modules) write these tables; a
test walks the source tree to keep it so.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumb.models.base import Base, JSONType, Money, RecordMixin, UTCDateTime


class AddressMixin:
    street: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(100))


class Company(RecordMixin, AddressMixin, Base):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(300), nullable=False)
    name_key: Mapped[str | None] = mapped_column(String(300), index=True)
    """``name`` without legal suffix and punctuation, for matching; maintained on write."""
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    website: Mapped[str | None] = mapped_column(String(2000))
    phone: Mapped[str | None] = mapped_column(String(40))
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(40))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(100), index=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "name"),)


class Contact(RecordMixin, AddressMixin, Base):
    __tablename__ = "contacts"

    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    """The primary address (the first of ``emails``), kept for lookup and sorting."""
    emails: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    phones: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    job_title: Mapped[str | None] = mapped_column(String(300))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(100), index=True)
    lead_status: Mapped[str | None] = mapped_column(String(100))
    lead_source: Mapped[str | None] = mapped_column(String(100))
    company_id: Mapped[str | None] = mapped_column(
        String(26), ForeignKey("companies.id"), index=True
    )
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Deal(RecordMixin, Base):
    __tablename__ = "deals"

    name: Mapped[str] = mapped_column(String(300), nullable=False)
    pipeline: Mapped[str] = mapped_column(String(100), nullable=False)
    stage: Mapped[str] = mapped_column(String(100), nullable=False)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    close_date: Mapped[date | None] = mapped_column(Date, index=True)
    company_id: Mapped[str | None] = mapped_column(
        String(26), ForeignKey("companies.id"), index=True
    )
    stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    figures_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When amount or close date last changed (creation counts): kept by the operations layer
    in the same write, so the stale check needs no change-log scan. Not a field: the change
    log already says what changed and when."""

    __table_args__ = (Index(None, "pipeline", "stage"),)


class DealContact(Base):
    """A contact on a deal, in a role (decision maker, champion, ...)."""

    __tablename__ = "deal_contacts"

    deal_id: Mapped[str] = mapped_column(String(26), ForeignKey("deals.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(
        String(26), ForeignKey("contacts.id"), primary_key=True, index=True
    )
    role: Mapped[str | None] = mapped_column(String(100))


class Case(RecordMixin, Base):
    __tablename__ = "cases"

    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(100), index=True)
    priority: Mapped[str | None] = mapped_column(String(100))
    pipeline: Mapped[str] = mapped_column(String(100), nullable=False)
    stage: Mapped[str] = mapped_column(String(100), nullable=False)
    contact_id: Mapped[str | None] = mapped_column(
        String(26), ForeignKey("contacts.id"), index=True
    )
    company_id: Mapped[str | None] = mapped_column(
        String(26), ForeignKey("companies.id"), index=True
    )
    stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Activity(RecordMixin, Base):
    __tablename__ = "activities"

    type: Mapped[str] = mapped_column(String(20), nullable=False)
    direction: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    subject: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[str | None] = mapped_column(Text)
    participants: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)


class ActivityLink(Base):
    """An activity is about any number of records (a contact, their company, a deal)."""

    __tablename__ = "activity_links"

    activity_id: Mapped[str] = mapped_column(
        String(26), ForeignKey("activities.id"), primary_key=True
    )
    record_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(26), primary_key=True)

    __table_args__ = (Index(None, "record_type", "record_id"),)


class Task(RecordMixin, Base):
    __tablename__ = "tasks"

    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    assignee_id: Mapped[str | None] = mapped_column(String(26), ForeignKey("users.id"), index=True)
    record_type: Mapped[str | None] = mapped_column(String(20))
    record_id: Mapped[str | None] = mapped_column(String(26))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "record_type", "record_id"),)


class ExternalId(Base):
    """An id the record has in another system, so re-imports and syncs update, not duplicate."""

    __tablename__ = "external_ids"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    record_id: Mapped[str] = mapped_column(String(26), nullable=False, index=True)

    __table_args__ = (UniqueConstraint("record_type", "source", "external_id"),)


RECORD_MODELS: dict[str, type[RecordMixin]] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "activity": Activity,
    "task": Task,
    "case": Case,
}

# Owner visibility pages read an owner's records in id order: one (owner_id, id) index per record
# table serves them without a sort, and its owner_id prefix serves every other owner lookup.
for _model in RECORD_MODELS.values():
    Index(None, _model.owner_id, _model.id)

# The sort a list asks for most on each object, in the order list pages read it (NULLs last,
# ties by id): the first page and every keyset page after it come straight off the index. The
# second index of each pair serves the same sort for owner and team visibility.
SORT_INDEXES: tuple[tuple[type[Contact | Company | Deal], str], ...] = (
    (Contact, "last_name"),
    (Company, "name"),
    (Deal, "close_date"),
)
for _model, _name in SORT_INDEXES:
    _column = getattr(_model, _name)
    Index(f"ix_{_model.__tablename__}_{_name}_sort", _column.is_(None), _column, _model.id)
    Index(
        f"ix_{_model.__tablename__}_owner_{_name}_sort",
        _model.owner_id,
        _column.is_(None),
        _column,
        _model.id,
    )
