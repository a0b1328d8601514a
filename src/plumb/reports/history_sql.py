"""Pieces the lifecycle reports share: the reporting period, the records a report counts, the
change-log entries of one field, and day spans and medians in SQL on either backend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, Subquery, case, cast, func, or_, select, true

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.models import ChangeEntry
from plumb.quality.engine import scope
from plumb.records.rows import model_for
from plumb.reports.asof import state_at

PERIOD_DAYS = 90


@dataclass(frozen=True)
class Period:
    """``[start, stop)``, and ``known``: the time the report knows up to (now, or ``as_of``);
    change-log entries after it are not read."""

    start: datetime
    stop: datetime
    known: datetime

    def text(self) -> str:
        return f"{moment(self.start)} to {moment(self.stop)}"


def moment(at: datetime) -> str:
    """A time as a report's note shows it: to the second, in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def period(
    ctx: Ctx,
    as_of: datetime | None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> Period:
    """The period a report covers: by default the ``PERIOD_DAYS`` days up to now (or
    ``as_of``); a period cannot end after what the report knows."""
    known = as_of or ctx.now()
    stop = min(stop, known) if stop is not None else known
    start = start if start is not None else stop - timedelta(days=PERIOD_DAYS)
    if start >= stop:
        raise BadRequest(
            f"the period from {moment(start)} to {moment(stop)} is empty "
            f"(it must start before it ends, and before {moment(known)})"
        )
    return Period(start, stop, known)


def live_ids(ctx: Ctx, obj: str, as_of: datetime | None) -> Select[Any]:
    """Ids of the records a report counts: visible to the actor now, and not archived now
    (or, with ``as_of``, existing and not archived then)."""
    model = model_for(obj)
    if as_of is None:
        return select(model.id).where(scope(ctx, obj))
    past = state_at(ctx, obj, as_of, [])
    return select(past.c.record_id).where(past.c.record_id.in_(visible_now(ctx, obj)))


def visible_now(ctx: Ctx, obj: str) -> Select[Any]:
    """Ids of the records of ``obj`` the actor may see today, archived or not: an as-of report
    decides visibility on the records as they are now, and liveness as they were then."""
    model = model_for(obj)
    seen = authz.visible(ctx, obj)
    return select(model.id).where(seen if seen is not None else true())


def field_entries(obj: str, name: str, known: datetime, ranks: dict[str, int]) -> Subquery:
    """Every change of field ``name`` of ``obj`` records up to ``known``: ``record_id``,
    ``at``, ``entry_id``, ``old``, ``value`` (the new value) and ``rank`` (the value's place
    in ``ranks``, NULL for values not in it)."""
    new = ChangeEntry.changes[(name, 1)].as_string()
    old = ChangeEntry.changes[(name, 0)].as_string()
    rank: Any = case(ranks, value=new, else_=None) if ranks else cast(None, Float)
    return (
        select(
            ChangeEntry.record_id.label("record_id"),
            ChangeEntry.at.label("at"),
            ChangeEntry.id.label("entry_id"),
            old.label("old"),
            new.label("value"),
            rank.label("rank"),
        )
        .where(
            ChangeEntry.record_type == obj,
            ChangeEntry.at <= known,
            ChangeEntry.changes[name].as_string().isnot(None),
        )
        .subquery(f"entries_{name}")
    )


def days_between(ctx: Ctx, start: Any, stop: Any) -> Any:
    """``stop - start`` in days (a float), in the dialect of the session."""
    if ctx.session.get_bind().dialect.name == "sqlite":
        return func.julianday(stop) - func.julianday(start)
    return func.extract("epoch", stop - start) / 86400.0


def medians(values: Subquery, key: str, number: str) -> Select[Any]:
    """``(key, median of number)`` per key, by ranking (no percentile function on SQLite):
    the middle row, or the mean of the two middle rows."""
    ranked = select(
        values.c[key].label("key"),
        values.c[number].label("number"),
        func.row_number().over(partition_by=values.c[key], order_by=values.c[number]).label("rn"),
        func.count().over(partition_by=values.c[key]).label("n"),
    ).subquery("ranked")
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    return select(ranked.c.key, func.avg(ranked.c.number)).where(middle).group_by(ranked.c.key)
