"""Records as columns, and pairs of them compared field by field, vectorised.

A ``Frame`` holds, per evidence field, the prepared channels of every record's values as numpy
arrays of shape (records, slots): a field with several values (e-mail addresses, phones) takes
up to ``MAX_SLOTS`` slots, and a pair's level is the best over its slot combinations. Comparing
N pairs is then a handful of array operations per field, whatever N is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np

from plumb.identity.comparators import CACHE_SIZE, COMPARATORS, as_text
from plumb.identity.plan import Plan, PlanField

MAX_SLOTS = 3


@dataclass
class Column:
    channels: list[np.ndarray]
    """One (records, slots) object array per channel; ``""`` where a slot is empty."""
    present: np.ndarray
    """(records, slots) bool."""


@dataclass
class Frame:
    ids: np.ndarray
    columns: dict[str, Column]
    display: dict[str, list[Any]]
    """The stored value of each field per record, for explanations."""

    def __len__(self) -> int:
        return len(self.ids)


def build_frame(plan: Plan, records: list[tuple[str, dict[str, Any]]]) -> Frame:
    """``records``: (id, values in JSON form)."""
    n = len(records)
    columns: dict[str, Column] = {}
    display: dict[str, list[Any]] = {}
    for pf in plan.fields:
        prepare = _cached_prepare(pf.comparator.name)
        raw = [values.get(pf.name) for _, values in records]
        prepared: list[list[tuple[str, ...]]] = []
        for value in raw:
            items: list[tuple[str, ...]] = []
            if value is not None and value != "" and value != []:
                for text in (value,) if isinstance(value, str) else as_text(value):
                    channels = prepare(text)
                    if channels is not None and channels not in items:
                        items.append(channels)
                        if len(items) == MAX_SLOTS:
                            break
            prepared.append(items)
        slots = max((len(p) for p in prepared), default=0) or 1
        width = _width(pf.comparator.name)
        chans = [np.full((n, slots), "", dtype=object) for _ in range(width)]
        present = np.zeros((n, slots), dtype=bool)
        for s in range(slots):
            col = [p[s] if len(p) > s else None for p in prepared]
            present[:, s] = [c is not None for c in col]
            for c in range(width):
                chans[c][:, s] = [x[c] if x is not None else "" for x in col]
        columns[pf.name] = Column(chans, present)
        display[pf.name] = raw
    return Frame(np.array([r[0] for r in records], dtype=object), columns, display)


@cache
def _cached_prepare(comparator: str) -> Callable[[str], tuple[str, ...] | None]:
    return lru_cache(maxsize=CACHE_SIZE)(COMPARATORS[comparator].prepare)


def _width(comparator: str) -> int:
    return {
        "name": 3,
        "phonetic": 3,
        "address": 2,
        "email": 4,
        "phone": 2,
    }.get(comparator, 1)


def _field_levels(
    pf: PlanField, left: Column, ia: np.ndarray, right: Column, ib: np.ndarray
) -> np.ndarray:
    cmp = pf.comparator
    out = np.full(len(ia), cmp.missing, dtype=np.int8)
    for s in range(left.present.shape[1]):
        for t in range(right.present.shape[1]):
            mask = left.present[ia, s] & right.present[ib, t]
            if not mask.any():
                continue
            a = [ch[ia[mask], s] for ch in left.channels]
            b = [ch[ib[mask], t] for ch in right.channels]
            levels = cmp.compare(a, b, pf.spec.tolerance)
            out[mask] = np.minimum(out[mask], levels)
    return out


def compare_pairs(
    plan: Plan, left: Frame, ia: np.ndarray, right: Frame, ib: np.ndarray
) -> np.ndarray:
    """Levels of N pairs (left[ia[k]], right[ib[k]]): an (N, fields) int8 array."""
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    out = np.empty((len(ia), len(plan.fields)), dtype=np.int8)
    for f, pf in enumerate(plan.fields):
        levels = _field_levels(pf, left.columns[pf.name], ia, right.columns[pf.name], ib)
        swap = pf.spec.swap_with
        if swap is not None and len(ia):
            # Entered the other way round: this field against the other's, and back.
            other = plan.fields[plan.field_index(swap)]
            cross1 = _field_levels(pf, left.columns[pf.name], ia, right.columns[swap], ib)
            cross2 = _field_levels(other, left.columns[swap], ia, right.columns[pf.name], ib)
            close = pf.comparator.levels.index("close")
            swapped = (cross1 <= close) & (cross2 <= close)
            disagree = levels >= pf.comparator.disagree
            swapped_level = np.int8(pf.comparator.levels.index("swapped"))
            levels = np.where(swapped & disagree, swapped_level, levels).astype(np.int8)
        out[:, f] = levels
    return out


def level_names(plan: Plan, row: np.ndarray) -> dict[str, str]:
    """{field: level name} of one pair (what a decision stores for learning)."""
    return {
        pf.name: pf.comparator.level_names()[int(level)]
        for pf, level in zip(plan.fields, row, strict=True)
    }


def levels_from_names(plan: Plan, names: dict[str, str]) -> np.ndarray:
    """The inverse of ``level_names``; fields or levels it does not know count as missing."""
    row = np.empty(len(plan.fields), dtype=np.int8)
    for f, pf in enumerate(plan.fields):
        known = pf.comparator.level_names()
        name = names.get(pf.name)
        row[f] = known.index(name) if name in known else pf.comparator.missing
    return row
