"""The pipeline report vs a plain SQL GROUP BY of the same rows, and the as-of pipeline over a
large change history. Rows are loaded by bulk insert of clean rows (the write path would take
hours at this size); what is measured is reading.

    python -m benchmarks.reports [--sizes 100000,1000000] [--changes 10] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from statistics import median

from sqlalchemy import func, select

from benchmarks.bulkdata import NOW, load_deals
from benchmarks.common import fresh_database, postgres_available, print_table, timed
from plumb.core.actor import system_actor
from plumb.core.clock import FixedClock
from plumb.core.db import Database
from plumb.core.settings import Settings
from plumb.models import Deal
from plumb.reports.pipeline import pipeline
from plumb.runtime import Runtime
from plumb.workspace.loader import load_workspace


def run(backend: str, size: int, changes: int) -> tuple[list[str], float, float]:
    """One size on one backend: the table row, the report's and the as-of report's time."""
    with fresh_database(backend, f"reports{size}") as url:
        entries = load_deals(url, size, changes)
        settings = Settings(database_url=url)
        rt = Runtime(
            settings=settings, db=Database(url), loaded=load_workspace(None), clock=FixedClock(NOW)
        )
        try:
            with rt.reading(system_actor()) as ctx:
                # Median of three, alternating, so a busy moment on a shared machine hits
                # the baseline and the report alike; the as-of report runs once.
                plains, reports = [], []
                for _ in range(3):
                    plains.append(
                        timed(
                            lambda: ctx.session.execute(
                                select(
                                    Deal.pipeline, Deal.stage, func.count(), func.sum(Deal.amount)
                                )
                                .where(Deal.archived.is_(False))
                                .group_by(Deal.pipeline, Deal.stage)
                            ).all()
                        )
                    )
                    reports.append(timed(lambda: pipeline(ctx)))
                plain, report = median(plains), median(reports)
                past = timed(lambda: pipeline(ctx, as_of=NOW - timedelta(days=90)))
        finally:
            rt.close()
    return (
        [
            backend,
            f"{size:,}",
            f"{entries:,}",
            f"{plain:.2f} s",
            f"{report:.2f} s",
            f"{report / plain:.1f}x",
            f"{past:.2f} s",
        ],
        report,
        past,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL not reachable; skipped")
            continue
        first: tuple[float, float] | None = None
        for size in (int(s) for s in args.sizes.split(",")):
            row, report, past = run(backend, size, args.changes)
            first = first or (report, past)
            row += [f"{report / first[0]:.1f}x", f"{past / first[1]:.1f}x"]
            rows.append(row)
    print_table(
        "pipeline report (with integrity annotations) vs plain GROUP BY; as-of pipeline",
        [
            "backend",
            "deals",
            "log entries",
            "GROUP BY",
            "report",
            "ratio",
            "as-of report",
            "report growth",
            "as-of growth",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
