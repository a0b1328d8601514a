"""Periodic jobs: run every N seconds, one run at a time across workers, failures recorded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from plumb.core.clock import FixedClock
from plumb.core.context import Ctx
from plumb.models.worker import WorkerJob
from plumb.runtime import Runtime
from plumb.worker.runner import Worker
from plumb.worker.scheduler import JobRegistry, _claim, run_due_jobs


def job_row(rt: Runtime, name: str) -> WorkerJob:
    with rt.db.read_session() as session:
        row = session.scalars(select(WorkerJob).where(WorkerJob.name == name)).one()
        session.expunge(row)
        return row


def test_a_job_runs_every_interval_once_across_workers(rt: Runtime, clock: FixedClock) -> None:
    runs: list[str] = []

    def tick(ctx: Ctx) -> None:
        runs.append(ctx.actor.label)

    jobs = JobRegistry()
    jobs.register("tick", 60, tick)
    one, two = Worker(rt, jobs=jobs, name="one"), Worker(rt, jobs=jobs, name="two")

    assert one.run_once().jobs == ["tick"]
    assert two.run_once().jobs == [], "the second worker ran a job that is not due"
    clock.advance(seconds=59)
    assert one.run_once().jobs == [] and two.run_once().jobs == []
    clock.advance(seconds=1)
    assert two.run_once().jobs == ["tick"]
    assert one.run_once().jobs == []
    assert runs == ["job tick", "job tick"]
    row = job_row(rt, "tick")
    assert row.last_error is None and row.lease_until is None
    assert row.next_run_at == clock.now() + timedelta(seconds=60)


def test_a_running_job_is_not_started_elsewhere_until_its_lease_passes(
    rt: Runtime, clock: FixedClock
) -> None:
    runs: list[int] = []
    jobs = JobRegistry()
    job = jobs.register("sweep", 10, lambda ctx: runs.append(1), lease_seconds=300)

    # Worker "gone" takes the lease and dies without finishing.
    assert _claim(rt, job, "gone") == clock.now()
    clock.advance(seconds=60)
    assert run_due_jobs(rt, jobs, "other") == []
    clock.advance(seconds=241)
    assert run_due_jobs(rt, jobs, "other") == ["sweep"]
    assert runs == [1]


def test_a_failing_job_records_its_error_and_runs_again_next_time(
    rt: Runtime, clock: FixedClock
) -> None:
    calls: list[int] = []

    def flaky(ctx: Ctx) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the rule's input is missing")

    jobs = JobRegistry()
    jobs.register("flaky", 30, flaky)
    worker = Worker(rt, jobs=jobs, name="w")
    worker.run_once()
    row = job_row(rt, "flaky")
    assert row.last_error == "RuntimeError: the rule's input is missing"
    assert row.lease_until is None
    clock.advance(seconds=30)
    worker.run_once()
    assert calls == [1, 1]
    assert job_row(rt, "flaky").last_error is None
