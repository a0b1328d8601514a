"""Likely duplicates of given records: blocking-key lookup, comparison, score, explanation.

Used at entry (the values about to be written) and to answer "what might this record be a
duplicate of?". Pairs decided ``distinct`` are never proposed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import JSON, Text, bindparam, cast, func, or_, select, true
from sqlalchemy.orm import aliased

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.identity import weights as weights_mod
from plumb.identity.frame import build_frame, compare_pairs, level_names
from plumb.identity.keys import load_values
from plumb.identity.plan import Plan
from plumb.identity.weights import Weights
from plumb.models import MatchDecision, MatchKey
from plumb.records import queries
from plumb.records.rows import model_for

LOOKUP_CHUNK = 500
MAX_CANDIDATES = 10
"""At most this many likely duplicates per record, best first (a refusal, the queue at entry)."""


@dataclass
class Candidate:
    record_id: str
    score: float
    explanation: list[dict[str, Any]]
    levels: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "score": round(self.score, 2),
            "explanation": self.explanation,
        }


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def visible_ids(ctx: Ctx, obj: str, ids: set[str]) -> set[str]:
    """Those of ``ids`` the actor may see."""
    clause = authz.visible(ctx, obj)
    if clause is None or not ids:
        return set(ids)
    model = model_for(obj)
    return set(ctx.session.scalars(select(model.id).where(model.id.in_(sorted(ids)), clause)))


def distinct_pairs(ctx: Ctx, obj: str, ids: list[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for i in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[i : i + LOOKUP_CHUNK]
        rows = ctx.session.execute(
            select(MatchDecision.record_a, MatchDecision.record_b).where(
                MatchDecision.object == obj,
                MatchDecision.decision == "distinct",
                or_(MatchDecision.record_a.in_(chunk), MatchDecision.record_b.in_(chunk)),
            )
        )
        out.update((a, b) for a, b in rows)
    return out


def _records_sharing_keys(ctx: Ctx, plan: Plan, keys: set[str]) -> dict[str, list[str]]:
    """{key: ids of the live records holding it} for the keys held by at most ``max_block``
    records. Keys shared by more are too common to pair on: they are left out, and whether a
    key is too common is asked by reading at most ``max_block + 1`` of its index entries, so
    the cost of a lookup does not grow with the number of records sharing a common key.

    One query for all the keys of a write, driven by the keys: each is one probe of the
    primary key ``(object, key, record_id)``. The keys travel as one JSON parameter (as an
    array, the driver spent more time sending them than the server spent finding them). The
    queries are written so that no plan scanning the table can be chosen, even before the
    table has statistics (a fresh import): on PostgreSQL a LATERAL probe per key, on SQLite a
    list of keys searched one by one."""
    if not keys:
        return {}
    limit = plan.config.max_block
    wanted = sorted(keys)
    table: Any
    if ctx.session.get_bind().dialect.name == "postgresql":
        table = (
            func.json_array_elements_text(
                cast(bindparam("keys", json.dumps(wanted), type_=Text), JSON)
            )
            .table_valued("value")
            .render_derived(name="wanted")
        )
        held = (
            select(MatchKey.record_id)
            .where(MatchKey.object == plan.object, MatchKey.key == table.c.value)
            .limit(limit + 1)
            .lateral("held")
        )
        rows = ctx.session.execute(
            select(table.c.value, held.c.record_id).select_from(table.join(held, true()))
        )
    else:
        listed = func.json_each(json.dumps(wanted)).table_valued("value").alias("listed")
        table = select(listed.c.value.label("key")).subquery("wanted")
        other = aliased(MatchKey)
        crowded = (
            select(other.record_id)
            .where(other.object == plan.object, other.key == table.c.key)
            .limit(1)
            .offset(limit)
            .exists()
        )
        usable = select(table.c.key).where(~crowded)
        rows = ctx.session.execute(
            select(MatchKey.key, MatchKey.record_id).where(
                MatchKey.object == plan.object, MatchKey.key.in_(usable)
            )
        )
    found: dict[str, list[str]] = defaultdict(list)
    for key, record_id in rows:
        found[key].append(record_id)
    return {key: ids for key, ids in found.items() if len(ids) <= limit}


def find(
    ctx: Ctx,
    plan: Plan,
    items: list[tuple[str | None, dict[str, Any]]],
    *,
    threshold: float | None = None,
    weights: Weights | None = None,
    item_keys: list[frozenset[str]] | None = None,
) -> list[list[Candidate]]:
    """For each (id or None, values) item: the live records sharing a blocking key with it and
    scoring ``threshold`` or more (the object's threshold by default), the best
    ``MAX_CANDIDATES`` first. ``item_keys``: the items' blocking keys, when the caller has them."""
    if not items:
        return []
    threshold = plan.config.threshold if threshold is None else threshold
    weights = weights or weights_mod.current(ctx.session, plan)
    if item_keys is None:
        item_keys = [plan.keys(values) for _, values in items]
    by_key = _records_sharing_keys(ctx, plan, set().union(*item_keys))
    pair_items: list[int] = []
    pair_ids: list[str] = []
    for n, ((own_id, _), keys) in enumerate(zip(items, item_keys, strict=True)):
        seen = {r for k in keys for r in by_key.get(k, ())} - {own_id}
        pair_items += [n] * len(seen)
        pair_ids += sorted(seen)
    out: list[list[Candidate]] = [[] for _ in items]
    if not pair_ids:
        return out
    own = sorted({i for n in set(pair_items) if (i := items[n][0])})
    refused = distinct_pairs(ctx, plan.object, own) if own else set()
    records = load_values(ctx, plan, set(pair_ids))
    position = {record_id: j for j, (record_id, _) in enumerate(records)}
    keep = [
        k
        for k, rid in enumerate(pair_ids)
        if rid in position
        and not (items[pair_items[k]][0] and ordered(items[pair_items[k]][0] or "", rid) in refused)
    ]
    if not keep:
        return out
    # Only the items that have a pair are compared: in a bulk write most have none, and
    # building their comparison frame was most of the check's cost.
    paired = sorted({pair_items[k] for k in keep})
    row_of = {n: j for j, n in enumerate(paired)}
    left = build_frame(plan, [(items[n][0] or "", items[n][1]) for n in paired])
    right = build_frame(plan, records)
    ia = np.array([row_of[pair_items[k]] for k in keep])
    ib = np.array([position[pair_ids[k]] for k in keep])
    levels = compare_pairs(plan, left, ia, right, ib)
    scores = weights.scores(levels)
    table = weights.table()
    for k in np.argsort(-scores, kind="stable"):
        if scores[k] < threshold:
            break
        item = paired[int(ia[k])]
        if len(out[item]) >= MAX_CANDIDATES:
            continue
        out[item].append(
            Candidate(
                str(right.ids[ib[k]]),
                float(scores[k]),
                weights.explain(plan, levels[k], left, int(ia[k]), right, int(ib[k]), table),
                level_names(plan, levels[k]),
            )
        )
    return out


def for_record(
    ctx: Ctx, plan: Plan, record_id: str, *, threshold: float | None = None
) -> list[Candidate]:
    """Likely duplicates of one record that the actor may see (the record itself must be
    visible to them: otherwise it is absent)."""
    authz.require(ctx, plan.object, "view")
    record = queries.get(ctx, plan.object, record_id)
    values = load_values(ctx, plan, [record.id])
    if not values:
        return []  # archived or merged away: it is nobody's duplicate
    [found] = find(ctx, plan, [(record.id, values[0][1])], threshold=threshold)
    seen = visible_ids(ctx, plan.object, {c.record_id for c in found})
    return [c for c in found if c.record_id in seen]
