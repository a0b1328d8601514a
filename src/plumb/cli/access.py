"""``plumb users`` and ``plumb tokens``."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.access.offboarding import deactivate
from plumb.access.tokens import create_token, list_tokens, revoke_token
from plumb.access.users import (
    create_user,
    find_user,
    list_users,
    set_password,
    set_role,
    user_json,
)
from plumb.cli.support import console, print_json, transaction
from plumb.core.clock import isoformat

users_app = typer.Typer(help="Users (record owners).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: shown once, stored hashed.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordOpt = Annotated[
    bool, typer.Option("--password", help="Ask for a password (typed twice, not echoed).")
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def _read_password(prompt: bool, stdin: bool) -> str | None:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return value
    return None


@users_app.command("add")
def users_add(
    email: str,
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[str, typer.Option(help="Role name from the workspace.")] = "rep",
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    team: Annotated[str | None, typer.Option(help="Team name (created if new).")] = None,
    manager: Annotated[str | None, typer.Option(help="Manager's e-mail or id.")] = None,
    password: PasswordOpt = False,
    password_stdin: PasswordStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user. Without a password they can use API tokens only (no default password)."""
    secret = _read_password(password, password_stdin)
    with transaction(as_json=as_json) as ctx:
        user = create_user(
            ctx,
            email=email,
            name=name,
            role="admin" if admin else role,
            team=team,
            manager=manager,
        )
        if secret is not None:
            user = set_password(ctx, user.id, secret)
        data = user_json(user)
    if as_json:
        print_json(data)
    else:
        console.print(f"added {data['email']} ({data['role']}) id {data['id']}")


@users_app.command("set-password")
def users_set_password(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    password_stdin: PasswordStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a user's password (Argon2id) and sign them out everywhere."""
    secret = _read_password(not password_stdin, password_stdin) or ""
    with transaction(as_json=as_json) as ctx:
        data = user_json(set_password(ctx, user, secret))
    if as_json:
        print_json(data)
    else:
        console.print(f"password set for {data['email']}; their sessions were signed out")


@users_app.command("set-role")
def users_set_role(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    role: Annotated[str, typer.Argument(help="A role from the workspace definition.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a user another role (recorded in history)."""
    with transaction(as_json=as_json) as ctx:
        data = user_json(set_role(ctx, user, role))
    if as_json:
        print_json(data)
    else:
        console.print(f"{data['email']} is now {data['role']}")


@users_app.command("deactivate")
def users_deactivate(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Hand their records over to this user.")
    ] = None,
    to_manager: Annotated[
        bool, typer.Option("--to-manager", help="Hand their records over to their manager.")
    ] = False,
    reroute: Annotated[
        bool,
        typer.Option(
            "--reroute", help="Give their routed records (owner) new owners through routing."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what refers to them; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deactivate a user: hand over every reference to them, revoke tokens and sessions."""
    with transaction(write=not dry_run, as_json=as_json) as ctx:
        report = deactivate(
            ctx, user, to=to, to_manager=to_manager, reroute=reroute, dry_run=dry_run
        )
        data = report.as_dict()
    if as_json:
        print_json(data)
        return
    verb = "would hand over" if dry_run else "handed over"
    console.print(f"{data['user']['email']}: {verb} to {data['handed_to'] or '(nobody named)'}")
    table = Table("reference", "records", box=None)
    for key, count in sorted(data["references"].items()):
        table.add_row(key, str(count))
    table.add_row("reports (manager)", str(len(data["reports_moved"])))
    table.add_row("api tokens", str(len(data["tokens_revoked"])))
    if data["kept"]:
        table.add_row("closed tasks (assignee kept)", str(len(data["kept"])))
    if data["rerouted"] or data["gaps"]:
        table.add_row("re-routed", str(len(data["rerouted"])))
        table.add_row("routing gaps (owner kept, gap open)", str(len(data["gaps"])))
    console.print(table)
    for path in data["definition_references"]:
        console.print(
            f"[yellow]plumb.yaml still names them at {path}[/]: edit the definition "
            "(until then, rules that need them record gaps)",
            highlight=False,
        )
    if data["deactivated"]:
        console.print(f"deactivated; {data['sessions_ended']} session(s) signed out")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every user, active or not."""
    with transaction(write=False, as_json=as_json) as ctx:
        users = [user_json(u) for u in list_users(ctx)]
    if as_json:
        print_json(users)
        return
    table = Table("id", "email", "name", "role", "active", box=None)
    for u in users:
        table.add_row(u["id"], u["email"], u["name"], u["role"], str(u["active"]))
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="read, write, admin or object:action; repeatable."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token for a user. The secret is printed once and never stored."""
    with transaction(as_json=as_json) as ctx:
        owner = find_user(ctx, user)
        issued = create_token(ctx, owner, name, scope or ["read", "write"])
        token_id, scopes = issued.token.id, list(issued.token.scopes)
    if as_json:
        print_json({"id": token_id, "scopes": scopes, "token": issued.secret})
        return
    console.print(f"token {token_id} for {user} ({', '.join(scopes)}); shown once:")
    print(issued.secret)


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Tokens with their scopes and last use (never the secret)."""
    with transaction(write=False, as_json=as_json) as ctx:
        owner = find_user(ctx, user) if user else None
        rows: list[dict[str, Any]] = [
            {
                "id": t.id,
                "user_id": t.user_id,
                "name": t.name,
                "scopes": list(t.scopes),
                "created_at": isoformat(t.created_at),
                "last_used_at": _iso(t.last_used_at),
                "revoked_at": _iso(t.revoked_at),
            }
            for t in list_tokens(ctx, owner)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "scopes", "last used", "revoked", box=None)
    for r in rows:
        table.add_row(
            r["id"],
            r["name"],
            ", ".join(r["scopes"]),
            r["last_used_at"] or "never",
            r["revoked_at"] or "",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token: it is refused from now on."""
    with transaction() as ctx:
        revoke_token(ctx, token_id)
    console.print(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
