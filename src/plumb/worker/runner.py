"""The worker loop: run due jobs, claim a batch, deliver each message, record each outcome.

``plumb worker`` runs it in the foreground (several processes on PostgreSQL share the work);
``plumb serve`` on SQLite runs one in a background thread that stops with the server.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from plumb.core.ids import new_id
from plumb.runtime import Runtime
from plumb.worker.claims import Claim, claim_due, record_outcome, release
from plumb.worker.email import send_email
from plumb.worker.outcome import Outcome, Refused, Retry
from plumb.worker.scheduler import JobRegistry, default_jobs, run_due_jobs
from plumb.worker.webhooks import send_webhook

log = logging.getLogger("plumb.worker")


@dataclass
class Tally:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    jobs: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        self.jobs += other.jobs


def worker_name() -> str:
    """Unique per worker: host, process, and a random tail (several workers per process)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{new_id()[-6:]}"


class Worker:
    def __init__(
        self,
        rt: Runtime,
        *,
        batch: int = 50,
        jobs: JobRegistry | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.rt = rt
        self.batch = batch
        self.jobs = jobs if jobs is not None else default_jobs()
        self.name = name or worker_name()
        self.rng = rng or random.Random()
        self.stopping = threading.Event()

    def deliver(self, claim: Claim) -> Outcome:
        rt = self.rt
        if claim.channel == "email":
            return send_email(
                rt.settings, claim.id, claim.destination, claim.payload, rt.clock.now()
            )
        if claim.channel == "webhook":
            return send_webhook(
                rt.loaded.workspace.webhooks,
                claim.id,
                claim.destination,
                claim.payload,
                rt.clock.now(),
                rt.settings.webhook_timeout_seconds,
            )
        return Refused(f"unknown channel {claim.channel!r}")

    def run_once(self) -> Tally:
        """Run the due jobs, then claim one batch and deliver it."""
        rt = self.rt
        tally = Tally(jobs=run_due_jobs(rt, self.jobs, self.name))
        claims = claim_due(rt.db, rt.clock, rt.settings, self.name, self.batch)
        tally.claimed = len(claims)
        for index, claim in enumerate(claims):
            if self.stopping.is_set():
                release(rt.db, rt.clock, claims[index:])
                break
            try:
                outcome = self.deliver(claim)
            except Exception as exc:  # a bug in a channel: recorded on the message, retried
                log.exception("outbox %s: delivery raised", claim.id)
                outcome = Retry(f"unexpected {type(exc).__name__}: {exc}")
            status = record_outcome(rt.db, rt.clock, rt.settings, claim, outcome, self.rng)
            if status == "delivered":
                tally.delivered += 1
            elif status == "dead":
                tally.dead += 1
                log.warning("outbox %s is dead: %s", claim.id, getattr(outcome, "error", ""))
            elif status == "pending":
                tally.retried += 1
        return tally

    def drain(self) -> Tally:
        """Deliver until nothing is due (``plumb worker --once``)."""
        total = Tally()
        while not self.stopping.is_set():
            tally = self.run_once()
            total.add(tally)
            if tally.claimed == 0:
                break
        return total

    def run(self) -> None:
        """Deliver until ``stop()``; when nothing was due, wait the poll interval."""
        poll = self.rt.settings.worker_poll_seconds
        log.info("worker %s started", self.name)
        while not self.stopping.is_set():
            try:
                tally = self.run_once()
            except OperationalError as exc:
                # The database is unreachable or busy: nothing was claimed; look again later.
                log.error("worker %s: database error, retrying in %ss: %s", self.name, poll, exc)
                self.stopping.wait(poll)
                continue
            if tally.claimed == 0:
                self.stopping.wait(poll)
        log.info("worker %s stopped", self.name)

    def stop(self) -> None:
        self.stopping.set()


class WorkerThread:
    """A worker in a background thread of the server process (``plumb serve`` on SQLite)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, name="plumb-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the worker to stop after the message in hand, and wait for it."""
        self.worker.stop()
        self.thread.join(timeout)
