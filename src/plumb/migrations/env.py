"""Alembic environment: the URL and connection come from Plumb, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from plumb.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave the search indexes of 0012_search (FTS5 tables, pg_trgm indexes) out of
    autogenerate: they are maintained by hand, not declared on the models."""
    if reflected and compare_to is None and name:
        return not ("_search" in name or name.endswith("_trgm"))
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `plumb db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run `plumb db upgrade`")
run_migrations_online()
