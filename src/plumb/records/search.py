"""List search: a case-insensitive substring match on the fields people search by.

It reads the indexes of migration ``0012_search``: on SQLite an FTS5 trigram table per record
table (``<table>_search``, kept by triggers), asked with a column filter naming only the fields
the actor may see; on PostgreSQL ``lower(column) LIKE '%...%'``, which the pg_trgm GIN indexes
answer. A needle shorter than three characters has no trigram: it is matched with ``LIKE``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from plumb.models.base import RecordMixin
from plumb.records.rows import model_for

SEARCHED = {
    "contact": ("first_name", "last_name", "email", "job_title"),
    "company": ("name", "domain"),
    "deal": ("name",),
    "case": ("subject",),
    "task": ("title",),
    "activity": ("subject",),
}
"""The fields a list search looks in (``0012_search`` indexes exactly these)."""
TRIGRAM = 3


def _like(model: type[RecordMixin], names: list[str], needle: str) -> ColumnElement[bool]:
    return or_(
        false(),
        *[func.lower(getattr(model, n)).contains(needle, autoescape=True) for n in names],
    )


def _fts_query(names: list[str], needle: str) -> str:
    """An FTS5 query: the needle as one phrase (quotes doubled), in these columns only."""
    phrase = '"' + needle.replace('"', '""') + '"'
    return "{" + " ".join(names) + "} : " + phrase


def search_clause(
    obj: str,
    model: type[RecordMixin],
    needle_text: str,
    hidden: frozenset[str] = frozenset(),
    *,
    dialect: str = "sqlite",
) -> ColumnElement[bool]:
    """Records with the text in one of the searched fields the actor may see."""
    needle = needle_text.strip().lower()
    if not needle:
        return true()
    names = [n for n in SEARCHED[obj] if n not in hidden]
    if not names:
        return false()
    if dialect != "sqlite" or len(needle) < TRIGRAM:
        return _like(model, names, needle)
    table = str(model.__table__.name)  # type: ignore[attr-defined]
    fts: ColumnElement[Any] = literal_column(f"{table}_search")
    matched: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(text(f"{table}_search"))
        .where(fts.op("MATCH")(_fts_query(names, needle)))
    )
    # The index finds the rows; the columns themselves confirm them. An index out of step with
    # its table (rowids renumbered by a VACUUM, say) can then only miss rows, never return a
    # wrong one; `plumb db reindex-search` puts it back in step.
    return and_(literal_column(f"{table}.rowid").in_(matched), _like(model, names, needle))


def sqlite_index_statements(table: str, columns: tuple[str, ...]) -> list[str]:
    """Statements that (re)build ``table``'s FTS5 trigram index from the table and the
    triggers that keep it (the live copy of what migration ``0012_search`` creates)."""
    # Names from SEARCHED, never from input: nothing here is user text.
    fts = f"{table}_search"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    return [
        f"DROP TABLE IF EXISTS {fts}",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, tokenize='trigram')",
        f"INSERT INTO {fts}(rowid, {cols}) SELECT rowid, {cols} FROM {table}",  # noqa: S608
        f"DROP TRIGGER IF EXISTS {fts}_insert",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new}); END",
        f"DROP TRIGGER IF EXISTS {fts}_update",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table} BEGIN "  # noqa: S608
        f"DELETE FROM {fts} WHERE rowid = old.rowid; "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new}); END",
        f"DROP TRIGGER IF EXISTS {fts}_delete",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "  # noqa: S608
        f"DELETE FROM {fts} WHERE rowid = old.rowid; END",
    ]


def rebuild_indexes(session: Session) -> list[str]:
    """Rebuild every search index from its table (SQLite; PostgreSQL's pg_trgm indexes are
    ordinary indexes that never drift, so there it does nothing). The tables rebuilt."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    done = []
    for obj, columns in SEARCHED.items():
        table = str(model_for(obj).__table__.name)  # type: ignore[attr-defined]
        for statement in sqlite_index_statements(table, columns):
            session.execute(text(statement))
        done.append(table)
    return done
