"""What every CLI command shares: the runtime, the actor, errors, and output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from plumb.core.actor import Actor, ActorKind, Source, system_actor
from plumb.core.clock import Clock
from plumb.core.context import Ctx
from plumb.core.errors import PlumbError
from plumb.identity.entry import ALLOW_DUPLICATE
from plumb.runtime import Runtime

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    as_user: str | None = None
    runtime: Runtime | None = None
    allow_duplicate: bool = False
    clock: Clock | None = None
    """The clock commands run on (None: the wall clock); tests set a FixedClock."""


STATE = CliState()


def runtime() -> Runtime:
    """The runtime for this command, started once (database ready, definition recorded)."""
    if STATE.runtime is None:
        try:
            rt = Runtime.from_settings(clock=STATE.clock)
            rt.start()
        except PlumbError as exc:
            fail(exc)
        STATE.runtime = rt
    return STATE.runtime


def _actor(ctx: Ctx) -> Actor:
    from plumb.access.users import find_user

    who = STATE.as_user or ctx_settings_user()
    if not who:
        return system_actor(Source.CLI, "cli (local operator)")
    user = find_user(ctx, who)
    if not user.active:
        raise PlumbError(f"user {user.email} is deactivated and cannot act")
    return Actor(
        kind=ActorKind.USER,
        source=Source.CLI,
        label=user.email,
        id=user.id,
        user_id=user.id,
        role=user.role,
    )


def ctx_settings_user() -> str | None:
    return runtime().settings.cli_user


@contextmanager
def transaction(*, write: bool = True, as_json: bool = False, commit: bool = True) -> Iterator[Ctx]:
    """One transaction for the command, under the CLI's actor; errors exit non-zero (as
    problem JSON on stdout when the command was given ``--json``). ``commit=False`` rolls a
    write transaction back (dry runs)."""
    rt = runtime()
    try:
        session = rt.db.session(write=write)
        try:
            ctx = rt.ctx(session, system_actor(Source.CLI, "cli"))
            ctx.actor = _actor(ctx)
            if STATE.allow_duplicate:
                ctx.flags = ctx.flags | {ALLOW_DUPLICATE}
            yield ctx
            if write and commit:
                session.commit()
        finally:
            session.rollback()
            session.close()
    except PlumbError as exc:
        fail(exc, as_json=as_json)


def fail(error: PlumbError | str, *, as_json: bool = False, code: int = 1) -> NoReturn:
    """Report ``error`` (problem JSON under --json, else a line on stderr) and exit non-zero."""
    if isinstance(error, PlumbError) and as_json:
        print(json.dumps(error.problem(), indent=2))
    else:
        # The message carries "[rule]" tags and typed values: not Rich markup.
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, markup=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_record(snap: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan")
    table.add_column()
    for key, value in snap.items():
        if value is None or value == [] or value == {}:
            continue
        table.add_row(
            key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
    console.print(table)


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``name=value`` (text as typed) and ``name:=json`` (a JSON value: lists, numbers, null)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if ":=" in pair and pair.index(":=") < pair.index("=") + 1:
            name, _, raw = pair.partition(":=")
            try:
                out[name.strip()] = json.loads(raw)
            except ValueError as exc:
                raise typer.BadParameter(f"{pair!r}: {raw!r} is not JSON") from exc
        elif "=" in pair:
            name, _, raw = pair.partition("=")
            out[name.strip()] = raw
        else:
            raise typer.BadParameter(f"{pair!r}: expected name=value or name:=json")
    return out


StepProgress = Callable[[str, int, int], None]
"""Told (step description, done, total) as long work advances."""


@contextmanager
def step_progress(label: str, *, quiet: bool = False) -> Iterator[StepProgress | None]:
    """A progress bar for long work that reports in steps (None when ``quiet``, e.g. --json)."""
    if quiet:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield progress
