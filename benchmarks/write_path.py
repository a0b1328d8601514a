"""Write path: bulk-creating contacts through the operations layer vs a raw executemany.

Both sides insert the same N contacts in batches of BATCH rows, one transaction per batch, into
a fresh database. The operations layer does everything a real write does: cleaning and
standardization of every field, picklist synonyms and stage resolution, stage-gate and
reference checks, the change-log entry with its hash chain, and external ids. The baseline is
the database driver's own ``executemany`` of the already-clean rows into the same table.

    python -m benchmarks.write_path [--sizes 10000,100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import fresh_database, postgres_available, print_table
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.db import make_unpooled_engine
from plumb.core.ids import new_ids
from plumb.core.settings import Settings
from plumb.records import operations as ops
from plumb.runtime import Runtime

BATCH = 1000
FIRST = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Radia", "Edsger", "Frances", "Alan", "Joan"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Perlman", "Dijkstra", "Allen"]


def messy_contacts(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """Input as it arrives: padded names, mixed-case e-mails, phones typed every which way."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        area, mid, end = rng.randint(201, 989), rng.randint(200, 989), rng.randint(1000, 9999)
        out.append(
            {
                "first_name": f" {first} ",
                "last_name": last,
                "email": f"{first}.{last}{i}@Example.COM",
                "phone": rng.choice((f"({area}) {mid}-{end}", f"+1 {area}.{mid}.{end}")),
                "job_title": rng.choice(("CTO", "Engineer", "Buyer", None)),
                "city": "Springfield",
                "lifecycle_stage": "Lead",
                "lead_source": rng.choice(("web", "online form", "referral")),
            }
        )
    return out


def clean_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same contacts as the columns Plumb stores, for the raw baseline."""
    now = datetime.now(UTC)
    ids = new_ids(len(items))
    rows = []
    for ident, item in zip(ids, items, strict=True):
        email = item["email"].split("@")[0] + "@example.com"
        rows.append(
            {
                "id": ident,
                "created_at": now,
                "updated_at": now,
                "created_by": "bench",
                "version": 1,
                "archived": False,
                "custom": "{}",
                "first_name": item["first_name"].strip(),
                "last_name": item["last_name"],
                "email": email,
                "emails": json.dumps([email]),
                "phone": item["phone"],
                "phones": json.dumps([item["phone"]]),
                "job_title": item["job_title"],
                "city": item["city"],
                "lifecycle_stage": "lead",
                "lead_source": "website",
            }
        )
    return rows


def raw_insert(url: str, rows: list[dict[str, Any]]) -> float:
    """Seconds to insert ``rows`` (connecting is not counted)."""
    engine = make_unpooled_engine(url)
    cols = list(rows[0])
    pg = engine.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    casts = {"custom": "::jsonb", "emails": "::jsonb", "phones": "::jsonb"} if pg else {}
    sql = (
        f"INSERT INTO contacts ({', '.join(cols)}) VALUES "
        f"({', '.join(mark + casts.get(c, '') for c in cols)})"
    )
    raw = engine.raw_connection()
    try:
        began = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            cur = raw.cursor()
            if not pg:
                # Plumb's SQLite connections are in autocommit mode and begin explicitly;
                # without this each row would be its own transaction.
                cur.execute("BEGIN")
            cur.executemany(sql, [tuple(r[c] for c in cols) for r in rows[start : start + BATCH]])
            raw.commit()
        return time.perf_counter() - began
    finally:
        raw.close()
        engine.dispose()


def plumb_insert(url: str, items: list[dict[str, Any]]) -> float:
    """Seconds to create ``items`` (starting the runtime is not counted)."""
    rt = Runtime.from_settings(Settings(database_url=url, workspace="/nonexistent/plumb.yaml"))
    rt.start()
    actor = Actor(kind=ActorKind.IMPORT, source=Source.IMPORT, label="benchmark import")
    try:
        began = time.perf_counter()
        for start in range(0, len(items), BATCH):
            with rt.transaction(actor) as ctx:
                results = ops.create_many(ctx, "contact", items[start : start + BATCH])
                failed = [r for r in results if r.error]
                if failed:
                    raise SystemExit(f"benchmark rows were refused: {failed[0].error}")
        return time.perf_counter() - began
    finally:
        rt.close()


def run(sizes: list[int], backends: list[str], repeats: int = 3) -> None:
    rows_out = []
    for backend in backends:
        per_row: list[float] = []
        for n in sizes:
            items = messy_contacts(n)
            rows = clean_rows(items)
            # The harness's own input data is not the code under test: move it out of the
            # garbage collector's way, for both sides alike.
            gc.collect()
            gc.freeze()
            raws, plumbs = [], []
            for _ in range(repeats if n <= 20_000 else 1):
                with fresh_database(backend, "raw") as url:
                    raws.append(raw_insert(url, rows))
                with fresh_database(backend, "ops") as url:
                    plumbs.append(plumb_insert(url, items))
            raw, plumb = statistics.median(raws), statistics.median(plumbs)
            per_row.append(plumb / n)
            growth = f"{per_row[-1] / per_row[0]:.2f}x" if len(per_row) > 1 else "1.00x"
            rows_out.append(
                [
                    backend,
                    f"{n:,}",
                    f"{raw:.2f}s ({n / raw:,.0f}/s)",
                    f"{plumb:.2f}s ({n / plumb:,.0f}/s)",
                    f"{plumb / raw:.2f}x",
                    growth,
                ]
            )
            print(f"  {backend} {n:,}: raw {raw:.2f}s, plumb {plumb:.2f}s", flush=True)
    print_table(
        f"Bulk create of contacts, batches of {BATCH}, median of {repeats} runs up to 20k rows "
        "(goal: operations layer within 5x of raw)",
        ["backend", "rows", "raw executemany", "operations layer", "ratio", "cost/row vs first"],
        rows_out,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable; running SQLite only")
        backends = [b for b in backends if b != "postgresql"]
    run([int(s) for s in args.sizes.split(",")], backends)


if __name__ == "__main__":
    main()
