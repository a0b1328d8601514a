"""Inserting many rows in the caller's transaction, by the fastest path each database offers.

On PostgreSQL a batch goes through ``COPY ... FROM STDIN`` on the session's own connection; on
SQLite through the driver's ``executemany`` on that connection. Either way it commits or rolls
back with everything else in the transaction. Values pass through each column type's bind
processing first, so JSON, money and timestamps are stored exactly as an ``INSERT`` through
SQLAlchemy would store them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

FAST_PATH_MIN_ROWS = 50
"""Below this a plain INSERT is as fast and simpler."""


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if len(rows) < FAST_PATH_MIN_ROWS or dialect.name not in ("postgresql", "sqlite"):
        session.execute(insert(table), _with_defaults(table, rows))
        return
    # Every column any row names, in first-seen order (a dict: a list's ``in`` made this a
    # loop over the columns for each column of each row).
    found = dict.fromkeys(chain.from_iterable(rows))
    names = list(found) + [c.name for c in _defaulted(table) if c.name not in found]
    rows = _with_defaults(table, rows)
    values = _processed_rows(rows, names, _processors(connection, table, names))
    _write(connection, table, names, values)


def insert_tuples(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``insert_rows`` for rows given as sequences in the order of ``names``, which must name
    every column to fill (no Python-side default is applied): for many narrow rows, such as
    blocking keys, where a dict per row cost more than its insert."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if len(rows) < FAST_PATH_MIN_ROWS or dialect.name not in ("postgresql", "sqlite"):
        session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    processed = _processors(connection, table, names)
    if processed:
        rows = _process([list(row) for row in rows], processed)
    _write(connection, table, names, rows)


def _processors(
    connection: Connection, table: Table, names: Sequence[str]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, bind processor) of each column of ``names`` whose type converts values."""
    dialect = connection.dialect
    return [
        (i, proc)
        for i, name in enumerate(names)
        if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]


def _write(
    connection: Connection, table: Table, names: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    if connection.dialect.name == "postgresql":
        _copy(connection, f"COPY {quote(table.name)} ({columns}) FROM STDIN", values)
    else:
        marks = ", ".join("?" for _ in names)
        # names come from the table metadata, quoted by the dialect; values are parameters
        statement = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608
        connection.exec_driver_sql(statement, [tuple(v) for v in values])


def _defaulted(table: Table) -> list[Any]:
    """NOT NULL columns with a Python-side default (``default=list`` and the like)."""
    return [
        c
        for c in table.columns
        if c.default is not None and not c.nullable and c.default.is_scalar | c.default.is_callable
    ]


def _with_defaults(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill a defaulted NOT NULL column left out or None, as an ORM insert would."""
    columns = _defaulted(table)
    if not columns:
        return list(rows)
    out = []
    for row in rows:
        missing = [c for c in columns if row.get(c.name) is None]
        if missing:
            row = dict(row)
            for c in missing:
                default = c.default
                row[c.name] = default.arg(None) if default.is_callable else default.arg
        out.append(row)
    return out


def _processed_rows(
    rows: Sequence[dict[str, Any]],
    names: Sequence[str],
    processed: Sequence[tuple[int, Callable[[Any], Any]]],
) -> list[list[Any]]:
    # A row naming every column (most rows) is read in one call; others column by column.
    every = itemgetter(*names) if len(names) > 1 else None
    values = [
        list(every(row))
        if every is not None and len(row) == len(names)
        else [row.get(name) for name in names]
        for row in rows
    ]
    return _process(values, processed)


def _process(
    rows: list[list[Any]], processed: Sequence[tuple[int, Callable[[Any], Any]]]
) -> list[list[Any]]:
    """Each processed column's values through its bind processor, in place. A value shared by
    the rows (the batch's timestamp) is processed once: the last input and output of each
    processed column are kept."""
    last: dict[int, tuple[Any, Any]] = {}
    for values in rows:
        for i, process in processed:
            value = values[i]
            if value is None:
                continue
            seen = last.get(i)
            if seen is not None and seen[0] is value:
                values[i] = seen[1]
            else:
                values[i] = process(value)
                last[i] = (value, values[i])
    return rows


def _copy(connection: Connection, statement: str, values: Sequence[Sequence[Any]]) -> None:
    """COPY on the driver's connection; its errors come out as SQLAlchemy's, as from any other
    statement (a NOT NULL or unique violation is an ``IntegrityError`` on both databases)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi.Error, dialect=connection.dialect
        ) from exc
