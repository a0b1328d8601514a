"""Reading and standardizing an import's rows ahead of its writes, on every core.

Standardization (phonenumbers, email-validator, pycountry, ...) is pure CPU work and needs no
database, so while the main process writes batch *k* through the operations layer, a pool of
worker processes turns the cells of batches *k+1* and *k+2* into field values
(``RowReader.read``) and standardizes them (``records.prepare.clean_ahead``). The main process
hands the results to ``external_ids.upsert_many(cleaned=...)``, which validates, checks identity
and writes the change log as for any write, without standardizing those values a second time.

With one worker (``PLUMB_IMPORT_WORKERS=1``) the very same functions run in the main process,
so the records and the error file of an import do not depend on the setting. The first batch
is always prepared in the main process: an import of one batch never starts the pool. The
pool is started by a thread beside the import, and batches are prepared in the main process
until its workers are up (starting them takes about a second, which the import used to spend
waiting).

Workers are forked from multiprocessing's fork server, a clean process started once per
importing process that has already imported this module and the standardization libraries
(``PRELOAD``): a worker starts in milliseconds instead of importing them again (over a
second of CPU per worker), and the importing process's threads and database connections are
never forked. Each worker watches the importing process and exits as soon as it is gone,
even after ``kill -9``; the server ends once the importing process and its workers have.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from plumb.core import collector
from plumb.identity.plan import Plan, plan_for
from plumb.records.fields import schema_for, to_json
from plumb.records.prepare import Cleaned, clean_ahead
from plumb.transfer.mapping import Mapping
from plumb.transfer.rows import RowInput, RowReader
from plumb.workspace.schema import Workspace

log = logging.getLogger("plumb.transfer")

Cells = list[tuple[int, list[str]]]
"""A batch of rows as read from the file: (row number, cells)."""
Prepared = list[tuple[RowInput, Cleaned | None]]
"""Each row's field values and what standardizing them ahead gave (None: refused already)."""

IMPORTER_CHECK_SECONDS = 0.2
PRELOAD = ["__main__", __name__]
"""Imported by the fork server before it forks a worker (``__main__``: the program running,
which each worker would otherwise import again)."""
LOOKAHEAD = 2
"""Batches prepared ahead of the one being written."""
WORKER_NICENESS = 10
"""Workers run at a lower priority than the importing process and the database server: they
work ahead, while those two are the import's critical path, so on a busy machine the CPU goes
to them first (and to whatever else the machine serves, such as the web app's requests). On
PostgreSQL with 2 cores, 50k contacts: about 7% faster on average over eight paired runs."""


def default_workers() -> int:
    return os.cpu_count() or 1


def prepare_rows(reader: RowReader, ws: Workspace, rows: Cells) -> Prepared:
    """Cells to field values, those standardized, and the blocking keys of the result (for the
    duplicate check at entry): what the workers run on each chunk."""
    plan = plan_for(ws, reader.sch.object)
    out: Prepared = []
    for number, cells in rows:
        item = reader.read(number, cells, str(number))
        ahead = None if item.problems else clean_ahead(ws, reader.sch.object, item.values)
        if ahead is not None and plan is not None:
            ahead.blocking_keys = plan.compute_keys(_key_values(plan, ahead.values))
        out.append((item, ahead))
    return out


def _key_values(plan: Plan, values: dict[str, Any]) -> dict[str, Any]:
    """The values the blocking rules read, in the JSON form the write path gives them."""
    return {name: to_json(values.get(name)) for name in plan.key_fields}


def _remember_keys(plan: Plan | None, prepared: Prepared) -> None:
    """Hand the keys a worker computed to this process's memo (``Plan.keys``), so the write
    path finds them instead of computing them again."""
    if plan is None:
        return
    for _, ahead in prepared:
        if ahead is not None and ahead.blocking_keys is not None:
            plan.remember(*ahead.blocking_keys)


# -- in a worker process -------------------------------------------------------------------------

_worker: dict[str, Any] = {}
"""The worker process's reader and workspace, set once by ``_start_worker``."""


