"""List search: a case-insensitive substring match on the fields people search by.

It reads the indexes of migration ``0012_search``: on SQLite an FTS5 trigram table per record
table (``<table>_search``, kept by triggers), asked with a column filter naming only the fields
the actor may see; on PostgreSQL ``lower(column) LIKE '%...%'``, which the pg_trgm GIN indexes
answer. A needle shorter than three characters has no trigram: it is matched with ``LIKE``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, literal_column, or_, select, text, true

from plumb.models.base import RecordMixin

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
    return literal_column(f"{table}.rowid").in_(matched)
