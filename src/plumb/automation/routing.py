"""Routing: choose a record's owner by territory (field values or a condition), round-robin
within a team, or the fallback owner.

Round-robin is fair under concurrency: each assignment moves a counter row with an upsert in
the routing transaction, so concurrent transactions queue on that row and take turns. A record
whose routing inputs are blank is not routed; the gap says which input is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from plumb.automation.conditions import blank
from plumb.automation.gaps import Missing
from plumb.automation.ruleset import RuleSet
from plumb.automation.subject import Subject, user_by_email
from plumb.core.context import Ctx
from plumb.models import RoutingCounter, Team, User
from plumb.records import operations as ops
from plumb.records import queries

Step = Callable[[Ctx], None]


def team_members(ctx: Ctx, team: str) -> list[str]:
    """Active members of a team, in a stable order (their ids)."""
    return list(
        ctx.session.scalars(
            select(User.id)
            .join(Team, Team.id == User.team_id)
            .where(Team.name == team, User.active.is_(True))
            .order_by(User.id)
        )
    )


def next_turn(ctx: Ctx, key: str) -> int:
    """Move the round-robin counter ``key`` and return its new value (1, 2, ...)."""
    dialect = ctx.session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = maker(RoutingCounter).values(key=key, counter=1)
    upsert = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"counter": RoutingCounter.counter + 1}
    )
    return int(ctx.session.execute(upsert.returning(RoutingCounter.counter)).scalar_one())


def plan_assign(ctx: Ctx, rs: RuleSet, key: str, subject: Subject) -> Missing | Step:
    routing = ctx.workspace.routing[key]
    for name in routing.inputs():
        if blank(subject.raw(ctx, tuple(name.split(".")))):
            return Missing(name, "missing", f"routing {key!r} needs {name}, which is blank")
    chosen_team: str | None = None
    chosen_owner: str | None = None
    territory_name = "(fallback)"
    for i, territory in enumerate(routing.territories):
        if not _matches(ctx, rs, key, i, subject):
            continue
        territory_name = territory.name
        chosen_team, chosen_owner = territory.team, territory.owner
        break
    owner_id: str | None = None
    if chosen_owner is not None:
        user = user_by_email(ctx, chosen_owner)
        owner_id = user["id"] if user and user["active"] else None
    members = team_members(ctx, chosen_team) if chosen_team else []
    if owner_id is None and not members:
        fallback = user_by_email(ctx, routing.fallback)
        if fallback is None or not fallback["active"]:
            return Missing(
                "owner_id",
                "no_owner",
                f"routing {key!r}: territory {territory_name} has no active owner and the "
                f"fallback {routing.fallback} is not an active user",
            )
        owner_id = fallback["id"]

    def assign(rctx: Ctx) -> None:
        target = owner_id
        if target is None:
            turn = next_turn(rctx, f"{key}:{territory_name}")
            target = members[(turn - 1) % len(members)]
        record = queries.get(rctx, subject.obj, subject.record_id)
        ops.update(rctx, subject.obj, record, {"owner_id": target})

    return assign


def _matches(ctx: Ctx, rs: RuleSet, key: str, index: int, subject: Subject) -> bool:
    territory = ctx.workspace.routing[key].territories[index]
    for name, allowed in territory.match.items():
        value = subject.raw(ctx, tuple(name.split(".")))
        if blank(value) or str(value).casefold() not in {a.casefold() for a in allowed}:
            return False
    condition = rs.territory_conditions.get((key, index))
    if condition is not None:
        return condition.holds(lambda p: subject.lookup(ctx, p), ctx.now())
    return True
