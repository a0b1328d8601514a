"""Appending to the change log: lanes, sequence numbers and hashes.

An entry's hash is ``sha256(prev_hash | lane | seq | canonical(meta) | payload_digest)`` where
``payload_digest = sha256(nonce || canonical(changes))``. The nonce is random per entry, so once
personal values are erased (and the nonce with them) the digest that anchored them cannot be
used to guess them back, while the chain still verifies: erasure keeps the digest it built on.

A transaction appends to one lane at a time. On PostgreSQL it claims the first lane no other
transaction holds (``FOR UPDATE SKIP LOCKED``) and keeps it until commit, so concurrent writers
proceed in parallel; the lane's head row is updated once per append call. SQLite has one writer
at a time and uses lane 0.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from plumb.core.bulk import insert_rows
from plumb.core.clock import isoformat
from plumb.core.context import Ctx
from plumb.core.errors import PlumbError
from plumb.models.history import ChainLane, ChangeEntry

_LANE_KEY = "plumb_chain_lane"


def canonical(obj: Any) -> bytes:
    """Compact JSON with sorted keys, UTF-8: the bytes that are hashed."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def genesis_hash(lane: int) -> str:
    return hashlib.sha256(f"plumb-chain-genesis:{lane}".encode()).hexdigest()


def payload_digest(nonce: str, changes: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(nonce) + canonical(changes)).hexdigest()


def entry_meta(row: dict[str, Any] | ChangeEntry) -> dict[str, Any]:
    """The hashed metadata of an entry (everything but the values, the chain fields and id)."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    at: Any = get("at")
    return {
        "at": at if isinstance(at, str) else isoformat(at),
        "record_type": get("record_type"),
        "record_id": get("record_id"),
        "record_version": get("record_version"),
        "action": get("action"),
        "actor_kind": get("actor_kind"),
        "actor_id": get("actor_id"),
        "actor_label": get("actor_label"),
        "source": get("source"),
        "correlation_id": get("correlation_id"),
        "context": get("context"),
        "note": get("note"),
    }


def link_hash(prev_hash: str, lane: int, seq: int, meta: dict[str, Any], digest: str) -> str:
    h = hashlib.sha256()
    h.update(prev_hash.encode())
    h.update(f"|{lane}|{seq}|".encode())
    h.update(canonical(meta))
    h.update(b"|")
    h.update(digest.encode())
    return h.hexdigest()


@dataclass
class Entry:
    """A change-log entry to append."""

    record_type: str
    record_id: str
    action: str
    changes: dict[str, list[Any]]
    record_version: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


class ChainUnavailable(PlumbError):
    code = "chain_unavailable"
    status = 503
    title = "The change log is not initialised"


def ensure_lanes(session: Session, count: int) -> None:
    """Create lane heads 0..count-1 that do not exist yet (idempotent)."""
    existing = set(session.scalars(select(ChainLane.lane)))
    missing = [
        {"lane": lane, "seq": 0, "hash": genesis_hash(lane)}
        for lane in range(count)
        if lane not in existing
    ]
    if missing:
        session.execute(insert(ChainLane), missing)


def _claim_lane(session: Session) -> tuple[int, int, str]:
    """Lock a lane head for this transaction and return (lane, seq, hash) as they stand."""
    bind = session.get_bind()
    held = session.info.get(_LANE_KEY)
    stmt = select(ChainLane.lane, ChainLane.seq, ChainLane.hash)
    if bind.dialect.name == "sqlite":
        row = session.execute(stmt.where(ChainLane.lane == 0)).first()
    elif held is not None:
        row = session.execute(stmt.where(ChainLane.lane == held).with_for_update()).first()
    else:
        row = session.execute(
            stmt.order_by(ChainLane.lane).limit(1).with_for_update(skip_locked=True)
        ).first()
        if row is None:
            # Every lane is busy: wait for one rather than fail.
            row = session.execute(stmt.order_by(ChainLane.lane).limit(1).with_for_update()).first()
    if row is None:
        raise ChainUnavailable("no hash-chain lanes exist; run `plumb db upgrade`")
    session.info[_LANE_KEY] = row.lane
    return row.lane, row.seq, row.hash


def append(ctx: Ctx, entries: list[Entry]) -> None:
    """Append entries to the change log in this transaction, chained in one lane."""
    if not entries:
        return
    session = ctx.session
    lane, seq, prev = _claim_lane(session)
    actor = ctx.actor
    at = ctx.now()
    at_text = isoformat(at)
    nonces = os.urandom(16 * len(entries)).hex()
    rows: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        seq += 1
        nonce = nonces[i * 32 : i * 32 + 32]
        row: dict[str, Any] = {
            "lane": lane,
            "seq": seq,
            "prev_hash": prev,
            "at": at,
            "record_type": entry.record_type,
            "record_id": entry.record_id,
            "record_version": entry.record_version,
            "action": entry.action,
            "actor_kind": actor.kind.value,
            "actor_id": actor.id,
            "actor_label": actor.label,
            "source": actor.source.value,
            "correlation_id": ctx.correlation_id,
            "changes": entry.changes,
            "context": entry.context,
            "nonce": nonce,
            "note": entry.note,
        }
        meta = entry_meta({**row, "at": at_text})
        prev = link_hash(prev, lane, seq, meta, payload_digest(nonce, entry.changes))
        row["hash"] = prev
        rows.append(row)
    insert_rows(session, ChangeEntry.metadata.tables[ChangeEntry.__tablename__], rows)
    session.execute(update(ChainLane).where(ChainLane.lane == lane).values(seq=seq, hash=prev))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_lane(session: Session) -> None:
    session.info.pop(_LANE_KEY, None)
