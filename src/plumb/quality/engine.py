"""Running checks: findings with reasons, a summary by check, the bit mask of failed indicators.

Every query is scoped the same way: unarchived records the actor may see
(``plumb.access.authz.visible``), within an optional slice (a condition in the language of
rules). Counting is done in SQL; only the findings asked for (``limit``) come back as rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BooleanClauseList
from sqlalchemy.sql.selectable import Exists

from plumb.access import authz
from plumb.automation.conditions import ConditionError
from plumb.core.context import Ctx
from plumb.core.db import is_sqlite
from plumb.core.errors import BadRequest
from plumb.quality import sql
from plumb.quality.checks import INDICATORS, Check, Env, builtin_checks
from plumb.records.rows import model_for
from plumb.workspace.checks import CustomCheck

BITS = {indicator: 1 << i for i, indicator in enumerate(INDICATORS)}
"""The bit of each indicator in ``flag_mask``."""


@dataclass(frozen=True)
class Finding:
    check: str
    indicator: str
    object: str
    record_id: str
    reason: str

    def json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "indicator": self.indicator,
            "object": self.object,
            "record_id": self.record_id,
            "reason": self.reason,
        }


@dataclass
class CheckSummary:
    check: str
    object: str
    indicator: str
    description: str
    owner: str | None
    records: int

    def json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "object": self.object,
            "indicator": self.indicator,
            "description": self.description,
            "owner": self.owner,
            "records": self.records,
        }


@dataclass
class CheckRun:
    findings: list[Finding] = field(default_factory=list)
    summary: list[CheckSummary] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "summary": [s.json() for s in self.summary],
            "findings": [f.json() for f in self.findings],
        }


def all_checks(ctx: Ctx) -> list[Check]:
    return builtin_checks() + [_custom(c) for c in ctx.workspace.checks.custom]


def checks_for(ctx: Ctx, obj: str | None = None, names: list[str] | None = None) -> list[Check]:
    found = [c for c in all_checks(ctx) if obj is None or c.object == obj]
    if names:
        unknown = sorted(set(names) - {c.name for c in found})
        if unknown:
            raise BadRequest(f"unknown check {', '.join(unknown)}; see `plumb check --list`")
        found = [c for c in found if c.name in names]
    return found


def scope(ctx: Ctx, obj: str, slice_text: str | None = None) -> ColumnElement[bool]:
    """Unarchived records of ``obj`` the actor may see, within the slice."""
    model = model_for(obj)
    clauses: list[ColumnElement[bool]] = [model.archived.is_(False)]
    seen = authz.visible(ctx, obj)
    if seen is not None:
        clauses.append(seen)
    if slice_text:
        try:
            clauses.append(sql.matching(ctx, obj, slice_text, and_(*clauses)))
        except ConditionError as exc:
            raise BadRequest(f"slice {slice_text!r}: {exc}") from exc
    return and_(*clauses)


def check_rows(ctx: Ctx, check: Check, where: ColumnElement[bool]) -> Select[Any] | None:
    """One SELECT (record_id, reason) over every part of ``check`` (None: nothing to check)."""
    env = Env(ctx)
    parts = [p.where(where) for p in check.parts(env)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


def run_checks(
    ctx: Ctx,
    *,
    obj: str | None = None,
    slice_text: str | None = None,
    names: list[str] | None = None,
    indicator: str | None = None,
    limit: int | None = 100,
    record_ids: list[str] | None = None,
) -> CheckRun:
    """Findings (up to ``limit`` per check; None: all) and the number of records per check."""
    if slice_text and obj is None:
        raise BadRequest("a slice needs an object (--object)")
    authz.require(ctx, obj or "contact", "view")
    run = CheckRun()
    scopes: dict[str, ColumnElement[bool]] = {}
    if indicator is not None and indicator not in INDICATORS:
        raise BadRequest(f"indicator must be one of {', '.join(INDICATORS)}")
    for check in checks_for(ctx, obj, names):
        if indicator is not None and check.indicator != indicator:
            continue
        if not authz.may(ctx, check.object, "view"):
            continue
        if check.object not in scopes:
            where = scope(ctx, check.object, slice_text)
            if record_ids is not None:
                where = and_(where, model_for(check.object).id.in_(record_ids))
            scopes[check.object] = where
        stmt = check_rows(ctx, check, scopes[check.object])
        if stmt is None:
            continue
        sub = stmt.subquery()
        count = ctx.session.scalar(select(func.count(func.distinct(sub.c.record_id))))
        run.summary.append(
            CheckSummary(
                check.name,
                check.object,
                check.indicator,
                check.description,
                check.owner,
                count or 0,
            )
        )
        listing = select(sub.c.record_id, sub.c.reason).order_by(sub.c.record_id, sub.c.reason)
        if limit is not None:
            listing = listing.limit(limit)
        for record_id, reason in ctx.session.execute(listing):
            run.findings.append(
                Finding(check.name, check.indicator, check.object, record_id, reason)
            )
    return run


def flag_clauses(ctx: Ctx, obj: str) -> dict[str, ColumnElement[bool]]:
    """{indicator: condition on a row of ``obj``'s table that holds when the record fails a
    check of that indicator}, for evaluating every check in one scan of the table (the
    caller adds the scope).

    A part that reads only the record's row is its WHERE clause; one that joins is ``id IN
    (the part's records)``, a set computed once per query. A part that probes related rows
    (a correlated ``EXISTS``) is a set too on PostgreSQL, which otherwise runs the probe once
    per record (6x slower over 100k deals with a contact each) and costs the plan so (enough
    to set off seconds of JIT compilation); SQLite keeps it inline, where the probe is an
    index lookup and the set would scan the table a second time. Parts of one indicator
    sharing their first condition (the freshness checks' "open deal") test it once."""
    env = Env(ctx)
    model = model_for(obj)
    table = model.__table__  # type: ignore[attr-defined]
    probe_inline = is_sqlite(ctx.session)
    found: dict[str, list[ColumnElement[bool]]] = {}
    for check in checks_for(ctx, obj):
        for part in check.parts(env):
            # Its columns name only the table and it joins nothing (``get_final_froms`` says
            # the same but walks every subquery, milliseconds a part).
            row_only = part.columns_clause_froms == [table] and not (
                part._setup_joins or part._from_obj
            )
            if row_only and (probe_inline or not _probes(part.whereclause)):
                clause = part.whereclause if part.whereclause is not None else true()
            else:
                clause = model.id.in_(select(part.subquery().c.record_id))
            found.setdefault(check.indicator, []).append(clause)
    return {indicator: _any_of(clauses) for indicator, clauses in found.items()}


def flag_mask(ctx: Ctx, obj: str, *, guard: bool = True) -> ColumnElement[int]:
    """One integer per row of ``obj``'s table: a bit (``BITS``) per indicator of a check the
    record fails, 0 for a clean record, and with ``guard`` 0 for records outside the actor's
    scope (a caller whose query already keeps to the scope passes ``guard=False``). Grouping
    by it counts records per set of failed indicators in one scan (reports, slice scores)."""
    bits: Any = literal(0)
    for indicator, clause in flag_clauses(ctx, obj).items():
        bits = bits + case((clause, BITS[indicator]), else_=0)
    if guard:
        return case((scope(ctx, obj), bits), else_=0)
    return bits


def _probes(where: ColumnElement[bool] | None) -> bool:
    """Whether ``where`` looks at related rows through a correlated ``EXISTS``."""
    return where is not None and any(isinstance(e, Exists) for e in visitors.iterate(where))


def _any_of(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """``or_(*clauses)``; when every clause is ``first AND ...`` with the same ``first``,
    ``first AND (... OR ...)``, the same condition with ``first`` evaluated once a row."""
    split = [_conjuncts(c) for c in clauses]
    first = split[0][0]
    if len(clauses) < 2 or any(len(s) < 2 or not s[0].compare(first) for s in split):
        return or_(*clauses)
    return and_(first, or_(*(and_(*s[1:]) for s in split)))


def _conjuncts(clause: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return list(clause.clauses)
    return [clause]


# -- custom checks ---------------------------------------------------------------------------------


def _custom(declared: CustomCheck) -> Check:
    """A declared check: records where ``if`` holds and ``expect`` does not. Translated into
    SQL when the conditions allow; otherwise the records are read in batches and the compiled
    conditions evaluated on each (``plumb.quality.sql.matching``)."""
    obj = declared.object
    model = model_for(obj)
    reason = f"{declared.description} (expected: {declared.expect})"

    def parts(env: Env) -> list[Select[Any]]:
        ctx = env.ctx
        base = authz.visible(ctx, obj)
        where = []
        if declared.if_:
            where.append(sql.matching(ctx, obj, declared.if_, base))
        expected = sql.to_sql(ctx, obj, declared.expect)
        if expected is not None:
            where.append(not_(expected))
        else:
            where.append(sql.matching(ctx, obj, f"not ({declared.expect})", base))
        rows: Any = select(model.id.label("record_id"), literal(reason).label("reason"))
        return [rows.where(*where)]

    return Check(
        f"custom.{declared.name}", obj, "custom", declared.description, parts, declared.owner
    )
