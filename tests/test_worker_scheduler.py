"""Periodic jobs (every N seconds, one run at a time across workers, failures recorded), and the
workspace's webhook destinations."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from plumb.core.clock import FixedClock
from plumb.core.context import Ctx
from plumb.core.errors import PlumbError
from plumb.models.worker import WorkerJob
from plumb.runtime import Runtime
from plumb.worker.runner import Worker
from plumb.worker.scheduler import JobRegistry, _claim, run_due_jobs
from plumb.worker.webhooks import DestinationRefused, check_destination
from plumb.workspace.loader import default_text, load_workspace
from plumb.workspace.webhooks import Webhooks


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


def test_the_workspace_refuses_an_endpoint_outside_the_allowed_hosts(tmp_path: Path) -> None:
    path = tmp_path / "plumb.yaml"
    path.write_text(
        default_text()
        + """
webhooks:
  allowed_hosts: ["hooks.example.com", "*.erp.example.net"]
  endpoints:
    good:
      url: https://a.erp.example.net/in
      secret_env: GOOD_SECRET
    evil:
      url: https://attacker.example.org/in
      secret_env: EVIL_SECRET
"""
    )
    with pytest.raises(PlumbError) as caught:
        load_workspace(path)
    assert "'attacker.example.org' is not in webhooks.allowed_hosts" in str(caught.value)


def test_internal_addresses_are_refused_unless_their_network_is_allowed() -> None:
    closed = Webhooks(allowed_hosts=["10.1.2.3", "127.0.0.1", "*.example.com"])
    assert closed.host_allowed("a.example.com") and not closed.host_allowed("example.com")
    for literal in ("10.1.2.3", "127.0.0.1"):
        with pytest.raises(DestinationRefused, match="private, loopback or reserved"):
            check_destination(closed, f"http://{literal}/")
    with pytest.raises(DestinationRefused, match=r"not in the workspace's webhooks\.allowed_hosts"):
        check_destination(closed, "http://192.0.2.10/")
    opened = Webhooks(allowed_hosts=["10.1.2.3"], allowed_private_networks=["10.0.0.0/8"])
    assert check_destination(opened, "http://10.1.2.3:8080/x") == "10.1.2.3"
    for address in ("169.254.169.254", "::1", "::ffff:127.0.0.1", "fc00::1", "0.0.0.0"):
        assert not opened.address_allowed(ipaddress.ip_address(address)), address
    assert opened.address_allowed(ipaddress.ip_address("93.184.216.34"))
