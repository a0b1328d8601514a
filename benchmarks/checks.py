"""All built-in checks over many contacts (with their companies), vs a plain COUNT(*) scan of
the same table as the baseline. Rows are loaded by bulk insert of clean rows (the write path
would take far longer at a million); what is measured is the checks.

    python -m benchmarks.checks [--sizes 100000,1000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse

from sqlalchemy import func, select

from benchmarks.bulkdata import NOW, load_contacts
from benchmarks.common import fresh_database, postgres_available, print_table, timed
from plumb.core.actor import system_actor
from plumb.core.clock import FixedClock
from plumb.core.db import Database
from plumb.core.settings import Settings
from plumb.models import Contact
from plumb.quality.engine import run_checks
from plumb.runtime import Runtime
from plumb.workspace.loader import load_workspace


def run(backend: str, size: int) -> list[str]:
    with fresh_database(backend, f"checks{size}") as url:
        load_contacts(url, size)
        rt = Runtime(
            settings=Settings(database_url=url),
            db=Database(url),
            loaded=load_workspace(None),
            clock=FixedClock(NOW),
        )
        try:
            with rt.reading(system_actor()) as ctx:
                scan = timed(lambda: ctx.session.scalar(select(func.count()).select_from(Contact)))
                found: list[int] = []
                contact = timed(
                    lambda: found.append(
                        sum(s.records for s in run_checks(ctx, obj="contact", limit=100).summary)
                    )
                )
                everything = timed(lambda: run_checks(ctx, limit=100))
        finally:
            rt.close()
    return [
        backend,
        f"{size:,}",
        f"{scan:.2f} s",
        f"{contact:.2f} s",
        f"{everything:.2f} s",
        f"{found[0]:,}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL not reachable; skipped")
            continue
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(run(backend, size))
    print_table(
        "all checks over contacts (and their companies)",
        ["backend", "contacts", "COUNT(*)", "contact checks", "all checks", "failures"],
        rows,
    )


if __name__ == "__main__":
    main()
