"""Identity at the door: the hooks every write runs through, in the write's transaction.

Before a record is written (create, update, import), its likely duplicates are found through
the blocking keys and scored; what happens then is the workspace's policy for the source of the
write (``matching.<object>.on_entry``):

- ``block``: the item is refused with ``duplicate_candidates`` (409), listing each likely
  duplicate the actor may see with its score and explanation. A caller who means it passes the
  ``allow_duplicate`` flag (``?allow_duplicate=true``, ``--allow-duplicate``): the write goes
  ahead, the pairs are flagged, and the override is recorded in the change-log entry.
- ``flag``: the write goes ahead and the pairs are put in the review queue.
- ``merge``: at ``merge_threshold`` or more the new record is merged into the existing one
  through the merge function the runtime wires in; below it, or without one, the pair is flagged.

Likely duplicates the actor may not see are never named to them: they do not appear in the
refusal, and the pair goes to the review queue instead.

After the write, the record's blocking keys are replaced in ``match_keys`` (and removed when it
is archived), and the flagged pairs are queued for the records actually written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from plumb.access import authz
from plumb.core.actor import Source
from plumb.core.context import AfterWrite, BeforeWrite, Ctx, PendingWrite, RecordChange
from plumb.core.errors import DuplicateCandidates
from plumb.identity import candidates as cand
from plumb.identity import queue
from plumb.identity import weights as weights_mod
from plumb.identity.frame import build_frame, compare_pairs
from plumb.identity.keys import clear_keys, load_values, write_keys
from plumb.identity.plan import Plan, plan_for
from plumb.identity.weights import Weights

ALLOW_DUPLICATE = "allow_duplicate"
"""Ctx flag: the caller deliberately writes past a ``block`` policy."""
CONTEXT_KEY = "duplicates"
"""Change-log context key recording what the entry check found and decided."""

MergeFn = Callable[[Ctx, str, str, list[str]], object]
"""(ctx, object, survivor id, ids merged into it): the merge operation, wired by the runtime."""

_STASH = "plumb.identity.entry"


def _stash(ctx: Ctx) -> dict[str, Any]:
    stash: dict[str, Any] = ctx.session.info.setdefault(
        _STASH, {"flags": defaultdict(list), "merges": [], "keys": {}}
    )
    return stash


def hooks(merge: MergeFn | None = None) -> tuple[BeforeWrite, AfterWrite]:
    """The before- and after-write hooks; ``merge`` is the merge operation (None: the ``merge``
    policy flags instead, and says so in the change log)."""

    def before_write(ctx: Ctx, pending: list[PendingWrite]) -> None:
        groups: dict[str, list[PendingWrite]] = defaultdict(list)
        for p in pending:
            if p.error is None:
                groups[p.object].append(p)
        for obj, items in groups.items():
            plan = plan_for(ctx.workspace, obj)
            if plan is None:
                continue
            policy = (
                "off" if ctx.actor.source == Source.MERGE else plan.config.policy(ctx.actor.source)
            )
            if policy == "off":
                continue
            names = {pf.name for pf in plan.fields}
            relevant = [p for p in items if p.action == "create" or names & set(p.changes)]
            if relevant:
                _check(ctx, plan, policy, relevant, merge)

    def after_write(ctx: Ctx, changes: list[RecordChange]) -> None:
        groups: dict[str, list[RecordChange]] = defaultdict(list)
        for c in changes:
            groups[c.object].append(c)
        stash = ctx.session.info.pop(_STASH, None)
        for obj, items in groups.items():
            plan = plan_for(ctx.workspace, obj)
            if plan is None:
                continue
            _maintain_keys(ctx, plan, items, stash["keys"] if stash is not None else {})
            if stash is None:
                continue
            written = {c.record_id for c in items}
            flags = [f for rid in written for f in stash["flags"].get((obj, rid), [])]
            queue.add(ctx, obj, flags, origin="entry", weights_id=stash.get("weights_id"))
            if merge is not None:
                for m_obj, survivor, merged in stash["merges"]:
                    if m_obj == obj and merged in written:
                        merge(ctx, obj, survivor, [merged])

    return before_write, after_write


def _maintain_keys(
    ctx: Ctx, plan: Plan, items: list[RecordChange], known: dict[tuple[str, str], frozenset[str]]
) -> None:
    """``known``: the keys the entry check computed for new records, by (object, id)."""
    created = [(c.record_id, c.values) for c in items if c.action == "create"]
    # An update that changes none of the fields the blocking keys are made of (a stage move,
    # a new owner) leaves the keys as they are; any other change rebuilds them from the record.
    keyed = set(plan.key_fields)
    changed = sorted(
        {
            c.record_id
            for c in items
            if c.action != "create" and (c.action != "update" or keyed & set(c.changes))
        }
    )
    if changed:
        clear_keys(ctx, plan.object, changed)
        created += load_values(ctx, plan, changed)  # only live ones come back
    write_keys(ctx, plan, created, {rid: k for (o, rid), k in known.items() if o == plan.object})


def _check(
    ctx: Ctx, plan: Plan, policy: str, items: list[PendingWrite], merge: MergeFn | None
) -> None:
    obj = plan.object
    weights = weights_mod.current(ctx.session, plan)
    keys = [plan.keys(p.values) for p in items]
    stash = _stash(ctx)
    stash["keys"].update(
        ((obj, p.record_id), k)
        for p, k in zip(items, keys, strict=True)
        if p.action == "create" and p.record_id is not None
    )
    found = cand.find(
        ctx, plan, [(p.record_id, p.values) for p in items], weights=weights, item_keys=keys
    )
    seen = cand.visible_ids(ctx, obj, {c.record_id for cs in found for c in cs})
    stash["weights_id"] = weights.id
    allowed = ALLOW_DUPLICATE in ctx.flags
    _within_batch(ctx, plan, items, keys, weights, stash)
    for p, cands in zip(items, found, strict=True):
        if not cands:
            continue
        shown = [c for c in cands if c.record_id in seen]
        hidden = len(cands) - len(shown)
        note: dict[str, Any] = {
            "policy": policy,
            "candidates": [{"id": c.record_id, "score": round(c.score, 2)} for c in shown],
        }
        if hidden:
            note["not_visible"] = hidden
        if policy == "block" and shown and not allowed:
            p.error = DuplicateCandidates(
                f"{len(shown)} existing {obj} record{'s' if len(shown) != 1 else ''} "
                f"look{'s' if len(shown) == 1 else ''} like this one; pass allow_duplicate to "
                "write it anyway",
                object=obj,
                record_id=p.record_id if p.action != "create" else None,
                rule="duplicate_candidates",
                extra={
                    "candidates": [
                        {
                            **c.as_json(),
                            "explanation": queue.redact_explanation(ctx, obj, c.explanation),
                        }
                        for c in shown
                    ]
                },
            )
            continue
        if policy == "block":
            note["decision"] = "allowed by the caller" if shown else "flagged for review"
        elif policy == "merge":
            best = cands[0]
            if best.score < plan.config.merge_threshold:
                note["decision"] = "flagged for review (below merge_threshold)"
            elif merge is None:
                note["decision"] = "flagged for review (merge is not available)"
            elif not authz.may(ctx, obj, "merge"):
                note["decision"] = "flagged for review (the writer may not merge)"
            else:
                note["decision"] = "merged into an existing record"
                note["merged_into"] = best.record_id if best.record_id in seen else None
                stash["merges"].append((obj, best.record_id, p.record_id))
                cands = cands[1:]
        else:
            note["decision"] = "flagged for review"
        p.context[CONTEXT_KEY] = {**p.context.get(CONTEXT_KEY, {}), **note}
        if p.record_id is not None:
            stash["flags"][(obj, p.record_id)] += [
                queue.Flag(p.record_id, c.record_id, c.score, c.explanation) for c in cands
            ]


def _within_batch(
    ctx: Ctx,
    plan: Plan,
    items: list[PendingWrite],
    keys: list[frozenset[str]],
    weights: Weights,
    stash: dict[str, Any],
) -> None:
    """Two new records of one bulk write that look alike (a file listing someone twice): the
    pair is flagged for review whatever the policy, since neither exists yet to point to."""
    chosen = [
        (p, k)
        for p, k in zip(items, keys, strict=True)
        if p.action == "create" and p.record_id is not None
    ]
    if len(chosen) < 2:
        return
    new = [p for p, _ in chosen]
    by_key: dict[str, list[int]] = defaultdict(list)
    for n, (_, item_keys) in enumerate(chosen):
        for key in item_keys:
            by_key[key].append(n)
    pairs = {
        (group[i], group[j])
        for group in by_key.values()
        if 1 < len(group) <= plan.config.max_block
        for i in range(len(group))
        for j in range(i + 1, len(group))
    }
    if not pairs:
        return
    ordered_pairs = sorted(pairs)
    # The frame holds only the records that have a pair (most of a batch has none).
    paired = sorted({n for pair in ordered_pairs for n in pair})
    row_of = {n: j for j, n in enumerate(paired)}
    frame = build_frame(plan, [(new[n].record_id or "", new[n].values) for n in paired])
    ia = np.array([row_of[a] for a, _ in ordered_pairs])
    ib = np.array([row_of[b] for _, b in ordered_pairs])
    levels = compare_pairs(plan, frame, ia, frame, ib)
    scores = weights.scores(levels)
    table = weights.table()
    kept: dict[int, int] = defaultdict(int)
    for k in np.argsort(-scores, kind="stable").tolist():
        if scores[k] < plan.config.threshold:
            break
        if kept[int(ib[k])] >= cand.MAX_CANDIDATES:
            continue
        kept[int(ib[k])] += 1
        a, b = new[paired[int(ia[k])]], new[paired[int(ib[k])]]
        explanation = weights.explain(plan, levels[k], frame, int(ia[k]), frame, int(ib[k]), table)
        stash["flags"][(plan.object, b.record_id)].append(
            queue.Flag(a.record_id or "", b.record_id or "", float(scores[k]), explanation)
        )
        note = b.context.setdefault(CONTEXT_KEY, {"policy": "flag", "candidates": []})
        note.setdefault("same_batch", []).append(
            {"index": a.source_item, "score": round(float(scores[k]), 2)}
        )