def _start_worker(ws: Workspace, mapping: Mapping, header: list[str], importer: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    collector.for_this_process()
    if hasattr(os, "nice"):  # not on Windows
        os.nice(WORKER_NICENESS)
    _worker["ws"] = ws
    _worker["reader"] = RowReader(schema_for(ws, mapping.object), mapping, header)
    threading.Thread(target=_exit_with, args=(importer,), daemon=True).start()


def _exit_with(importer: int) -> None:
    """Exit once the importing process is gone. It is not this worker's parent (the fork
    server is), and the server lives as long as any worker does, so the worker asks after
    the importing process itself."""
    while _alive(importer):
        time.sleep(IMPORTER_CHECK_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return True  # no /proc: the signal check is all there is


def _prepare_chunk(rows: Cells) -> Prepared:
    return prepare_rows(_worker["reader"], _worker["ws"], rows)


# -- in the main process -------------------------------------------------------------------------


class _Job:
    """One batch: prepared by the pool once submitted, else in the main process when asked."""

    def __init__(self, rows: Cells) -> None:
        self.rows = rows
        self.futures: list[Future[Prepared]] | None = None

    def result(self, reader: RowReader, ws: Workspace, plan: Plan | None) -> Prepared:
        out: Prepared = []
        if self.futures is None:
            out = prepare_rows(reader, ws, self.rows)
        for future in self.futures or ():
            out += future.result()
        _remember_keys(plan, out)
        return out


class RowPipeline:
    """Yields each batch prepared, while the pool prepares the next one."""

    def __init__(self, ws: Workspace, mapping: Mapping, header: list[str], workers: int) -> None:
        self.ws = ws
        self.mapping = mapping
        self.header = header
        self.workers = max(1, workers)
        self.reader = RowReader(schema_for(ws, mapping.object), mapping, header)
        self.plan = plan_for(ws, mapping.object)
        self._pool: ProcessPoolExecutor | None = None
        """Set by ``_start`` (in a thread) once every worker has started."""
        self._starter: threading.Thread | None = None
        self.rows_to_workers = 0
        """Rows handed to the workers so far (the others were prepared in this process)."""
        self._start_failed: BaseException | None = None

    def __enter__(self) -> RowPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._starter is not None:
            self._starter.join()
        if self._start_failed is not None and exc[0] is None:  # this process prepared them all
            log.warning("the import's worker processes did not start: %s", self._start_failed)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def prepared(self, batches: Iterator[Cells]) -> Iterator[tuple[Cells, Prepared]]:
        """Each batch with its rows prepared. The first is prepared here (an import of one
        batch never starts the pool); after it, the pool keeps ``LOOKAHEAD`` batches in
        preparation while the current one is written, so a batch that is slow to write (a
        PostgreSQL round trip) or to prepare does not leave the other side idle."""
        pending: deque[_Job] = deque()
        for rows in batches:
            job = _Job(rows)
            if pending and self.workers > 1:
                self._submit(job)
            pending.append(job)
            if len(pending) > LOOKAHEAD:
                done = pending.popleft()
                yield done.rows, done.result(self.reader, self.ws, self.plan)
        while pending:
            done = pending.popleft()
            yield done.rows, done.result(self.reader, self.ws, self.plan)

    def wait_for_workers(self) -> None:
        """Start the workers if they are not starting yet, and return once they are up (from
        then on every batch but the first is prepared by them)."""
        self._start_in_background()
        if self._starter is not None:
            self._starter.join()
        if self._start_failed is not None:
            raise self._start_failed

    def _start_in_background(self) -> None:
        if self._starter is None and self.workers > 1:
            self._starter = threading.Thread(target=self._start, name="import-pool-start")
            self._starter.start()

    def _submit(self, job: _Job) -> None:
        """Hand ``job`` to the pool if its workers are up; otherwise start them (once) and
        leave ``job`` to the main process."""
        if self._start_failed is not None:
            raise self._start_failed
        pool = self._pool
        if pool is None:
            self._start_in_background()
            return
        self.rows_to_workers += len(job.rows)
        size = -(-len(job.rows) // self.workers)
        job.futures = [
            pool.submit(_prepare_chunk, job.rows[i : i + size])
            for i in range(0, len(job.rows), size)
        ]

    def _start(self) -> None:
        """Start the pool and every worker (the executor starts one per task while none is
        idle), then make it available to ``_submit``."""
        try:
            context: BaseContext
            if "forkserver" in multiprocessing.get_all_start_methods():
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)  # no effect once the server runs
            else:  # Windows: each worker imports what it needs itself
                context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.ws, self.mapping, self.header, os.getpid()),
            )
        except BaseException as exc:  # raised by the import at its next batch
            self._start_failed = exc
            return
        try:
            for started in [pool.submit(os.getpid) for _ in range(self.workers)]:
                started.result()
        except BaseException as exc:
            pool.shutdown(wait=True, cancel_futures=True)
            self._start_failed = exc
            return
        self._pool = pool
