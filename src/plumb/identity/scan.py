"""The batch dedupe: every live record of an object against the others, set-based.

1. Candidate pairs come from one SQL self-join of ``match_keys`` on the key (records sharing at
   least one blocking key), leaving out keys shared by more than ``max_block`` records (too
   common to pair on; their number is reported).
2. The records are read once into columns (``plumb.identity.frame``) and all candidate pairs are
   compared field by field with array operations.
3. Scores are the sums of the current weights (estimated first when the definition has none
   yet, or when asked); pairs at the threshold or above, and not decided ``distinct``, are joined
   into clusters (connected components) and put in the review queue with their explanation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select

from plumb.core.collector import fewer_collections
from plumb.core.context import Ctx
from plumb.core.ids import new_id
from plumb.identity import queue
from plumb.identity import weights as weights_mod
from plumb.identity.estimate import Estimation, estimate
from plumb.identity.frame import Frame, build_frame, compare_pairs, levels_from_names
from plumb.identity.keys import load_values, reindex
from plumb.identity.plan import Plan
from plumb.identity.weights import Weights
from plumb.models import MatchCandidate, MatchDecision, MatchKey, MatchWeights

Progress = Callable[[str, int, int], None]
RANDOM_PAIRS = 50_000
EM_PAIRS = 500_000
COMPARE_CHUNK = 100_000
MIN_PAIRS_TO_LEARN = 200
"""A scan estimates the weights by itself (when none are stored for the definition) only from
this many candidate pairs: with fewer, the comparators' defaults are the better guess."""


@dataclass
class ScanResult:
    object: str
    records: int
    candidate_pairs: int
    skipped_keys: int
    """Blocking keys shared by more than ``max_block`` records, not paired on."""
    threshold: float
    likely_pairs: int
    clusters: list[list[str]]
    queued: int
    weights_id: str | None
    estimated: bool
    flags: list[queue.Flag] = field(default_factory=list)
    """Every pair at the threshold or above, with its cluster and explanation."""

    @property
    def pairs(self) -> list[tuple[str, str, float]]:
        return [(f.record_a, f.record_b, f.score) for f in self.flags]

    def summary(self) -> dict[str, Any]:
        sizes = [len(c) for c in self.clusters]
        return {
            "object": self.object,
            "records": self.records,
            "candidate_pairs": self.candidate_pairs,
            "skipped_common_keys": self.skipped_keys,
            "threshold": self.threshold,
            "likely_duplicate_pairs": self.likely_pairs,
            "clusters": len(self.clusters),
            "records_in_clusters": sum(sizes),
            "largest_cluster": max(sizes, default=0),
            "queued": self.queued,
            "weights_id": self.weights_id,
            "estimated_weights": self.estimated,
        }


def _step(progress: Progress | None, step: str, done: int = 0, total: int = 1) -> None:
    if progress is not None:
        progress(step, done, total)


def blocked_pairs(ctx: Ctx, plan: Plan) -> tuple[list[tuple[str, str]], int]:
    """Pairs of record ids sharing a blocking key (a < b), and how many keys were too common."""
    obj, cap = plan.object, plan.config.max_block
    sizes = (
        select(MatchKey.key)
        .where(MatchKey.object == obj)
        .group_by(MatchKey.key)
        .having(func.count() <= cap)
    )
    a, b = MatchKey.__table__.alias("a"), MatchKey.__table__.alias("b")
    stmt = (
        select(a.c.record_id, b.c.record_id)
        .join(b, (b.c.object == a.c.object) & (b.c.key == a.c.key))
        .where(a.c.object == obj, a.c.record_id < b.c.record_id, a.c.key.in_(sizes))
        .distinct()
    )
    pairs = [(x, y) for x, y in ctx.session.execute(stmt)]
    skipped = ctx.session.scalar(
        select(func.count()).select_from(
            select(MatchKey.key)
            .where(MatchKey.object == obj)
            .group_by(MatchKey.key)
            .having(func.count() > cap)
            .subquery()
        )
    )
    return pairs, int(skipped or 0)


