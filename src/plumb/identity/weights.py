"""Fellegi-Sunter weights: per field and agreement level, m (how often duplicates agree that
well), u (how often different records do) and the weight log2(m / u) a pair earns for it.

A pair's score is the sum of its fields' weights; a blank on either side (``missing``) earns 0.
Until the workspace estimates its own (``plumb dedupe estimate``), each comparator's defaults
apply. Stored estimations are used only with the matching definition they were made for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from plumb.identity.frame import Frame
from plumb.identity.plan import Plan
from plumb.models import MatchWeights

EPS = 1e-6


@dataclass
class Weights:
    m: list[np.ndarray]
    u: list[np.ndarray]
    """Per field, over its non-missing levels."""
    id: str | None = None
    """The stored estimation these come from; None for the defaults."""

    @classmethod
    def defaults(cls, plan: Plan) -> Weights:
        return cls(
            [np.array(pf.comparator.m, dtype=float) for pf in plan.fields],
            [np.array(pf.comparator.u, dtype=float) for pf in plan.fields],
        )

    def table(self) -> np.ndarray:
        """(fields, levels + 1) weights, the last column of each field (missing) being 0; fields
        with fewer levels are padded after their missing column, which no pair reaches."""
        width = max(len(m) for m in self.m) + 1
        out = np.zeros((len(self.m), width))
        for f, (m, u) in enumerate(zip(self.m, self.u, strict=True)):
            out[f, : len(m)] = np.log2(np.clip(m, EPS, 1) / np.clip(u, EPS, 1))
        return out

    def scores(self, levels: np.ndarray) -> np.ndarray:
        """Scores of pairs from their (N, fields) levels."""
        if len(levels) == 0:
            return np.zeros(0)
        table = self.table()
        return table[np.arange(table.shape[0])[None, :], levels.astype(np.int64)].sum(axis=1)

    def as_json(self, plan: Plan) -> dict[str, Any]:
        table = self.table()
        return {
            pf.name: {
                level: {
                    "m": round(float(self.m[f][i]), 6),
                    "u": round(float(self.u[f][i]), 8),
                    "weight": round(float(table[f, i]), 3),
                }
                for i, level in enumerate(pf.comparator.levels)
            }
            for f, pf in enumerate(plan.fields)
        }

    @classmethod
    def from_json(cls, plan: Plan, data: dict[str, Any], ident: str | None) -> Weights:
        base = cls.defaults(plan)
        for f, pf in enumerate(plan.fields):
            stored = data.get(pf.name) or {}
            for i, level in enumerate(pf.comparator.levels):
                if level in stored:
                    base.m[f][i] = stored[level]["m"]
                    base.u[f][i] = stored[level]["u"]
        base.id = ident
        return base

    def explain(
        self,
        plan: Plan,
        levels: np.ndarray,
        left: Frame,
        i: int,
        right: Frame,
        j: int,
        table: np.ndarray | None = None,
    ) -> list[dict[str, Any]]:
        """Per field: the agreement level, the two values compared and the weight earned."""
        table = self.table() if table is None else table
        return [
            {
                "field": pf.name,
                "compare": pf.spec.compare,
                "level": names[level],
                "a": left.display[pf.name][i],
                "b": right.display[pf.name][j],
                "weight": round(float(table[f, level]), 2),
            }
            for f, (pf, names, level) in enumerate(
                zip(plan.fields, plan.level_names, levels.tolist(), strict=True)
            )
        ]


def current(session: Session, plan: Plan) -> Weights:
    """The latest estimation for this definition, else the defaults."""
    row = session.execute(
        select(MatchWeights.id, MatchWeights.weights)
        .where(MatchWeights.object == plan.object, MatchWeights.definition == plan.digest)
        .order_by(MatchWeights.estimated_at.desc(), MatchWeights.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return Weights.defaults(plan)
    return Weights.from_json(plan, row.weights, row.id)
