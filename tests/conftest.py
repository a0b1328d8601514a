"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (override with PLUMB_TEST_POSTGRES_URL). Each pytest
worker gets its own database, migrated once; tests start from empty tables. Without a server the
PostgreSQL half is skipped with the reason, except under CI=true, where it is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.api.app import create_app
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.clock import Clock, FixedClock
from plumb.core.context import Ctx
from plumb.core.db import Database
from plumb.core.migrate import seed, upgrade
from plumb.core.settings import Settings
from plumb.models import Base
from plumb.runtime import Runtime
from plumb.workspace.loader import load_workspace

PG_ADMIN_URL = os.environ.get(
    "PLUMB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {str(exc).strip()}"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}", lanes=1)
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL half of the suite must run)")
        pytest.skip(reason)
    name = f"plumb_test_{_worker()}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url, lanes=4)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    seed(db.engine, lanes=4)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "plumb.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    db = Database(url)
    try:
        _truncate(db)
    finally:
        db.dispose()
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, workspace=tmp_path / "plumb.yaml", chain_lanes=4)


@pytest.fixture
def rt(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        loaded=load_workspace(settings.workspace),
        clock=clock,
    )
    runtime.start()
    yield runtime
    runtime.close()


@dataclass
class Admin:
    user_id: str
    email: str
    token: str


@pytest.fixture
def admin(rt: Runtime) -> Admin:
    with rt.transaction(operator()) as ctx:
        user = create_user(ctx, email="ada@example.com", name="Ada Admin", role="admin")
        issued = create_token(ctx, user, "tests", ["admin"])
    return Admin(user.id, user.email, issued.secret)


def operator(label: str = "tests") -> Actor:
    return Actor(kind=ActorKind.SYSTEM, source=Source.CLI, label=label)


def as_user(ctx: Ctx, user_id: str, source: Source = Source.API) -> Actor:
    return Actor(kind=ActorKind.USER, source=source, label=user_id, id=user_id, user_id=user_id)


@pytest.fixture
def api(rt: Runtime, admin: Admin) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin.token}"
        yield client


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status`` (shows the body when not)."""
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


class Cli:
    """Runs ``plumb`` in-process against the test database, as a user would type it."""

    def __init__(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch, clock: Clock | None = None
    ) -> None:
        self.clock = clock
        monkeypatch.setenv("PLUMB_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("PLUMB_WORKSPACE", str(settings.workspace))
        monkeypatch.setenv("PLUMB_CHAIN_LANES", str(settings.chain_lanes))
        monkeypatch.delenv("PLUMB_CLI_USER", raising=False)
        monkeypatch.setenv("COLUMNS", "200")

    def __call__(self, *args: str, input: str | None = None, expect: int | None = 0) -> CliResult:
        from typer.testing import CliRunner

        from plumb.cli import app
        from plumb.cli.support import STATE
        from plumb.core.settings import get_settings

        get_settings.cache_clear()
        STATE.clock = self.clock
        try:
            result = CliRunner().invoke(app, list(args), input=input)
        finally:
            if STATE.runtime is not None:
                STATE.runtime.close()
                STATE.runtime = None
            STATE.clock = None
            get_settings.cache_clear()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        out = CliResult(result.exit_code, result.stdout, result.stderr)
        if expect is not None:
            assert out.exit_code == expect, f"exit {out.exit_code}\n{out.stdout}\n{out.stderr}"
        return out


@pytest.fixture
def cli(settings: Settings, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on the test database, running on the test's clock (as the API does)."""
    return Cli(settings, monkeypatch, rt.clock)
