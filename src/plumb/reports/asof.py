"""Records as they stood at an earlier time, computed from the change log in SQL.

Every change-log entry holds ``{field: [old, new]}``; a record's value of a field at time T is
the new value of the latest entry at or before T that changed the field (its creation entry
holds every value it was created with). A record exists at T if its creation entry is at or
before T. Each value is a correlated subquery that walks the index on (record_type,
record_id, at) backwards from T for one record: a few index steps per record and field, on
either backend, instead of joining whole windowed scans of the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, String, Subquery, cast, func, or_, select
from sqlalchemy.orm import aliased

from plumb.models import ChangeEntry
from plumb.models.base import MONEY_SCALE


def _value_at(obj: str, name: str, at: datetime, record_id: Any) -> Any:
    entry = aliased(ChangeEntry)
    return (
        select(entry.changes[(name, 1)].as_string())
        .where(
            entry.record_type == obj,
            entry.record_id == record_id,
            entry.at <= at,
            entry.changes[name].as_string().isnot(None),
        )
        # In the order of the (record_type, record_id, at) index, so PostgreSQL walks it for
        # this record instead of scanning the log backwards by time.
        .order_by(
            entry.record_type.desc(), entry.record_id.desc(), entry.at.desc(), entry.id.desc()
        )
        .limit(1)
        .correlate_except(entry)
        .scalar_subquery()
    )


def state_at(obj: str, at: datetime, fields: list[str]) -> Subquery:
    """``record_id`` and one text column per field (``amount`` as ten-thousandths) for every
    record of ``obj`` that existed and was not archived at ``at``."""
    created = (
        select(ChangeEntry.record_id.label("record_id"))
        .where(
            ChangeEntry.record_type == obj,
            ChangeEntry.action == "create",
            ChangeEntry.at <= at,
        )
        .subquery("created")
    )
    columns: list[Any] = [created.c.record_id]
    for name in [*fields, "archived"]:
        col: Any = _value_at(obj, name, at, created.c.record_id)
        if name == "amount":
            col = cast(func.round(cast(col, Float) * MONEY_SCALE), BigInteger)
        columns.append(col.label(name))
    inner = select(*columns).subquery("states")
    live = or_(inner.c.archived.is_(None), cast(inner.c.archived, String).notin_(["true", "1"]))
    keep = [c for c in inner.c if c.name != "archived"]
    return select(*keep).where(live).subquery("as_of")
