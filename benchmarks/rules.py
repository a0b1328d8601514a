"""Rules on the write path: record updates per second with 0, 10, 100 and 1,000 enabled rules.

The same workload for each rule count, in one run: C contacts are created, then U updates, one
transaction each (as the API makes them), change a contact's job title. The rules are spread the
way a real workspace spreads them: over objects (contacts, companies, deals), over fields (50
custom fields per object) and over target values; exactly one of them (when there are any)
watches a contact's job title, is evaluated on every update, does not match, and leaves its
outcome count. The others cannot fire on this change and must cost nothing: rules are indexed by
object + trigger + field (+ value). Goal: 1,000 rules no more than 2x the cost of 10.

    python -m benchmarks.rules [--updates 400] [--backends sqlite,postgresql]
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
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text

COUNTS = (0, 10, 100, 1000)
OBJECTS = ("contact", "company", "deal")
FIELDS = 50
CONTACTS = 200


def workspace(n: int) -> dict[str, Any]:
    data = yaml.safe_load(default_text())
    for obj in OBJECTS:
        data["objects"][obj] = {
            "fields": [{"name": f"f{i}", "type": "text"} for i in range(FIELDS)]
        }
    rules: list[dict[str, Any]] = []
    if n:
        rules.append(
            {
                "name": "title_watch",
                "owner": "ops@example.com",
                "description": "Watches job titles; does not match in this benchmark.",
                "when": {"object": "contact", "changed": "job_title"},
                "if": "job_title == 'Chief Everything Officer' and present(lead_source)",
                "then": [{"set": {"f0": "seen"}}],
            }
        )
    for i in range(n - 1 if n else 0):
        obj = OBJECTS[i % len(OBJECTS)]
        rules.append(
            {
                "name": f"r{i}",
                "owner": "ops@example.com",
                "description": "Filler rule on another field or value.",
                "when": {"object": obj, "changed": f"f{i % FIELDS}", "to": f"v{i}"},
                "if": f"f{(i + 1) % FIELDS} == 'x{i}'",
                "then": [{"set": {f"f{(i + 2) % FIELDS}": "y"}}],
            }
        )
    data["rules"] = rules
    return data


def run(backend: str, n: int, updates: int) -> float:
    actor = Actor(ActorKind.SYSTEM, Source.CLI, "bench")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(backend, f"rules{n}") as url:
        path = Path(tmp) / "plumb.yaml"
        path.write_text(yaml.safe_dump(workspace(n), sort_keys=False), "utf-8")
        rt = Runtime.from_settings(Settings(database_url=url, workspace=path, chain_lanes=16))
        rt.start()
        try:
            with rt.transaction(actor) as ctx:
                results = ops.create_many(
                    ctx, "contact", [{"first_name": f"C{i}"} for i in range(CONTACTS)]
                )
            ids = [r.record_id for r in results if r.record_id]
            start = time.perf_counter()
            for k in range(updates):
                with rt.transaction(actor) as ctx:
                    record = queries.get(ctx, "contact", ids[k % len(ids)])
                    ops.update(ctx, "contact", record, {"job_title": f"Title {k}"})
            return updates / (time.perf_counter() - start)
        finally:
            rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("postgresql: not reachable, skipped")
            continue
        rates = {n: run(backend, n, args.updates) for n in COUNTS}
        rows = [
            [
                f"{n:,}",
                f"{rates[n]:,.0f}/s",
                f"{rates[0] / rates[n]:.2f}x",
                f"{rates[10] / rates[n]:.2f}x" if n >= 10 else "-",
            ]
            for n in COUNTS
        ]
        print_table(
            f"{backend}: {args.updates} updates, one transaction each",
            ["rules", "updates", "cost vs 0 rules", "cost vs 10 rules"],
            rows,
        )


if __name__ == "__main__":
    main()
