"""Learning the weights from the workspace's own data, without labels, and from decisions.

Scores are only ever computed for candidate pairs (records sharing a blocking key), so m and u
are estimated *among candidate pairs*: by expectation-maximisation over the blocked pairs, under
the usual Fellegi-Sunter assumption that fields agree independently given the match status.
(Among candidates, two different people agree on a blocked field far more often than two random
records do; u counted on random pairs would overrate that agreement.)

- The starting point: each comparator's default m, and u counted on random pairs of records
  (almost every random pair is two different people, whatever the data).
- People's decisions take part as labelled pairs: a ``duplicate`` is a known match (its
  posterior fixed at 1), a ``distinct`` a known non-match (fixed at 0), each weighing
  ``LABEL_WEIGHT`` pairs; ``undone`` decisions are ignored.
- Both m and u carry pseudo-counts of their starting values, so a level never seen is not 0.

Identical comparison patterns are counted once, so a run costs the same for 10k or 10M pairs
with the same few hundred patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plumb.identity.plan import Plan
from plumb.identity.weights import EPS, Weights

LABEL_WEIGHT = 20.0
"""How many unlabelled pairs one decision weighs."""
PRIOR_STRENGTH = 2.0
"""Pseudo-counts of each comparator's default m and u, so a level never seen is not 0."""


@dataclass
class Estimation:
    weights: Weights
    iterations: int
    converged: bool
    match_share: float
    pairs: int
    random_pairs: int
    labelled: int


def estimate(
    plan: Plan,
    blocked: np.ndarray,
    random: np.ndarray,
    labelled: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> Estimation:
    """``blocked``, ``random``, ``labelled``: (N, fields) levels; ``labels``: 1 match, 0 not."""
    defaults = Weights.defaults(plan)
    if labelled is None or labels is None:
        labelled = np.empty((0, len(plan.fields)), dtype=np.int8)
        labels = np.empty(0)
    patterns, counts = _patterns(blocked)
    lab_patterns = labelled.astype(np.int64)
    lab_counts = np.full(len(labelled), LABEL_WEIGHT)

    u = []
    for f, pf in enumerate(plan.fields):
        k = len(pf.comparator.levels)
        tally = np.bincount(random[:, f].astype(np.int64), minlength=k + 1)[:k].astype(float)
        tally += PRIOR_STRENGTH * defaults.u[f]
        u.append(tally / tally.sum())
    u_start = [x.copy() for x in u]
    m = [x.copy() for x in defaults.m]

    all_patterns = np.vstack([patterns, lab_patterns]) if len(lab_patterns) else patterns
    all_counts = np.concatenate([counts, lab_counts])
    fixed = np.concatenate([np.full(len(patterns), np.nan), labels.astype(float)])
    unlabelled = np.isnan(fixed)
    share = 0.1
    iterations, converged = 0, False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported after the loop
        log_m = _log_likelihood(all_patterns, m)
        log_u = _log_likelihood(all_patterns, u)
        odds = np.log(share) - np.log(1 - share) + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -60, 60)))
        posterior = np.where(unlabelled, posterior, fixed)
        matched = posterior * all_counts
        unmatched = (1 - posterior) * all_counts
        new_share = float(matched[unlabelled].sum() / max(all_counts[unlabelled].sum(), EPS))
        new_m = _maximise(plan, all_patterns, matched, defaults.m)
        new_u = _maximise(plan, all_patterns, unmatched, u_start)
        change = max(
            max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
            max(float(np.abs(a - b).max()) for a, b in zip(new_u, u, strict=True)),
            abs(new_share - share),
        )
        m, u, share = new_m, new_u, min(max(new_share, EPS), 1 - EPS)
        if change < tolerance:
            converged = True
            break
    return Estimation(
        Weights(m, u),
        iterations,
        converged,
        share,
        int(counts.sum()),
        len(random),
        len(labelled),
    )


def _maximise(
    plan: Plan, patterns: np.ndarray, weights: np.ndarray, prior: list[np.ndarray]
) -> list[np.ndarray]:
    out = []
    for f, pf in enumerate(plan.fields):
        k = len(pf.comparator.levels)
        seen = np.bincount(patterns[:, f], weights=weights, minlength=k + 1)[:k]
        tally = seen.astype(float) + PRIOR_STRENGTH * prior[f]
        out.append(tally / tally.sum())
    return out


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(levels) == 0:
        return np.empty((0, levels.shape[1]), dtype=np.int64), np.empty(0)
    patterns, counts = np.unique(levels.astype(np.int64), axis=0, return_counts=True)
    return patterns, counts.astype(float)


def _log_likelihood(patterns: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Sum over fields of log P(level); a missing level (past the last) contributes 0."""
    out = np.zeros(len(patterns))
    for f, p in enumerate(probs):
        logs = np.append(np.log(np.clip(p, EPS, 1)), 0.0)
        out += logs[np.minimum(patterns[:, f], len(p))]
    return out
