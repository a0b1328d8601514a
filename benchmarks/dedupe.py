"""Dedupe: precision, recall and F1 of the batch dedupe on synthetic contacts, and its time.

Synthetic contacts with known duplicate clusters (``plumb.demo.synthetic``) are loaded through
the write path (``operations.create_many`` as an import, entry policy ``off`` so loading only
maintains the blocking keys), then ``plumb dedupe``'s scan runs: blocking self-join, comparison
of every candidate pair, weight estimation (EM), scoring, clustering and the review queue.

Quality is pairwise over clusters: a predicted pair is two records in one predicted cluster, a
true pair two records of one person. The baseline measured in the same run is the SQL blocking
self-join alone (the set of candidate pairs, with nothing compared): the scan's time is stated as
a ratio to it, and per record against the smallest size.

    python -m benchmarks.dedupe [--sizes 10000,100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import fresh_database, postgres_available, print_table
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.settings import Settings
from plumb.demo.synthetic import synthetic_contacts
from plumb.identity import scan
from plumb.identity.plan import plan_for
from plumb.records import operations as ops
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text

BATCH = 1000


def _workspace(tmp: Path) -> Path:
    data = yaml.safe_load(default_text())
    data["matching"]["contact"]["on_entry"] = {"default": "off"}
    path = tmp / "plumb.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def quality(
    ids: list[str], entity: list[int], clusters: list[list[str]]
) -> tuple[float, float, float]:
    position = {rid: i for i, rid in enumerate(ids)}
    predicted: set[tuple[int, int]] = set()
    for cluster in clusters:
        members = sorted(position[r] for r in cluster)
        predicted |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    groups: dict[int, list[int]] = {}
    for i, e in enumerate(entity):
        groups.setdefault(e, []).append(i)
    truth = {(a, b) for g in groups.values() for i, a in enumerate(g) for b in g[i + 1 :]}
    hit = len(predicted & truth)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def run(backend: str, n: int, tmp: Path) -> dict[str, Any]:
    data = synthetic_contacts(n, seed=11)
    with fresh_database(backend, f"dedupe{n}") as url:
        settings = Settings(database_url=url, workspace=_workspace(tmp), chain_lanes=4)
        rt = Runtime.from_settings(settings)
        rt.start()
        loader = Actor(kind=ActorKind.IMPORT, source=Source.IMPORT, label="benchmark")
        ids: list[str] = []
        start = time.perf_counter()
        for i in range(0, n, BATCH):
            with rt.transaction(loader) as ctx:
                results = ops.create_many(ctx, "contact", data.items[i : i + BATCH])
            failed = [r for r in results if r.error]
            if failed:
                raise SystemExit(f"item {i + failed[0].index} refused: {failed[0].error}")
            ids += [r.record_id or "" for r in results]
        load = time.perf_counter() - start
        plan = plan_for(rt.loaded.workspace, "contact")
        assert plan is not None
        operator = Actor(kind=ActorKind.SYSTEM, source=Source.CLI, label="benchmark")
        with rt.reading(operator) as ctx:
            start = time.perf_counter()
            pairs, _ = scan.blocked_pairs(ctx, plan)
            baseline = time.perf_counter() - start
        with rt.transaction(operator) as ctx:
            start = time.perf_counter()
            result = scan.scan(ctx, plan, estimate_weights=True)
            took = time.perf_counter() - start
        rt.close()
    precision, recall, f1 = quality(ids, data.entity, result.clusters)
    return {
        "backend": backend,
        "n": n,
        "load": load,
        "baseline": baseline,
        "scan": took,
        "pairs": len(pairs),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "clusters": len(result.clusters),
        "true_clusters": len(data.clusters),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b != "postgresql" or postgres_available()]
    rows = []
    for backend in backends:
        first: dict[str, Any] | None = None
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                r = run(backend, n, Path(tmp))
            first = first or r
            growth = (r["scan"] / r["n"]) / (first["scan"] / first["n"])
            rows.append(
                [
                    backend,
                    f"{n:,}",
                    f"{r['load']:.1f} s",
                    f"{r['pairs']:,}",
                    f"{r['baseline']:.2f} s",
                    f"{r['scan']:.2f} s",
                    f"{r['scan'] / r['baseline']:.1f}x",
                    f"{growth:.2f}x",
                    f"{r['precision']:.3f}",
                    f"{r['recall']:.3f}",
                    f"{r['f1']:.3f}",
                    f"{r['clusters']:,} / {r['true_clusters']:,}",
                ]
            )
            print(rows[-1], flush=True)
    print_table(
        "plumb dedupe on synthetic contacts (goal: F1 >= 0.95 at 100k)",
        [
            "backend",
            "contacts",
            "load (write path)",
            "candidate pairs",
            "self-join alone",
            "dedupe scan",
            "ratio",
            "cost/record vs first size",
            "precision",
            "recall",
            "F1",
            "clusters found / planted",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
