"""Record visibility: list and get latency with owner-only visibility vs everyone, same data.

N contacts owned round-robin by 40 users in 8 teams, loaded through the operations layer. The
same queries run through the query layer (what the API and CLI call) as three users of three
roles that differ only in contact visibility: ``everyone`` (the baseline), ``team`` and
``owner``. Queries: the first page of the default list (50 rows), the first page sorted by last
name, the 20th page by keyset cursor, a filtered page (``city = ...``), a search, and 50 gets of
records all three may see. Goal: owner-only within 1.5x of everyone.

    python -m benchmarks.visibility [--sizes 10000,100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import fresh_database, postgres_available, print_table
from plumb.access.users import create_user
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.settings import Settings
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text

USERS, TEAMS, BATCH = 40, 8, 1000
MODES = ("everyone", "team", "owner")
CITIES = ["Springfield", "Shelbyville", "Ogdenville", "North Haverbrook", "Capital City"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Perlman", "Dijkstra", "Allen"]


def workspace_file(directory: Path) -> Path:
    content = yaml.safe_load(default_text())
    content["matching"] = {}  # reads are measured here; loading need not check for duplicates
    for mode in MODES:
        content["roles"][f"sees_{mode}"] = {
            "label": f"Sees {mode}",
            "description": f"Benchmark role: contact visibility {mode}.",
            "objects": {"*": ["view", "create", "edit"]},
            "visibility": {"*": mode},
        }
    path = directory / "plumb.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def load(rt: Runtime, n: int) -> dict[str, Actor]:
    system = Actor(kind=ActorKind.SYSTEM, source=Source.IMPORT, label="benchmark load")
    owners: list[str] = []
    actors: dict[str, Actor] = {}
    with rt.transaction(system) as ctx:
        for i in range(USERS):
            mode = MODES[i] if i < len(MODES) else "everyone"
            user = create_user(
                ctx,
                email=f"user{i}@bench.example.com",
                name=f"User {i}",
                role=f"sees_{mode}",
                # the three measured users share a team, so each sees the owner-only user's records
                team=f"Team {0 if i < len(MODES) else i % TEAMS}",
            )
            owners.append(user.id)
            if i < len(MODES):
                actors[mode] = Actor(
                    kind=ActorKind.USER,
                    source=Source.API,
                    label=user.email,
                    id=user.id,
                    user_id=user.id,
                    role=user.role,
                )
    rng = random.Random(7)
    for start in range(0, n, BATCH):
        items = [
            {
                "first_name": f"Person{i}",
                "last_name": rng.choice(LAST),
                "email": f"p{i}@example.com",
                "city": rng.choice(CITIES),
                "owner_id": owners[i % USERS],
            }
            for i in range(start, min(n, start + BATCH))
        ]
        with rt.transaction(system) as ctx:
            failed = [r for r in ops.create_many(ctx, "contact", items) if r.error]
            if failed:
                raise SystemExit(f"benchmark rows were refused: {failed[0].error}")
    return actors


def latencies(
    rt: Runtime, actors: dict[str, Actor], work: Callable[[Any], object], repeat: int
) -> dict[str, float]:
    """Median seconds of ``work(ctx)`` in a read transaction per actor. The actors take turns
    within each round, so a busy machine slows all of them alike instead of whichever ran last."""
    times: dict[str, list[float]] = {mode: [] for mode in actors}
    for _ in range(repeat):
        for mode, actor in actors.items():
            with rt.reading(actor) as ctx:
                began = time.perf_counter()
                work(ctx)
                times[mode].append(time.perf_counter() - began)
    return {mode: statistics.median(t) for mode, t in times.items()}


def twentieth_page(ctx: Any) -> None:
    cursor = None
    for _ in range(20):
        cursor = queries.list_records(ctx, "contact", cursor=cursor).next_cursor


def workloads(ids: list[str]) -> dict[str, Callable[[Any], object]]:
    filters = [queries.Filter("city", "eq", "Ogdenville")]
    return {
        "list first page": lambda ctx: queries.list_records(ctx, "contact"),
        "list sorted by last name": lambda ctx: queries.list_records(
            ctx, "contact", sort="last_name"
        ),
        "list 20th page (cursor)": twentieth_page,
        "list filtered (city)": lambda ctx: queries.list_records(ctx, "contact", filters=filters),
        "search": lambda ctx: queries.list_records(ctx, "contact", search="Person12"),
        "get x50": lambda ctx: [queries.get(ctx, "contact", rid) for rid in ids],
    }


def run(sizes: list[int], backends: list[str], repeat: int) -> None:
    rows: list[list[str]] = []
    for backend in backends:
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp, fresh_database(backend, "vis") as url:
                settings = Settings(database_url=url, workspace=workspace_file(Path(tmp)))
                rt = Runtime.from_settings(settings)
                rt.start()
                try:
                    began = time.perf_counter()
                    actors = load(rt, n)
                    print(f"  {backend} {n:,}: loaded in {time.perf_counter() - began:.1f}s")
                    if backend == "postgresql":
                        # what autovacuum does on its own shortly after a load this size: without
                        # statistics the planner guesses, and would be measured guessing
                        with rt.db.engine.connect() as conn:
                            conn.exec_driver_sql("ANALYZE")
                    with rt.reading(actors["owner"]) as ctx:
                        page = queries.list_records(ctx, "contact", limit=50)
                        ids = [r.id for r in page.records]
                    results = {
                        name: latencies(rt, actors, work, repeat)
                        for name, work in workloads(ids).items()
                    }
                finally:
                    rt.close()
            for name, by_mode in results.items():
                base = by_mode["everyone"]
                rows.append(
                    [
                        backend,
                        f"{n:,}",
                        name,
                        f"{base * 1000:.2f} ms",
                        f"{by_mode['team'] * 1000:.2f} ms ({by_mode['team'] / base:.2f}x)",
                        f"{by_mode['owner'] * 1000:.2f} ms ({by_mode['owner'] / base:.2f}x)",
                    ]
                )
    print_table(
        f"Contact queries by visibility, median of {repeat} (goal: owner within 1.5x of everyone)",
        ["backend", "records", "query", "everyone", "team", "owner"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable; running SQLite only")
        backends = [b for b in backends if b != "postgresql"]
    run([int(s) for s in args.sizes.split(",")], backends, args.repeat)


if __name__ == "__main__":
    main()
