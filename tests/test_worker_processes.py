"""``plumb worker`` as real processes: killed mid-delivery and restarted, and two of them
sharing 10,000 messages on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plumb.core.clock import Clock
from plumb.core.db import Database
from plumb.models.outbox import OutboxMessage
from plumb.outbox import enqueue
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text
from tests.conftest import operator
from tests.worker_receivers import SECRET, WebhookReceiver, wait_for


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def workspace(tmp_path: Path, receiver: WebhookReceiver) -> Path:
    path = tmp_path / "plumb.yaml"
    path.write_text(
        default_text()
        + f"""
webhooks:
  allowed_hosts: ["127.0.0.1"]
  allowed_private_networks: ["127.0.0.1/32"]
  endpoints:
    sink:
      url: {receiver.url}
      secret_env: PLUMB_TEST_HOOK_SECRET
"""
    )
    return path


def start_worker(
    database_url: str, workspace: Path, *args: str, lease: float = 3
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PLUMB_DATABASE_URL": database_url,
        "PLUMB_WORKSPACE": str(workspace),
        "PLUMB_CHAIN_LANES": "4",
        "PLUMB_TEST_HOOK_SECRET": SECRET,
        "PLUMB_OUTBOX_LEASE_SECONDS": str(lease),
        "PLUMB_WORKER_POLL_SECONDS": "0.05",
        "PLUMB_LOG_LEVEL": "warning",
    }
    env.pop("PLUMB_CLI_USER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "plumb", "worker", *args], env=env, stdin=subprocess.DEVNULL
    )


def count(db: Database, status: str) -> int:
    with db.read_session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == status)
            )
            or 0
        )


def enqueue_many(rt: Runtime, n: int) -> list[str]:
    with rt.transaction(operator()) as ctx:
        ids = [enqueue(ctx, "webhook", "sink", {"n": i}) for i in range(n)]
    return [i for i in ids if i is not None]


def test_a_worker_killed_mid_delivery_loses_nothing_and_delivers_each_once(
    rt: Runtime, database_url: str, workspace: Path, receiver: WebhookReceiver
) -> None:
    # The worker processes run on real time: enqueue on it too.
    rt.clock = Clock()
    ids = enqueue_many(rt, 20)
    receiver.block_at = 5
    first = start_worker(database_url, workspace, "--batch", "50")
    try:
        wait_for(receiver.blocked.is_set, "the fifth delivery to be in flight")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    receiver.release.set()
    in_flight = [i for i in receiver.processed if receiver.counts()[i] == 1][-1:]
    assert len(receiver.processed) == 5
    assert count(rt.db, "delivered") == 4, "the in-flight delivery was recorded"

    second = start_worker(database_url, workspace)
    try:
        wait_for(lambda: count(rt.db, "delivered") == 20, "every message to be delivered")
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, "the worker did not stop cleanly on SIGTERM"
    finally:
        if second.poll() is None:
            second.kill()

    counts = receiver.counts()
    assert set(receiver.processed) == set(ids), "a message was lost"
    assert all(r["valid"] for r in receiver.requests)
    duplicates = {i for i, c in counts.items() if c > 1}
    assert duplicates == set(in_flight), "only the message in flight may arrive twice"
    assert counts[in_flight[0]] == 2
    with rt.db.read_session() as session:
        attempts = dict(session.execute(select(OutboxMessage.id, OutboxMessage.attempts)).all())
    # The killed worker's claim counted an attempt for the whole batch it held.
    assert attempts[in_flight[0]] == 2
    assert sorted(attempts.values()) == [1] * 4 + [2] * 16


@pytest.mark.slow
def test_two_workers_on_postgresql_share_10000_messages_without_duplicates(
    rt: Runtime, database_url: str, workspace: Path, receiver: WebhookReceiver
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several worker processes share the outbox on PostgreSQL")
    rt.clock = Clock()
    ids = enqueue_many(rt, 10_000)
    workers = [start_worker(database_url, workspace, "--batch", "100", lease=600) for _ in range(2)]
    try:
        wait_for(lambda: count(rt.db, "delivered") == 10_000, "10,000 deliveries", limit=900)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        assert [w.wait(60) for w in workers] == [0, 0]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    counts = receiver.counts()
    assert len(counts) == 10_000 and set(counts) == set(ids)
    assert max(counts.values()) == 1, "a message was delivered twice"
    assert all(r["valid"] for r in receiver.requests)
    with rt.db.read_session() as session:
        by_worker = dict(
            session.execute(
                select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by)
            ).all()
        )
    assert len(by_worker) == 2, f"one worker did all the work: {by_worker}"
