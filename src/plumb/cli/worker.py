"""``plumb worker`` and ``plumb outbox``: delivering side effects, and the dead letters."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from plumb.cli.support import console, fail, print_json, runtime, transaction
from plumb.outbox.admin import get_message, list_messages, message_json, replay, replay_dead
from plumb.worker.runner import Worker

outbox_app = typer.Typer(
    help="The outbox: e-mail and webhooks waiting, delivered, or dead.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(outbox_app, name="outbox")


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due, run due jobs, then exit.")
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=1000, help="Messages claimed at a time.")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Deliver outbox messages (at least once) and run periodic jobs until stopped (SIGTERM or
    Ctrl-C finish the message in hand). Several workers may run against PostgreSQL."""
    rt = runtime()
    logging.basicConfig(
        level=rt.settings.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    w = Worker(rt, batch=batch)
    if once:
        tally = w.drain()
        data = {
            "claimed": tally.claimed,
            "delivered": tally.delivered,
            "retried": tally.retried,
            "dead": tally.dead,
            "jobs": tally.jobs,
        }
        if as_json:
            print_json(data)
        else:
            console.print(
                f"delivered {tally.delivered}, to retry {tally.retried}, dead {tally.dead}"
                + (f"; jobs run: {', '.join(tally.jobs)}" if tally.jobs else "")
            )
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        w.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w.run()


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most 1000.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Messages, newest first, with attempts and last error (administrators)."""
    with transaction(write=False, as_json=as_json) as ctx:
        data = [message_json(m) for m in list_messages(ctx, status=status, limit=limit)]
    if as_json:
        print_json(data)
        return
    table = Table(
        "id", "channel", "destination", "status", "attempts", "last attempt", "last error"
    )
    for m in data:
        table.add_row(
            m["id"],
            m["channel"],
            escape(m["destination"]),
            m["status"],
            str(m["attempts"]),
            m["last_attempt_at"] or "",
            escape(m["last_error"] or ""),
        )
    console.print(table)


@outbox_app.command("show")
def outbox_show(message_id: str, as_json: JsonOpt = False) -> None:
    """One message: payload, attempts, last error, timestamps (administrators)."""
    with transaction(write=False, as_json=as_json) as ctx:
        data = message_json(get_message(ctx, message_id))
    print_json(data)


@outbox_app.command("replay")
def outbox_replay(
    message_id: Annotated[str | None, typer.Argument(help="The dead message's id.")] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Replay every dead message.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send dead messages again, with every attempt available (administrators)."""
    if (message_id is None) == (not all_dead):
        fail("name one message id, or --all-dead")
    with transaction(as_json=as_json) as ctx:
        if all_dead:
            ids = replay_dead(ctx)
        else:
            assert message_id is not None
            ids = [replay(ctx, message_id).id]
    if as_json:
        print_json({"replayed": ids})
    else:
        console.print(f"replayed {len(ids)} message(s)")
