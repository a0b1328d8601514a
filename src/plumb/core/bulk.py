"""Inserting many rows in the caller's transaction, by the fastest path each database offers.

On PostgreSQL a batch goes through ``COPY ... FROM STDIN`` on the session's own connection (so
it commits or rolls back with everything else); elsewhere it is one multi-row ``INSERT``. Values
pass through each column type's bind processing first, so JSON, money and timestamps are stored
exactly as an ``INSERT`` would store them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

COPY_MIN_ROWS = 50
"""Below this a plain INSERT is as fast and simpler."""


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        session.execute(insert(table), list(rows))
        return
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    processed = [
        (i, proc)
        for i, name in enumerate(names)
        if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row.get(name) for name in names]
            for i, process in processed:
                if values[i] is not None:
                    values[i] = process(values[i])
            copy.write_row(values)
