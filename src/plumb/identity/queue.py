"""The review queue of likely duplicates, and the "not a duplicate" decision.

The queue is read through filters, never cleaned up by the things that close its items: a pair
decided ``distinct`` and a record archived or merged away (a ``record_aliases`` row) simply stop
showing. Only pairs whose two records the actor may see are listed, and fields the actor may
not see are blanked in explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, exists, func, insert, select, tuple_

from plumb.access import authz
from plumb.core.bulk import insert_rows
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, NotFound
from plumb.core.ids import new_id, new_ids
from plumb.history import chain
from plumb.identity import weights as weights_mod
from plumb.identity.candidates import ordered
from plumb.identity.frame import build_frame, compare_pairs, level_names
from plumb.identity.keys import live_clause, load_values
from plumb.identity.plan import Plan
from plumb.models import MatchCandidate, MatchDecision
from plumb.records import queries
from plumb.records.rows import model_for

CHUNK = 2000


@dataclass
class Flag:
    """A pair to put in the queue."""

    record_a: str
    record_b: str
    score: float
    explanation: list[dict[str, Any]]
    cluster: str | None = None


def add(ctx: Ctx, obj: str, flags: list[Flag], *, origin: str, weights_id: str | None) -> int:
    """Put pairs in the queue (a pair already there is replaced by the new finding)."""
    if not flags:
        return 0
    pairs = {}
    for f in flags:
        a, b = ordered(f.record_a, f.record_b)
        pairs[(a, b)] = f
    keys = list(pairs)
    for i in range(0, len(keys), CHUNK):
        ctx.session.execute(
            delete(MatchCandidate).where(
                MatchCandidate.object == obj,
                tuple_(MatchCandidate.record_a, MatchCandidate.record_b).in_(keys[i : i + CHUNK]),
            )
        )
    now = ctx.now()
    rows = [
        {
            "id": None,
            "object": obj,
            "record_a": a,
            "record_b": b,
            "score": round(f.score, 4),
            "cluster": f.cluster,
            "explanation": f.explanation,
            "origin": origin,
            "weights_id": weights_id,
            "found_at": now,
        }
        for (a, b), f in pairs.items()
    ]
    for row, ident in zip(rows, new_ids(len(rows)), strict=True):
        row["id"] = ident
    insert_rows(ctx.session, MatchCandidate.__table__, rows)  # type: ignore[arg-type]
    return len(rows)


def _open_clause(ctx: Ctx, obj: str) -> Any:
    """Queue rows still worth a person's time and entirely visible to the actor."""
    model = model_for(obj)
    shown = select(model.id).where(live_clause(obj))
    visible = authz.visible(ctx, obj)
    if visible is not None:
        shown = shown.where(visible)
    decided = exists().where(
        MatchDecision.object == obj,
        MatchDecision.record_a == MatchCandidate.record_a,
        MatchDecision.record_b == MatchCandidate.record_b,
        MatchDecision.decision.in_(("distinct", "duplicate")),
    )
    return and_(
        MatchCandidate.object == obj,
        MatchCandidate.record_a.in_(shown),
        MatchCandidate.record_b.in_(shown),
        ~decided,
    )


