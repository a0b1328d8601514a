"""Importing contacts from CSV vs (a) a raw ``executemany`` of the same rows and (b) the
standardization library calls alone on the same values, measured in the same run.

The import runs the whole path: sniffing, mapping, every row through the operations layer
(standardization, validation, the registered before-write hooks, the hash-chained change log),
external ids, checkpoints, with ``--workers`` processes standardizing the next batch while the
current one is written. It runs in a child process per size, so sizes do not share a
high-water mark: peak RSS (``PeakMemory``) of the importing process and of its largest worker,
and the CPU seconds each side used (on a machine shared with other work, the split of CPU
time says more than the wall clock). (a) and (b) are measured before the import and again
after it, and the ratios use their mean: the last column says how far the machine's speed
moved meanwhile (1.00: not at all).

    python -m benchmarks.import_csv [--sizes 100000,300000] [--backends sqlite,postgresql]
        [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import random
import resource
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
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
from plumb.transfer.standardizing import default_workers
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


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _status_kb(pid: int | str, field: str) -> int:
    """A ``/proc/PID/status`` memory figure in kB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants() -> dict[int, float]:
    """This process's descendants (the fork server and the standardizing workers it forked)
    with the CPU seconds each has used so far, from ``/proc``."""
    parents: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    found: dict[int, float] = {}
    level = [os.getpid()]
    while level:
        level = [pid for pid, (parent, _) in parents.items() if parent in level]
        found.update({pid: parents[pid][1] for pid in level})
    return found


class PeakMemory:
    """Peak RSS of this process and of its largest descendant (the standardizing workers),
    and the CPU time its descendants used.

    ``getrusage``'s ``ru_maxrss`` will not do: Linux keeps a process's high-water mark across
    ``exec``, so a process spawned by a parent holding the benchmark's rows in memory reports
    the parent's size (the first version of this benchmark showed 856 MB "main" at 1M rows
    that way). ``VmHWM`` belongs to the image that runs now; the workers' current RSS is
    sampled, as their own ``VmHWM`` is gone with them. The workers are not this process's
    children but the fork server's, so ``RUSAGE_CHILDREN`` does not count them: their CPU
    time is sampled too (what a worker used in its last quarter second is missed)."""

    def __init__(self) -> None:
        self.worker_kb = 0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            for pid, cpu in _descendants().items():
                self.worker_kb = max(self.worker_kb, _status_kb(pid, "VmRSS"))
                self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)

    @property
    def worker_cpu(self) -> float:
        return sum(self._cpu.values())

    @property
    def main_kb(self) -> int:
        return _status_kb("self", "VmHWM")


def _import(url: str, path: str, workers: int, queue: Any) -> None:
    settings = Settings(database_url=url, workspace=Path(tempfile.gettempdir()) / "none.yaml")
    rt = Runtime(settings=settings, db=Database(url), loaded=load_workspace(settings.workspace))
    rt.start()
    actor = system_actor(label="bench")
    cpu_before = _cpu(resource.getrusage(resource.RUSAGE_SELF))
    start = time.perf_counter()
    with PeakMemory() as memory:
        with rt.reading(actor) as ctx:
            plan = plan_import(ctx, "contact", Path(path))
        outcome = run_import(rt, actor, plan, workers=workers)
        elapsed = time.perf_counter() - start
    rt.close()
    own = resource.getrusage(resource.RUSAGE_SELF)
    queue.put(
        (
            elapsed,
            outcome.counts.created,
            memory.main_kb,
            memory.worker_kb,
            _cpu(own) - cpu_before,
            memory.worker_cpu,
        )
    )


@dataclass
class ImportRun:
    elapsed: float
    created: int
    peak_kb: int
    worker_peak_kb: int
    main_cpu: float
    worker_cpu: float


def measure_import(url: str, path: Path, workers: int) -> ImportRun:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_import, args=(url, str(path), workers, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return ImportRun(*result)


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
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        stmt = sql.format(p="?", f="0")
        for i in range(0, len(rows), 1000):
            lite.executemany(stmt, [r[:8] for r in rows[i : i + 1000]])
            lite.commit()
        lite.close()
    else:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            stmt = sql.format(p="%s", f="false")
            with conn.cursor() as cur:
                for i in range(0, len(rows), 1000):
                    cur.executemany(stmt, [r[:8] for r in rows[i : i + 1000]])
                    conn.commit()
    return time.perf_counter() - start


def measure_libraries(rows: list[tuple[Any, ...]], *, names: bool = True) -> tuple[float, float]:
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
    if not names:
        return libs, 0.0
    start = time.perf_counter()
    for r in rows:
        HumanName(f"{r[1]} {r[2]}")
    return libs, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=default_workers())
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
                    run = measure_import(url, path, args.workers)
                # The baselines again, after the import: this machine's speed drifts by a
                # fifth within minutes, so the ratios use the mean of before and after.
                rows = raw_rows(path)
                with fresh_database(backend, f"raw{n}") as url:
                    raw_after = measure_raw(url, rows)
                libs_after, _ = measure_libraries(rows, names=False)
                del rows
            assert run.created == n, f"{run.created} of {n} imported"
            drift = (raw_after + libs_after) / (raw + libs)
            raw, libs = (raw + raw_after) / 2, (libs + libs_after) / 2
            elapsed = run.elapsed
            per_row = elapsed / n
            base = base or per_row
            table.append(
                [
                    backend,
                    f"{n:,}",
                    f"{raw:.1f} s",
                    f"{libs:.1f} s (+{names:.1f} s)",
                    f"{elapsed:.1f} s ({n / elapsed:,.0f}/s)",
                    f"{run.main_cpu:.0f} s + {run.worker_cpu:.0f} s",
                    f"{elapsed / raw:.1f}x",
                    f"{elapsed / libs:.2f}x",
                    f"{elapsed / (raw + libs):.2f}x",
                    f"{per_row / base:.2f}x",
                    f"{run.peak_kb / 1024:.0f} MB / {run.worker_peak_kb / 1024:.0f} MB",
                    f"{drift:.2f}",
                ]
            )
            print("  ".join(table[-1]), flush=True)  # each size as soon as it is measured
    print_table(
        f"import contacts from CSV ({args.workers} standardizing workers) vs (a) raw "
        "executemany and (b) the standardization libraries alone (nameparser apart)",
        [
            "backend",
            "rows",
            "(a) raw",
            "(b) libraries (+names)",
            "import",
            "CPU main + workers",
            "import/(a)",
            "import/(b)",
            "import/(a+b)",
            "cost/row vs first",
            "peak RSS main / worker",
            "(a)+(b) after / before",
        ],
        table,
    )


if __name__ == "__main__":
    main()
