"""Periodic jobs: named callables run every N seconds inside the worker.

Each job has a row in ``worker_jobs``. A worker starts a job only when it takes that row (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time), finds it due, and no other
worker's lease on it is running; it then commits a lease, runs the job in its own transaction,
and writes when it is next due and the error of the run, if any. So across any number of
workers a job runs one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from plumb.automation.timed import run_due
from plumb.core.actor import Source, system_actor
from plumb.core.context import Ctx
from plumb.models.worker import WorkerJob
from plumb.runtime import Runtime

log = logging.getLogger("plumb.worker")

JobFunction = Callable[[Ctx], object]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: JobFunction
    lease_seconds: float = 600
    """How long a run may take before another worker may start the job again."""


class JobRegistry:
    """The worker's jobs, by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(
        self, name: str, every_seconds: float, run: JobFunction, *, lease_seconds: float = 600
    ) -> Job:
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        if every_seconds <= 0:
            raise ValueError("every_seconds must be positive")
        job = Job(name, every_seconds, run, lease_seconds)
        self._jobs[name] = job
        return job

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)


TIMED_RULES_EVERY = 60.0
"""Seconds between evaluations of time-based rules (each firing is idempotent)."""


def default_jobs() -> JobRegistry:
    """The jobs every worker runs: time-based rules (date triggers, inactivity) every minute."""
    jobs = JobRegistry()
    jobs.register("timed_rules", TIMED_RULES_EVERY, _timed_rules)
    return jobs


def _timed_rules(ctx: Ctx) -> None:
    run_due(ctx)


def run_due_jobs(rt: Runtime, jobs: JobRegistry, worker: str) -> list[str]:
    """Run every job that is due and not running elsewhere; the names of those run."""
    ran = []
    for job in jobs:
        started = _claim(rt, job, worker)
        if started is None:
            continue
        error: str | None = None
        try:
            with rt.transaction(system_actor(Source.SYSTEM, f"job {job.name}")) as ctx:
                job.run(ctx)
        except Exception as exc:  # recorded on the job's row below, and logged: not skipped
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s failed", job.name)
        _finish(rt, job, worker, started, error)
        ran.append(job.name)
    return ran


def _claim(rt: Runtime, job: Job, worker: str) -> datetime | None:
    """Take the job's lease when it is due and free; the start time, or None."""
    now = rt.clock.now()
    query = (
        select(WorkerJob.next_run_at, WorkerJob.lease_until)
        .where(WorkerJob.name == job.name)
        .with_for_update(skip_locked=True)
    )
    with rt.db.write_session() as session:
        row = session.execute(query).one_or_none()
        if row is None:
            insert = postgresql.insert if rt.db.dialect == "postgresql" else sqlite.insert
            session.execute(
                insert(WorkerJob).values(name=job.name, next_run_at=now).on_conflict_do_nothing()
            )
            row = session.execute(query).one_or_none()
        if row is None or row.next_run_at > now:
            return None
        if row.lease_until is not None and row.lease_until > now:
            return None
        session.execute(
            update(WorkerJob)
            .where(WorkerJob.name == job.name)
            .values(
                lease_until=now + timedelta(seconds=job.lease_seconds),
                claimed_by=worker,
                last_started_at=now,
            )
        )
    return now


def _finish(rt: Runtime, job: Job, worker: str, started: datetime, error: str | None) -> None:
    with rt.db.write_session() as session:
        session.execute(
            update(WorkerJob)
            .where(WorkerJob.name == job.name, WorkerJob.claimed_by == worker)
            .values(
                next_run_at=started + timedelta(seconds=job.every_seconds),
                lease_until=None,
                claimed_by=None,
                last_finished_at=rt.clock.now(),
                last_error=error,
            )
        )
