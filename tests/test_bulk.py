"""Bulk inserts on SQLite and PostgreSQL: rows given as dicts or as tuples are stored exactly as
an ORM insert stores them (timestamps in UTC, JSON, NULLs), on the fast path (COPY, the
driver's executemany) and below its threshold (a plain INSERT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from plumb.core.bulk import FAST_PATH_MIN_ROWS, insert_rows, insert_tuples
from plumb.models import QualitySnapshot
from plumb.runtime import Runtime

NAMES = ("taken_at", "object", "slice_kind", "slice_value", "records", "failing", "score")
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _rows(n: int, kind: str) -> list[tuple[Any, ...]]:
    return [
        (
            START + timedelta(minutes=i),
            "contact",
            kind,
            None if i % 3 == 0 else f"owner\t{i}\\n\n",  # COPY's own separators, escaped
            i,
            {"stale": i, "note": 'ünïcode, "quoted"', "nested": [1, None, True]},
            i / 4,
        )
        for i in range(n)
    ]


def _stored(rt: Runtime, kind: str) -> list[tuple[Any, ...]]:
    with rt.db.read_session() as s:
        found = s.scalars(
            select(QualitySnapshot)
            .where(QualitySnapshot.slice_kind == kind)
            .order_by(QualitySnapshot.records)
        )
        return [tuple(getattr(q, n) for n in NAMES) for q in found]


@pytest.mark.parametrize("n", [3, FAST_PATH_MIN_ROWS + 10])
def test_rows_as_dicts_and_as_tuples_are_stored_as_given(rt: Runtime, n: int) -> None:
    table = cast(Table, QualitySnapshot.__table__)
    tuples, dicts = _rows(n, "tuples"), _rows(n, "dicts")
    with rt.db.write_session() as s:
        insert_tuples(s, table, NAMES, tuples)
        insert_rows(s, table, [dict(zip(NAMES, row, strict=True)) for row in dicts])
    assert _stored(rt, "tuples") == tuples
    assert _stored(rt, "dicts") == dicts


def test_a_failed_bulk_insert_leaves_nothing_behind(rt: Runtime) -> None:
    table = cast(Table, QualitySnapshot.__table__)
    rows = _rows(FAST_PATH_MIN_ROWS + 10, "broken")
    rows[-1] = (None, *rows[-1][1:])  # taken_at is NOT NULL
    with pytest.raises(IntegrityError, match=r"(?i)null"), rt.db.write_session() as s:
        insert_tuples(s, table, NAMES, rows)
    assert _stored(rt, "broken") == []