def redact_explanation(
    ctx: Ctx, obj: str, explanation: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    hidden = authz.hidden_fields(ctx, obj)
    if not hidden:
        return explanation
    return [
        {**e, "a": None, "b": None, "hidden": True} if e["field"] in hidden else e
        for e in explanation
    ]


def pair_json(ctx: Ctx, row: MatchCandidate) -> dict[str, Any]:
    return {
        "record_a": row.record_a,
        "record_b": row.record_b,
        "score": row.score,
        "cluster": row.cluster,
        "origin": row.origin,
        "found_at": row.found_at.isoformat().replace("+00:00", "Z"),
        "weights_id": row.weights_id,
        "explanation": redact_explanation(ctx, row.object, row.explanation),
    }


def listing(
    ctx: Ctx, obj: str, *, limit: int = 100, min_score: float | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Open pairs, best first, and how many there are."""
    authz.require(ctx, obj, "view")
    clause = _open_clause(ctx, obj)
    if min_score is not None:
        clause = and_(clause, MatchCandidate.score >= min_score)
    total = ctx.session.scalar(select(func.count()).select_from(MatchCandidate).where(clause))
    rows = ctx.session.scalars(
        select(MatchCandidate)
        .where(clause)
        .order_by(MatchCandidate.score.desc(), MatchCandidate.record_a, MatchCandidate.record_b)
        .offset(offset)
        .limit(limit)
    ).all()
    return [pair_json(ctx, r) for r in rows], int(total or 0)


def clusters(ctx: Ctx, obj: str) -> dict[str, list[str]]:
    """Open clusters: cluster id -> record ids."""
    out: dict[str, set[str]] = {}
    rows = ctx.session.execute(
        select(MatchCandidate.cluster, MatchCandidate.record_a, MatchCandidate.record_b).where(
            _open_clause(ctx, obj), MatchCandidate.cluster.is_not(None)
        )
    )
    for cluster, a, b in rows:
        out.setdefault(str(cluster), set()).update((a, b))
    return {k: sorted(v) for k, v in sorted(out.items())}


def compare_two(
    ctx: Ctx, plan: Plan, id_a: str, id_b: str
) -> tuple[float, dict[str, str], list[dict[str, Any]], str | None]:
    """Score, levels and explanation of one pair of live records."""
    records = load_values(ctx, plan, [id_a, id_b])
    if len(records) != 2:
        raise NotFound("both records must exist and be live to compare them", object=plan.object)
    frame = build_frame(plan, records)
    levels = compare_pairs(plan, frame, np.array([0]), frame, np.array([1]))
    weights = weights_mod.current(ctx.session, plan)
    score = float(weights.scores(levels)[0])
    return (
        score,
        level_names(plan, levels[0]),
        weights.explain(plan, levels[0], frame, 0, frame, 1),
        weights.id,
    )


def mark_distinct(
    ctx: Ctx, plan: Plan, id_a: str, id_b: str, *, note: str | None = None
) -> MatchDecision:
    """Record that two records are not the same: the pair is never proposed again, its
    comparison levels teach the next estimation what different records look like, and both
    records' change logs carry the decision (action ``not_duplicate``)."""
    obj = plan.object
    authz.require(ctx, obj, "merge")
    id_a, id_b = id_a.strip().upper(), id_b.strip().upper()
    if id_a == id_b:
        raise BadRequest("a record cannot be distinct from itself", object=obj, record_id=id_a)
    for rid in (id_a, id_b):
        queries.get(ctx, obj, rid)  # absent or invisible: 404 naming it
    a, b = ordered(id_a, id_b)
    score, levels, _, _ = compare_two(ctx, plan, a, b)
    ctx.session.execute(
        delete(MatchDecision).where(
            MatchDecision.object == obj, MatchDecision.record_a == a, MatchDecision.record_b == b
        )
    )
    actor = ctx.actor
    ident = new_id()
    ctx.session.execute(
        insert(MatchDecision).values(
            id=ident,
            object=obj,
            record_a=a,
            record_b=b,
            decision="distinct",
            score=round(score, 4),
            comparison=levels,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_label=actor.label,
            decided_at=ctx.now(),
            note=(note or "").strip()[:2000] or None,
        )
    )
    # both records' histories say who decided they are different people, and on what evidence
    context = {"decision_id": ident, "score": round(score, 2), "levels": levels}
    chain.append(
        ctx,
        [
            chain.Entry(obj, mine, "not_duplicate", {}, None, {**context, "of": other}, note)
            for mine, other in ((a, b), (b, a))
        ],
    )
    return ctx.session.get_one(MatchDecision, ident)
