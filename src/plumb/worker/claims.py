"""Claiming due outbox messages and recording what each attempt came to.

A claim is committed before anything is sent: it counts the attempt, names the worker and moves
``next_attempt_at`` to the end of a lease. A worker that dies mid-delivery leaves the message
due again when the lease passes, so it is delivered again (at least once); receivers deduplicate
on the message id. An outcome is written only by the worker holding the claim (same worker
name, same attempt number), so a worker whose lease ran out cannot overwrite a later attempt.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from plumb.core.clock import Clock
from plumb.core.db import Database
from plumb.core.settings import Settings
from plumb.models.outbox import OutboxMessage
from plumb.worker.backoff import retry_delay
from plumb.worker.outcome import Delivered, Outcome, Refused

log = logging.getLogger("plumb.worker")

INTERRUPTED = (
    "the worker making the last attempt stopped before recording its outcome (its lease ran "
    "out); whether it was delivered is unknown: replay to send it again"
)


@dataclass(frozen=True)
class Claim:
    id: str
    channel: str
    destination: str
    payload: dict[str, Any]
    attempt: int
    """This attempt's number (1 for the first)."""
    worker: str


def claim_due(
    db: Database, clock: Clock, settings: Settings, worker: str, batch: int
) -> list[Claim]:
    """Claim up to ``batch`` due messages for ``worker`` and commit the claim."""
    now = clock.now()
    lease_end = now + timedelta(seconds=settings.outbox_lease_seconds)
    m = OutboxMessage
    with db.write_session() as session:
        rows = session.execute(
            select(m.id, m.channel, m.destination, m.payload, m.attempts)
            .where(m.status == "pending", m.next_attempt_at <= now)
            .order_by(m.next_attempt_at, m.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        spent = [r.id for r in rows if r.attempts >= settings.outbox_max_attempts]
        live = [r for r in rows if r.attempts < settings.outbox_max_attempts]
        if spent:
            session.execute(
                update(m).where(m.id.in_(spent)).values(status="dead", last_error=INTERRUPTED)
            )
        if live:
            session.execute(
                update(m)
                .where(m.id.in_([r.id for r in live]))
                .values(
                    attempts=m.attempts + 1,
                    next_attempt_at=lease_end,
                    last_attempt_at=now,
                    claimed_by=worker,
                )
            )
    return [Claim(r.id, r.channel, r.destination, r.payload, r.attempts + 1, worker) for r in live]


def record_outcome(
    db: Database,
    clock: Clock,
    settings: Settings,
    claim: Claim,
    outcome: Outcome,
    rng: random.Random,
) -> str | None:
    """Write the attempt's outcome; the message's new status, or None when the claim was lost
    (the lease ran out and another worker took the message)."""
    now = clock.now()
    m = OutboxMessage
    values: dict[str, Any]
    if isinstance(outcome, Delivered):
        values = {"status": "delivered", "delivered_at": now}
    elif isinstance(outcome, Refused) or claim.attempt >= settings.outbox_max_attempts:
        values = {"status": "dead", "last_error": outcome.error}
    else:
        wait = retry_delay(
            claim.attempt,
            base=settings.outbox_backoff_base_seconds,
            cap=settings.outbox_backoff_cap_seconds,
            rng=rng,
        )
        values = {
            "last_error": outcome.error,
            "next_attempt_at": now + timedelta(seconds=wait),
        }
    with db.write_session() as session:
        result = session.execute(
            update(m)
            .where(
                m.id == claim.id,
                m.status == "pending",
                m.claimed_by == claim.worker,
                m.attempts == claim.attempt,
            )
            .values(**values)
        )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        log.warning(
            "outbox %s: attempt %d's outcome not recorded, its lease ran out first",
            claim.id,
            claim.attempt,
        )
        return None
    return str(values.get("status", "pending"))


def release(db: Database, clock: Clock, claims: list[Claim]) -> None:
    """Give back claims that were not attempted (the worker is stopping): due again now, and
    the attempt they counted is taken back."""
    if not claims:
        return
    m = OutboxMessage
    with db.write_session() as session:
        for claim in claims:
            session.execute(
                update(m)
                .where(
                    m.id == claim.id,
                    m.status == "pending",
                    m.claimed_by == claim.worker,
                    m.attempts == claim.attempt,
                )
                .values(attempts=m.attempts - 1, next_attempt_at=clock.now(), claimed_by=None)
            )
