"""Counting rule outcomes per rule and day, and reading them back for ``plumb rules health``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from plumb.core.context import Ctx
from plumb.models import RuleOutcome

OUTCOMES = ("fired", "not_matched", "gap", "stopped")


@dataclass
class Tally:
    """Outcomes of one write (or one run), written as one upsert at the end."""

    counts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def add(self, rule: str, outcome: str, obj: str, record_id: str) -> None:
        entry = self.counts.setdefault((rule, outcome), [0, obj, record_id])
        entry[0] += 1
        entry[1], entry[2] = obj, record_id

    def flush(self, ctx: Ctx) -> None:
        if not self.counts:
            return
        now = ctx.now()
        rows = [
            {
                "rule": rule,
                "day": now.date(),
                "outcome": outcome,
                "count": n,
                "last_record_type": obj,
                "last_record_id": ident,
                "last_at": now,
            }
            for (rule, outcome), (n, obj, ident) in sorted(self.counts.items())
        ]
        self.counts = {}
        upsert(ctx, rows)


def upsert(ctx: Ctx, rows: list[dict[str, Any]]) -> None:
    dialect = ctx.session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = maker(RuleOutcome).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["rule", "day", "outcome"],
        set_={
            "count": RuleOutcome.count + stmt.excluded.count,
            "last_record_type": stmt.excluded.last_record_type,
            "last_record_id": stmt.excluded.last_record_id,
            "last_at": stmt.excluded.last_at,
        },
    )
    ctx.session.execute(stmt)


def summary(ctx: Ctx, days: int) -> dict[str, dict[str, int]]:
    """Outcome counts per rule over the last ``days`` days (today included)."""
    since = ctx.now().date() - timedelta(days=days - 1)
    out: dict[str, dict[str, int]] = {}
    rows = ctx.session.execute(
        select(RuleOutcome.rule, RuleOutcome.outcome, func.sum(RuleOutcome.count))
        .where(RuleOutcome.day >= since)
        .group_by(RuleOutcome.rule, RuleOutcome.outcome)
    )
    for rule, outcome, n in rows:
        out.setdefault(rule, dict.fromkeys(OUTCOMES, 0))[outcome] = int(n)
    return out


@dataclass
class Health:
    rule: str
    status: str
    """``ok``, ``stopped_matching`` (fired before, evaluated since, fired never), ``silent``
    (fired before, not evaluated since), ``gaps`` (only gaps lately) or ``new``."""
    recent: dict[str, int]
    before: dict[str, int]


def health(
    ctx: Ctx, names: list[str], *, recent_days: int = 7, baseline_days: int = 28
) -> list[Health]:
    """Compare each rule's recent window of outcomes with the window before it."""
    today = ctx.now().date()
    recent_from = today - timedelta(days=recent_days - 1)
    base_from = recent_from - timedelta(days=baseline_days)
    recent: dict[str, dict[str, int]] = {}
    before: dict[str, dict[str, int]] = {}
    rows = ctx.session.execute(
        select(RuleOutcome.rule, RuleOutcome.day, RuleOutcome.outcome, RuleOutcome.count).where(
            RuleOutcome.day >= base_from
        )
    )
    for rule, day, outcome, n in rows:
        bucket = recent if day >= recent_from else before
        counts = bucket.setdefault(rule, dict.fromkeys(OUTCOMES, 0))
        counts[outcome] += n
    out: list[Health] = []
    for name in names:
        r = recent.get(name, dict.fromkeys(OUTCOMES, 0))
        b = before.get(name, dict.fromkeys(OUTCOMES, 0))
        if b["fired"] > 0 and r["fired"] == 0:
            status = "stopped_matching" if sum(r.values()) else "silent"
        elif r["gap"] > 0 and r["fired"] == 0:
            status = "gaps"
        elif not b["fired"] and not sum(r.values()):
            status = "new"
        else:
            status = "ok"
        out.append(Health(name, status, r, b))
    return out
