"""Engines and sessions.

The caller owns the transaction: an interface opens ``write_session()`` (or ``read_session()``),
runs operations, and the block commits once at the end or rolls back on error. Operations
never commit.

SQLite gets WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for write sessions, so a
writer takes the write lock up front instead of failing half-way when it upgrades a read lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Engine,
    String,
    Text,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def normalize_url(url: str) -> str:
    """Accept the URLs people type: postgres:// and postgresql:// use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"


def json_dumps(value: Any) -> str:
    """How JSON columns are written (orjson: the change log writes a lot of JSON)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def one_of(session: Session, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN values`` with the values as one parameter: an array on PostgreSQL
    (``= ANY(...)``), a JSON document unpacked by ``json_each`` on SQLite.

    A plain ``IN`` list of a thousand values is a thousand bound parameters, each rendered by
    SQLAlchemy and converted by the driver: a tenth of the importing process's time, when
    every batch looked up its thousand external ids that way. On PostgreSQL the array is a
    parameter the planner sees (it plans each execution with its value), so the lookup is the
    same index search as the list was."""
    if is_sqlite(session):
        document = bindparam(None, json_dumps(list(values)), type_=Text)
        each = func.json_each(document).table_valued("value")
        return column.in_(select(each.c.value))
    return column == any_(bindparam(None, list(values), type_=ARRAY(String)))


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # One file, many threads: a small pool of real connections, each set up below.
            pool_size=8,
            max_overflow=8,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_unpooled_engine(url: str) -> Engine:
    """For short-lived tools (migrations, test set-up) that must not keep connections open."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": 30},
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url, poolclass=NullPool, json_serializer=json_dumps, json_deserializer=orjson.loads
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN/SAVEPOINT behave as written.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("plumb_sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


_WRITE_LOCK_KEY = "plumb.sqlite_write_lock"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _release_write_lock(session: Session) -> None:
    lock = session.info.pop(_WRITE_LOCK_KEY, None)
    if lock is not None:
        lock.release()


class Database:
    """An engine and its two session factories.

    SQLite allows one writer at a time. Rather than let concurrent write transactions in this
    process collide on the file lock (where SQLite's busy handler sleeps for up to 100 ms
    between retries), they queue on a lock in the process, taken before ``BEGIN IMMEDIATE`` and
    released when the transaction ends. Other processes still meet the busy timeout.
    """

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = normalize_url(url)
        self.engine = engine or make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool = True) -> Session:
        session = self._sessions()
        if write and self.dialect == "sqlite":
            self._write_lock.acquire()
            session.info[_WRITE_LOCK_KEY] = self._write_lock
            try:
                session.connection(execution_options={"plumb_sqlite_begin": "IMMEDIATE"})
            except BaseException:
                session.close()
                raise
        return session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction that commits when the block ends, and rolls back when it raises."""
        session = self.session(write=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        session = self.session(write=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
