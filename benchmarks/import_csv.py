"""Importing contacts from CSV vs (a) a raw ``executemany`` of the same rows and (b) the
standardization library calls alone on the same values, measured in the same run.

The import runs the whole path: sniffing, mapping, every row through the operations layer
(standardization, validation, the registered before-write hooks, the hash-chained change log),
external ids, checkpoints. Peak RSS is measured in a child process per size, so sizes do not
share a high-water mark.

    python -m benchmarks.import_csv [--sizes 100000,300000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import random
import resource
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import phonenumbers
import psycopg
import pycountry
from email_validator import validate_email
from nameparser import HumanName

from benchmarks.common import fresh_database, postgres_available, print_table
from plumb.core.actor import system_actor
from plumb.core.db import Database
from plumb.core.settings import Settings
from plumb.runtime import Runtime
from plumb.transfer.importer import plan_import, run_import
from plumb.workspace.loader import load_workspace

HEADER = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Country/Region"]
COUNTRIES = ["United States", "Germany", "France", "GB", "Canada", "Spain"]


def write_file(path: Path, n: int) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(n):
            out.writerow(
                [
                    i,
                    f"First{i}",
                    f"Last{i}",
                    f"person{i}@example.com",
                    f"+1 415 {rnd.randint(200, 999)} {rnd.randint(1000, 9999)}",
                    rnd.choice(COUNTRIES),
                ]
            )


def _import(url: str, path: str, queue: Any) -> None:
    settings = Settings(database_url=url, workspace=Path(tempfile.gettempdir()) / "none.yaml")
    rt = Runtime(settings=settings, db=Database(url), loaded=load_workspace(settings.workspace))
    rt.start()
    actor = system_actor(label="bench")
    start = time.perf_counter()
    with rt.reading(actor) as ctx:
        plan = plan_import(ctx, "contact", Path(path))
    outcome = run_import(rt, actor, plan)
    elapsed = time.perf_counter() - start
    rt.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, outcome.counts.created, peak_kb))


def measure_import(url: str, path: Path) -> tuple[float, int, int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_import, args=(url, str(path), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result  # type: ignore[no-any-return]


def raw_rows(path: Path) -> list[tuple[Any, ...]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for i, (ext, first, last, email, phone, country) in enumerate(reader):
            rows.append(
                (
                    f"R{i:025d}",
                    first,
                    last,
                    email,
                    f'["{email}"]',
                    phone,
                    f'["{phone}"]',
                    country,
                    ext,
                )
            )
    return rows


def measure_raw(url: str, rows: list[tuple[Any, ...]]) -> float:
    """(a): the same rows straight into the contacts table, one executemany per 1,000."""
    sql = (
        "INSERT INTO contacts (id, first_name, last_name, email, emails, phone, phones, country, "
        "created_at, updated_at, created_by, version, archived, custom) VALUES "
        "({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, '2026-01-01', '2026-01-01', 'bench', 1, {f}, '{{}}')"
    )
    start = time.perf_counter()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        stmt = sql.format(p="?", f="0")
        for i in range(0, len(rows), 1000):
            conn.executemany(stmt, [r[:8] for r in rows[i : i + 1000]])
            conn.commit()
        conn.close()
    else:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            stmt = sql.format(p="%s", f="false")
            with conn.cursor() as cur:
                for i in range(0, len(rows), 1000):
                    cur.executemany(stmt, [r[:8] for r in rows[i : i + 1000]])
                    conn.commit()
    return time.perf_counter() - start


def measure_libraries(rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """(b): phonenumbers parse+format, email-validator, pycountry lookup per row; and apart,
    nameparser on the full name (the import does not call it when first and last names come
    in their own columns, as here, so it is reported separately)."""
    start = time.perf_counter()
    for r in rows:
        number = phonenumbers.parse(r[5], "US")
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        validate_email(r[3], check_deliverability=False)
        try:
            pycountry.countries.lookup(r[7])
        except LookupError:
            pycountry.countries.search_fuzzy(r[7])
    libs = time.perf_counter() - start
    start = time.perf_counter()
    for r in rows:
        HumanName(f"{r[1]} {r[2]}")
    return libs, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b != "postgresql" or postgres_available()]
    table: list[list[str]] = []
    for backend in backends:
        base: float | None = None
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "contacts.csv"
                write_file(path, n)
                rows = raw_rows(path)
                with fresh_database(backend, f"raw{n}") as url:
                    raw = measure_raw(url, rows)
                libs, names = measure_libraries(rows)
                del rows
                with fresh_database(backend, f"imp{n}") as url:
                    elapsed, created, peak_kb = measure_import(url, path)
            assert created == n, f"{created} of {n} imported"
            per_row = elapsed / n
            base = base or per_row
            table.append(
                [
                    backend,
                    f"{n:,}",
                    f"{raw:.1f} s",
                    f"{libs:.1f} s + {names:.1f} s",
                    f"{elapsed:.1f} s ({n / elapsed:,.0f}/s)",
                    f"{elapsed / (raw + libs):.2f}x",
                    f"{elapsed / (raw + libs + names):.2f}x",
                    f"{elapsed / raw:.1f}x",
                    f"{per_row / base:.2f}x",
                    f"{peak_kb / 1024:.0f} MB",
                ]
            )
    print_table(
        "import contacts from CSV vs (a) raw executemany + (b) standardization libraries alone",
        [
            "backend",
            "rows",
            "(a) raw",
            "(b) libraries + nameparser",
            "import",
            "import/(a+b)",
            "import/(a+b+names)",
            "import/(a)",
            "cost/row vs first",
            "import peak RSS",
        ],
        table,
    )


if __name__ == "__main__":
    main()
