"""Quarantine: take the records failing a check out of the working set, with the reason, through
``operations.archive`` (reversible with ``restore``); nothing is deleted."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.models import ChangeEntry
from plumb.quality.engine import run_checks
from plumb.records import operations as ops
from plumb.records import queries

PREFIX = "quarantine: "


@dataclass
class QuarantineResult:
    records: list[str] = field(default_factory=list)
    dry_run: bool = False


def quarantine(
    ctx: Ctx,
    obj: str,
    check: str,
    *,
    slice_text: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> QuarantineResult:
    """Archive every visible ``obj`` record failing ``check`` (within the slice)."""
    run = run_checks(ctx, obj=obj, names=[check], slice_text=slice_text, limit=None)
    ids = sorted({f.record_id for f in run.findings})
    result = QuarantineResult(ids, dry_run)
    if dry_run:
        return result
    for record_id in ids:
        why = next(f.reason for f in run.findings if f.record_id == record_id)
        ops.archive(
            ctx,
            obj,
            queries.get(ctx, obj, record_id),
            reason=f"{PREFIX}{reason or why}",
            context={"quarantine": check, "correlation": ctx.correlation_id},
        )
    return result


def release(ctx: Ctx, obj: str, correlation_id: str) -> list[str]:
    """Restore the records one quarantine run archived (its correlation id)."""
    ids = list(
        ctx.session.scalars(
            select(ChangeEntry.record_id).where(
                ChangeEntry.record_type == obj,
                ChangeEntry.action == "archive",
                ChangeEntry.correlation_id == correlation_id,
            )
        )
    )
    if not ids:
        raise BadRequest(f"no {obj} records were quarantined under {correlation_id}")
    for record_id in ids:
        record = queries.get(ctx, obj, record_id)
        if record.archived and (record.archive_reason or "").startswith(PREFIX):
            ops.restore(ctx, obj, record, context={"quarantine_release": correlation_id})
    return ids
