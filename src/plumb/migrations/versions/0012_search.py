"""search: substring indexes for list search

SQLite: an FTS5 table per record table (``<table>_search``, trigram tokenizer, so a search
matches inside words as ``LIKE '%...%'`` does), keyed by the record's rowid and kept by
triggers in the writing transaction. PostgreSQL: pg_trgm GIN indexes on ``lower(column)``,
which ``LIKE '%...%'`` uses as it is.

A later migration that recreates one of these tables (Alembic batch mode on SQLite) drops its
triggers and may renumber its rowids: it must run this revision's ``sqlite_statements`` for
that table again (they rebuild the index from the table).

Revision ID: 0012_search
Revises: 0011_owner_index
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0012_search"
down_revision = "0011_owner_index"
branch_labels = None
depends_on = None

SEARCHED = {
    "contacts": ("first_name", "last_name", "email", "job_title"),
    "companies": ("name", "domain"),
    "deals": ("name",),
    "cases": ("subject",),
    "tasks": ("title",),
    "activities": ("subject",),
}
"""Frozen here as of this revision (``plumb.records.search.SEARCHED`` is the live copy)."""


def sqlite_statements(table: str, columns: tuple[str, ...]) -> list[str]:
    # Names from SEARCHED above, never from input: nothing here is user text.
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


def create_sqlite_search(table: str) -> None:
    for statement in sqlite_statements(table, SEARCHED[table]):
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in SEARCHED:
            create_sqlite_search(table)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, columns in SEARCHED.items():
            for column in columns:
                op.execute(
                    f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_trgm ON {table} "
                    f"USING gin (lower({column}) gin_trgm_ops)"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, columns in SEARCHED.items():
        if dialect == "sqlite":
            for kind in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{kind}")
            op.execute(f"DROP TABLE IF EXISTS {table}_search")
        elif dialect == "postgresql":
            for column in columns:
                op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
