"""What a report returns: columns, rows, and for each row the integrity of its figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from plumb.core.clock import ensure_utc, parse_datetime
from plumb.core.errors import BadRequest
from plumb.models.base import MONEY_SCALE


def parse_time(what: str, text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A date or datetime typed by a person (UTC). A bare date is the start of that day, or
    with ``end_of_day`` its last second ("as it stood on 1 March" includes 1 March)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = ensure_utc(datetime.fromisoformat(text))
            return day.replace(hour=23, minute=59, second=59) if end_of_day else day
        return parse_datetime(text)
    except ValueError as exc:
        raise BadRequest(f"{what} {text!r} is not a date or datetime") from exc


def money(units: int | None) -> Decimal:
    """Ten-thousandths (how amounts are stored and summed) as an amount."""
    return (Decimal(units or 0) / MONEY_SCALE).quantize(Decimal("0.01"))


@dataclass
class Report:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    as_of: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "columns": self.columns,
            "rows": [_jsonable(r) for r in self.rows],
            "notes": self.notes,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
