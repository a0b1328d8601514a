"""Right to erasure: remove a person's personal data from a record and from its history.

The record's personal fields are blanked through an ordinary update (so the erasure itself is a
change with its own entry). Then every history entry of the record is redacted: personal values
are replaced by ``"[erased]"``, the entry's nonce is dropped (so nothing can be brute-forced back
from the digest), and the payload digest the chain was built on is kept. A final ``erase`` entry
records which entries were redacted and a digest of each one's redacted form, which is what
``plumb audit verify`` checks them against.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.history import chain
from plumb.history.queries import record_entries
from plumb.history.verify import redacted_digest
from plumb.models import ChangeEntry
from plumb.models.base import RecordMixin
from plumb.records import operations, queries

ERASED = "[erased]"


def _redact(value: Any) -> Any:
    if value is None or value == [] or value == "":
        return value
    return ERASED


def erase(ctx: Ctx, obj: str, record: RecordMixin, *, reason: str) -> dict[str, Any]:
    authz.require(ctx, obj, "administer")
    sch = queries.schema(ctx, obj)
    personal = set(sch.personal)
    blank = {name: None for name in personal}
    record = operations.update(ctx, obj, record, blank, action="erase_fields")
    redacted: dict[str, str] = {}
    for entry in record_entries(ctx, obj, record.id):
        hit = personal & set(entry.changes)
        if not hit:
            continue
        new_changes = {
            k: ([_redact(v[0]), _redact(v[1])] if k in hit else v) for k, v in entry.changes.items()
        }
        if new_changes == entry.changes and entry.nonce is None:
            continue
        digest = entry.payload_digest
        if entry.nonce is not None:
            digest = chain.payload_digest(entry.nonce, entry.changes)
        fields = sorted(hit | set(entry.redacted or []))
        ctx.session.execute(
            update(ChangeEntry)
            .where(ChangeEntry.id == entry.id)
            .values(changes=new_changes, nonce=None, payload_digest=digest, redacted=fields)
        )
        redacted[str(entry.id)] = redacted_digest(new_changes)
    chain.append(
        ctx,
        [
            chain.Entry(
                obj,
                record.id,
                "erase",
                {},
                record.version,
                {"fields": sorted(personal), "redacted_entries": redacted},
                note=reason,
            )
        ],
    )
    return {"record_id": record.id, "fields": sorted(personal), "entries_redacted": len(redacted)}
