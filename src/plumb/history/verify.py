"""Walk the change log and report where the chain breaks.

Per lane, entries must run seq 1, 2, 3, ... with no gap; each must name the previous entry's
hash; each hash must match what its contents give; and the lane's head must point at the last
entry. The first entry (by time) where any of this fails is reported, with what kind of
tampering explains it: altered, inserted or removed.

Entries redacted by an erasure are checked against the digest the erasure entry recorded for
their redacted form, and the chain is checked with the payload digest kept at erasure.

What a hash chain cannot show on its own: someone who rewrites an entry *and* recomputes every
later hash and the lane head. ``verify`` prints the lane heads; keeping a copy of that output
outside the database (a ticket, a signed e-mail) turns any such rewrite into a visible mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plumb.history.chain import canonical, entry_meta, genesis_hash, link_hash, payload_digest
from plumb.models.history import ChainLane, ChangeEntry


@dataclass
class Problem:
    lane: int
    seq: int
    entry_id: int | None
    kind: str  # altered | inserted | removed | head
    detail: str
    at: str | None = None

    def __str__(self) -> str:
        where = f"lane {self.lane} seq {self.seq}"
        if self.entry_id is not None:
            where += f" (entry {self.entry_id}{', ' + self.at if self.at else ''})"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    entries: int = 0
    lanes: dict[int, tuple[int, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.at or "", p.lane, p.seq))


def redacted_digest(changes: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(changes)).hexdigest()


def _erasure_digests(session: Session) -> dict[int, str]:
    """entry id -> digest of its redacted changes, from every erasure entry (later wins)."""
    out: dict[int, str] = {}
    rows = session.execute(
        select(ChangeEntry.context).where(ChangeEntry.action == "erase").order_by(ChangeEntry.id)
    )
    for (context,) in rows:
        for entry_id, digest in (context or {}).get("redacted_entries", {}).items():
            out[int(entry_id)] = digest
    return out


def verify(
    session: Session,
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> VerifyReport:
    report = VerifyReport()
    erasures = _erasure_digests(session)
    heads = {
        row.lane: (row.seq, row.hash)
        for row in session.execute(select(ChainLane.lane, ChainLane.seq, ChainLane.hash))
    }
    report.lanes = heads
    for lane in sorted(heads):
        problem = _verify_lane(session, lane, heads[lane], erasures, report, progress, batch)
        if problem is not None:
            report.problems.append(problem)
    return report


def _entries(session: Session, lane: int, batch: int) -> Iterator[ChangeEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(ChangeEntry)
            .where(ChangeEntry.lane == lane, ChangeEntry.seq > last)
            .order_by(ChangeEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def _verify_lane(
    session: Session,
    lane: int,
    head: tuple[int, str],
    erasures: dict[int, str],
    report: VerifyReport,
    progress: Callable[[int], None] | None,
    batch: int,
) -> Problem | None:
    expected_seq = 1
    prev = genesis_hash(lane)
    for entry in _entries(session, lane, batch):
        report.entries += 1
        if progress is not None and report.entries % 1000 == 0:
            progress(report.entries)
        at = entry_meta(entry)["at"]

        def problem(kind: str, detail: str, e: ChangeEntry = entry, when: str = at) -> Problem:
            return Problem(lane, e.seq, e.id, kind, detail, when)

        if entry.seq != expected_seq:
            missing = (
                f"{expected_seq}"
                if entry.seq == expected_seq + 1
                else (f"{expected_seq}..{entry.seq - 1}")
            )
            return problem("removed", f"entries with seq {missing} are missing before this one")
        if entry.prev_hash != prev:
            return problem(
                "inserted",
                "does not follow the entry before it (an entry was inserted here, or the "
                "previous one was replaced)",
            )
        digest, issue = _payload_digest(entry, erasures)
        if issue:
            return problem("altered", issue)
        if link_hash(prev, lane, entry.seq, entry_meta(entry), digest) != entry.hash:
            return problem("altered", "its contents do not match its hash")
        prev = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    head_seq, head_hash = head
    if head_seq > last_seq:
        return Problem(
            lane,
            last_seq + 1,
            None,
            "removed",
            f"the lane head says {head_seq} entries but only {last_seq} are present",
        )
    if head_seq < last_seq or head_hash != prev:
        return Problem(
            lane,
            head_seq,
            None,
            "inserted",
            "entries after the lane head, or a head that does not match the last entry",
        )
    return None


def _payload_digest(entry: ChangeEntry, erasures: dict[int, str]) -> tuple[str, str | None]:
    """The digest the chain was built on, or a reason the values no longer match it."""
    if entry.nonce is not None:
        if entry.payload_digest is not None or entry.redacted:
            return "", "marked as erased but still carries its nonce"
        return payload_digest(entry.nonce, entry.changes), None
    if entry.payload_digest is None:
        return "", "its nonce was removed without an erasure"
    expected = erasures.get(entry.id)
    if expected is None:
        return entry.payload_digest, "redacted, but no erasure entry covers it"
    if redacted_digest(entry.changes) != expected:
        return entry.payload_digest, "its redacted values were changed after the erasure"
    return entry.payload_digest, None
