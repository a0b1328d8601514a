"""Records as they stood at an earlier time, computed from the change log in SQL.

Every change-log entry holds ``{field: [old, new]}``; a record's value of a field at time T is
the new value of the latest entry at or before T that changed the field (its creation entry
holds every value it was created with). A record exists at T if its creation entry is at or
before T. One windowed query per field picks those entries for all records at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, String, Subquery, and_, cast, func, or_, select

from plumb.models import ChangeEntry
from plumb.models.base import MONEY_SCALE


def _latest(obj: str, name: str, at: datetime) -> Subquery:
    value = ChangeEntry.changes[(name, 1)].as_string()
    ranked = (
        select(
            ChangeEntry.record_id.label("record_id"),
            value.label("value"),
            func.row_number()
            .over(
                partition_by=ChangeEntry.record_id,
                order_by=(ChangeEntry.at.desc(), ChangeEntry.id.desc()),
            )
            .label("rn"),
        )
        .where(
            ChangeEntry.record_type == obj,
            ChangeEntry.at <= at,
            ChangeEntry.changes[name].as_string().isnot(None),
        )
        .subquery()
    )
    return select(ranked.c.record_id, ranked.c.value).where(ranked.c.rn == 1).subquery(name)


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
    archived = _latest(obj, "archived", at)
    columns: list[Any] = [created.c.record_id]
    joins: list[tuple[Subquery, Any]] = [(archived, archived.c.record_id == created.c.record_id)]
    for name in fields:
        sub = _latest(obj, name, at)
        col: Any = sub.c.value
        if name == "amount":
            col = cast(func.round(cast(col, Float) * MONEY_SCALE), BigInteger)
        columns.append(col.label(name))
        joins.append((sub, sub.c.record_id == created.c.record_id))
    stmt = select(*columns).select_from(created)
    for sub, on in joins:
        stmt = stmt.outerjoin(sub, on)
    live = or_(archived.c.value.is_(None), cast(archived.c.value, String).notin_(["true", "1"]))
    return stmt.where(and_(live)).subquery("as_of")
