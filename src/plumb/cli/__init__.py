"""The ``plumb`` command: setup, serving, records, history and audit.

Every command that touches data goes through the same operations layer as the API, in one
transaction, as the actor given by ``--as`` (a user's e-mail) or the local operator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plumb.cli import access as access_cli
from plumb.cli import dedupe as dedupe_cli
from plumb.cli import history as history_cli
from plumb.cli import merge as merge_cli
from plumb.cli import quality as quality_cli
from plumb.cli import records as records_cli
from plumb.cli import rules as rules_cli
from plumb.cli import transfer as transfer_cli
from plumb.cli import worker as worker_cli
from plumb.cli.support import STATE, console, fail, print_json, runtime, step_progress, transaction
from plumb.core.errors import PlumbError

app = typer.Typer(
    name="plumb",
    help="Plumb: the CRM whose data can be trusted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
records_cli.register(app)
history_cli.register(app)
access_cli.register(app)
merge_cli.register(app)
quality_cli.register(app)
transfer_cli.register(app)
rules_cli.register(app)
worker_cli.register(app)
dedupe_cli.register(app)


@app.callback()
def root(
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Act as this user (e-mail or id). Defaults to PLUMB_CLI_USER, else the "
            "local operator.",
        ),
    ] = None,
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate",
            help="Write even when the record looks like an existing one (the override is "
            "recorded in history).",
        ),
    ] = False,
) -> None:
    STATE.as_user = as_user
    STATE.runtime = None
    STATE.allow_duplicate = allow_duplicate


@app.command()
def init(
    admin_email: Annotated[
        str | None, typer.Option("--admin-email", help="Create the first admin user.")
    ] = None,
    admin_name: Annotated[str, typer.Option("--admin-name")] = "Administrator",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing workspace file.")
    ] = False,
) -> None:
    """Write the default workspace definition, create the database, and optionally the first
    admin with an API token (shown once)."""
    from plumb.core.settings import get_settings
    from plumb.workspace.loader import default_text

    settings = get_settings()
    path: Path = settings.workspace
    if path.exists() and not force:
        console.print(f"workspace definition {path} exists; kept (use --force to overwrite)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_text(), "utf-8")
        console.print(f"wrote the default workspace definition to {path}")
    runtime()
    console.print(f"database ready: {settings.database_url}")
    if admin_email:
        from plumb.access.tokens import create_token
        from plumb.access.users import create_user

        with transaction() as ctx:
            user = create_user(ctx, email=admin_email, name=admin_name, role="admin")
            issued = create_token(ctx, user, "init", ["admin"])
        console.print(f"admin {user.email} created; API token (shown once):")
        print(issued.secret)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending schema migration."""
    from plumb.core.migrate import upgrade
    from plumb.core.settings import get_settings

    settings = get_settings()
    try:
        upgrade(settings.database_url, lanes=settings.chain_lanes)
    except PlumbError as exc:
        fail(exc)
    console.print("database schema is up to date")


@db_app.command("reindex-search")
def db_reindex_search() -> None:
    """Rebuild the list-search indexes from the records (SQLite). Needed only if the database
    file was changed behind Plumb's back, e.g. by a VACUUM, which may renumber rows: until then
    a search can miss records, never show a wrong one."""
    from plumb.records.search import rebuild_indexes

    with transaction() as ctx:
        tables = rebuild_indexes(ctx.session)
    if tables:
        console.print(f"search indexes rebuilt: {', '.join(tables)}")
    else:
        console.print("nothing to rebuild: PostgreSQL's search indexes are ordinary indexes")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Defaults to PLUMB_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Defaults to PLUMB_PORT.")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="On SQLite, deliver the outbox from a thread of this process (the default). "
            "On PostgreSQL run `plumb worker` processes instead.",
        ),
    ] = True,
) -> None:
    """Run the API server, and on SQLite the worker beside it. An empty database is created
    first."""
    import uvicorn

    from plumb.api.app import create_app
    from plumb.worker.runner import Worker, WorkerThread

    rt = runtime()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(rt),
            host=host or rt.settings.host,
            port=port or rt.settings.port,
            log_level=rt.settings.log_level,
        )
    )
    background = None
    if worker and rt.db.dialect == "sqlite":
        background = WorkerThread(Worker(rt))
        background.start()
    elif worker:
        console.print("PostgreSQL: the outbox is delivered by `plumb worker` processes")
    try:
        server.run()
    finally:
        if background is not None:
            background.stop()


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(help="How many contacts to generate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data.")] = 7,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database holds contacts.")
    ] = False,
) -> None:
    """Load a realistic demo workspace, dirt included: duplicates, blanks, stale deals, orphans."""
    from plumb.demo.generator import load_demo

    rt = runtime()
    with step_progress("loading the demo") as progress:
        try:
            summary = load_demo(
                rt, contacts=contacts, seed=seed, if_empty=if_empty, progress=progress
            )
        except PlumbError as exc:
            fail(exc)
    if summary is None:
        console.print("the database already holds data; demo not loaded")
        return
    for line in summary.lines():
        console.print(line)


@app.command()
def glossary(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every lifecycle stage, pipeline stage and picklist value with its definition."""
    from dataclasses import asdict

    from rich.table import Table

    from plumb.workspace.glossary import glossary as terms_of

    terms = terms_of(runtime().loaded.workspace)
    if as_json:
        print_json([asdict(t) for t in terms])
        return
    group = None
    table = Table("term", "label", "definition", "requires / synonyms", box=None)
    for term in terms:
        if term.group != group:
            group = term.group
            table.add_row(f"[bold]{group}[/]", "", "", "")
        extra = ", ".join(term.requires) or ", ".join(term.synonyms)
        if term.probability is not None:
            extra = f"p={term.probability:g}" + (f"; {extra}" if extra else "")
        table.add_row(f"  {term.key}", term.label, term.definition, extra)
    console.print(table)


def main() -> None:
    app()
