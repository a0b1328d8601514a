"""Schema migrations (Alembic, shipped inside the package) and first-run set-up."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from plumb.core.db import make_unpooled_engine
from plumb.core.errors import DatabaseNotReady


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("plumb") / "migrations"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def upgrade(url: str, *, lanes: int, revision: str = "head") -> None:
    """Bring the schema to ``revision`` and make sure the hash-chain lanes exist."""
    engine = make_unpooled_engine(url)
    try:
        cfg = _config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        seed(engine, lanes=lanes)
    finally:
        engine.dispose()


def seed(engine: Engine, *, lanes: int) -> None:
    from sqlalchemy.orm import Session

    from plumb.history.chain import ensure_lanes

    with Session(engine) as session, session.begin():
        ensure_lanes(session, 1 if engine.dialect.name == "sqlite" else lanes)


def ensure_ready(url: str, *, lanes: int) -> None:
    """Upgrade an empty database; refuse to run on one whose schema is behind."""
    engine = make_unpooled_engine(url)
    try:
        empty = is_empty(engine)
        current = None if empty else current_revision(engine)
    finally:
        engine.dispose()
    if empty:
        upgrade(url, lanes=lanes)
        return
    head = head_revision()
    if current != head:
        raise DatabaseNotReady(
            f"the database schema is at {current or 'an unknown revision'}, this Plumb needs "
            f"{head}: run `plumb db upgrade`"
        )


def autogenerate(url: str, *, message: str, rev_id: str) -> None:
    """Write a new migration from the difference between the models and ``url``'s schema
    (a developer tool: ``scripts/new-migration``). Review the file it writes before committing."""
    engine = make_unpooled_engine(url)
    try:
        cfg = _config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()