def _decided(ctx: Ctx, obj: str) -> tuple[set[tuple[str, str]], list[tuple[dict[str, str], int]]]:
    """Pairs not to propose (distinct or already duplicates), and labelled comparisons."""
    closed: set[tuple[str, str]] = set()
    labelled: list[tuple[dict[str, str], int]] = []
    rows = ctx.session.execute(
        select(
            MatchDecision.record_a,
            MatchDecision.record_b,
            MatchDecision.decision,
            MatchDecision.comparison,
        ).where(MatchDecision.object == obj, MatchDecision.decision != "undone")
    )
    for a, b, decision, comparison in rows:
        closed.add((a, b))
        if comparison:
            labelled.append((comparison, 1 if decision == "duplicate" else 0))
    return closed, labelled


def _compare_all(plan: Plan, frame: Frame, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    parts = [
        compare_pairs(plan, frame, ia[i : i + COMPARE_CHUNK], frame, ib[i : i + COMPARE_CHUNK])
        for i in range(0, len(ia), COMPARE_CHUNK)
    ]
    return np.vstack(parts) if parts else np.empty((0, len(plan.fields)), dtype=np.int8)


def _random_pairs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if n * (n - 1) // 2 <= RANDOM_PAIRS:
        ia, ib = np.triu_indices(n, k=1)
        return ia, ib
    ia = rng.integers(0, n, RANDOM_PAIRS)
    ib = rng.integers(0, n - 1, RANDOM_PAIRS)
    ib = np.where(ib >= ia, ib + 1, ib)
    return ia, ib


def learn(
    ctx: Ctx,
    plan: Plan,
    frame: Frame,
    levels: np.ndarray,
    *,
    progress: Progress | None = None,
    seed: int = 0,
) -> tuple[Estimation, MatchWeights]:
    """Estimate the weights from the candidate pairs' ``levels``, random pairs and decisions,
    and store the estimation."""
    rng = np.random.default_rng(seed)
    _step(progress, "estimating weights (random pairs)")
    ra, rb = _random_pairs(len(frame), rng)
    random_levels = _compare_all(plan, frame, ra, rb)
    sample = levels
    if len(levels) > EM_PAIRS:
        sample = levels[rng.choice(len(levels), EM_PAIRS, replace=False)]
    _, decided = _decided(ctx, plan.object)
    labelled = np.array([levels_from_names(plan, c) for c, _ in decided], dtype=np.int8).reshape(
        -1, len(plan.fields)
    )
    labels = np.array([label for _, label in decided])
    _step(progress, "estimating weights (expectation-maximisation)")
    result = estimate(plan, sample, random_levels, labelled, labels)
    ident = new_id()
    ctx.session.execute(
        insert(MatchWeights).values(
            id=ident,
            object=plan.object,
            estimated_at=ctx.now(),
            definition=plan.digest,
            pairs=result.pairs,
            random_pairs=result.random_pairs,
            labelled=result.labelled,
            iterations=result.iterations,
            converged=result.converged,
            match_share=round(result.match_share, 6),
            weights=result.weights.as_json(plan),
            actor_label=ctx.actor.label,
        )
    )
    row = ctx.session.get_one(MatchWeights, ident)
    result.weights.id = row.id
    return result, row


def prepare(
    ctx: Ctx, plan: Plan, *, progress: Progress | None = None, reindex_keys: bool = False
) -> tuple[Frame, np.ndarray, np.ndarray, int]:
    """Read the records and their candidate pairs: (frame, left positions, right positions,
    keys skipped as too common)."""
    has_keys = ctx.session.scalar(
        select(func.count()).select_from(
            select(MatchKey.record_id).where(MatchKey.object == plan.object).limit(1).subquery()
        )
    )
    if reindex_keys or not has_keys:
        reindex(ctx, plan, progress)
    _step(progress, "reading records")
    records = load_values(ctx, plan)
    frame = build_frame(plan, records)
    _step(progress, "finding candidate pairs (blocking self-join)")
    pairs, skipped = blocked_pairs(ctx, plan)
    closed, _ = _decided(ctx, plan.object)
    ids = frame.ids.astype(str)
    order = np.argsort(ids)
    ordered_ids = ids[order]
    if pairs and len(ids):
        x = np.array([p[0] for p in pairs])
        y = np.array([p[1] for p in pairs])
        left, right = np.where(x < y, x, y), np.where(x < y, y, x)
        sa = np.minimum(np.searchsorted(ordered_ids, left), len(ids) - 1)
        sb = np.minimum(np.searchsorted(ordered_ids, right), len(ids) - 1)
        live = (ordered_ids[sa] == left) & (ordered_ids[sb] == right)
        if closed:
            keys = np.char.add(np.char.add(left, "|"), right)
            closed_keys = np.array([f"{a}|{b}" for a, b in closed])
            live &= ~np.isin(keys, closed_keys)
        ia, ib = order[sa[live]], order[sb[live]]
    else:
        ia = ib = np.empty(0, dtype=np.int64)
    return frame, ia, ib, skipped


def clusters_of(edges_a: np.ndarray, edges_b: np.ndarray, n: int) -> np.ndarray:
    """Connected components (union-find over the likely pairs): a root position per record."""
    parent = np.arange(n)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    for a, b in zip(edges_a.tolist(), edges_b.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)])


@fewer_collections()
def scan(
    ctx: Ctx,
    plan: Plan,
    *,
    threshold: float | None = None,
    estimate_weights: bool = False,
    reindex_keys: bool = False,
    progress: Progress | None = None,
) -> ScanResult:
    threshold = plan.config.threshold if threshold is None else threshold
    frame, ia, ib, skipped = prepare(ctx, plan, progress=progress, reindex_keys=reindex_keys)
    total = len(ia)
    chunks = []
    for i in range(0, total, COMPARE_CHUNK):
        chunks.append(
            compare_pairs(plan, frame, ia[i : i + COMPARE_CHUNK], frame, ib[i : i + COMPARE_CHUNK])
        )
        _step(progress, "comparing candidate pairs", min(i + COMPARE_CHUNK, total), total)
    levels = np.vstack(chunks) if chunks else np.empty((0, len(plan.fields)), dtype=np.int8)
    weights: Weights = weights_mod.current(ctx.session, plan)
    estimated = False
    if estimate_weights or (weights.id is None and total >= MIN_PAIRS_TO_LEARN):
        result, _ = learn(ctx, plan, frame, levels, progress=progress)
        weights, estimated = result.weights, True
    _step(progress, "scoring and clustering")
    scores = weights.scores(levels)
    hit = scores >= threshold
    ea, eb, es, el = ia[hit], ib[hit], scores[hit], levels[hit]
    roots = clusters_of(ea, eb, len(frame))
    members: dict[int, list[int]] = {}
    for pos in np.unique(np.concatenate([ea, eb])).tolist():
        members.setdefault(int(roots[pos]), []).append(pos)
    ids = frame.ids
    cluster_ids = {r: str(min(ids[p] for p in ps)) for r, ps in members.items()}
    table = weights.table()
    flags = [
        queue.Flag(
            str(ids[a]),
            str(ids[b]),
            float(s),
            weights.explain(plan, lv, frame, int(a), frame, int(b), table),
            cluster_ids[int(roots[a])],
        )
        for a, b, s, lv in zip(ea.tolist(), eb.tolist(), es.tolist(), el, strict=True)
    ]
    _step(progress, "filling the review queue")
    ctx.session.execute(
        delete(MatchCandidate).where(
            MatchCandidate.object == plan.object, MatchCandidate.origin == "scan"
        )
    )
    queued = queue.add(ctx, plan.object, flags, origin="scan", weights_id=weights.id)
    return ScanResult(
        object=plan.object,
        records=len(frame),
        candidate_pairs=total,
        skipped_keys=skipped,
        threshold=threshold,
        likely_pairs=int(hit.sum()),
        clusters=[sorted(str(ids[p]) for p in ps) for ps in members.values()],
        queued=queued,
        weights_id=weights.id,
        estimated=estimated,
        flags=flags,
    )


@fewer_collections()
def estimate_only(
    ctx: Ctx, plan: Plan, *, progress: Progress | None = None
) -> tuple[Estimation, MatchWeights]:
    """(Re)estimate the weights from today's data and decisions without touching the queue."""
    frame, ia, ib, _ = prepare(ctx, plan, progress=progress)
    levels = _compare_all(plan, frame, ia, ib)
    return learn(ctx, plan, frame, levels, progress=progress)


def estimation_json(row: MatchWeights) -> dict[str, Any]:
    return {
        "weights_id": row.id,
        "object": row.object,
        "estimated_at": row.estimated_at.isoformat().replace("+00:00", "Z"),
        "pairs": row.pairs,
        "random_pairs": row.random_pairs,
        "labelled": row.labelled,
        "iterations": row.iterations,
        "converged": row.converged,
        "match_share": row.match_share,
        "weights": row.weights,
    }
