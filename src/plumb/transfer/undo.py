"""Undoing a whole import, from its change-log entries.

Every write an import makes is recorded under the import's own actor and correlation id, so the
change log says exactly which records it created and what it changed on the others. Undo
archives the records it created (with a reason naming the import) and puts the fields it
changed back to their earlier values, through the operations layer, so the undo is itself in
history. A record somebody changed after the import is not overwritten: it is reported, with
the fields the import had set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, true, update

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import Conflict, NotFound, PlumbError
from plumb.models import ChangeEntry, ImportRun
from plumb.records import operations as ops
from plumb.records import queries
from plumb.records.fields import schema_for
from plumb.records.rows import model_for

UNDO_REASON = "undo of import"
"""How the archive reason of a record archived by an import undo starts: importing it again
restores it (``importer``)."""


@dataclass
class UndoReport:
    import_id: str
    archived: int = 0
    reverted: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    """Records left as they are, each with the reason (changed since, refused by a rule)."""
    changed_since: list[str] = field(default_factory=list)
    """Records the import created and somebody changed afterwards (archived all the same)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "archived": self.archived,
            "reverted": self.reverted,
            "skipped": self.skipped,
            "changed_since": self.changed_since,
        }


def get_run(ctx: Ctx, run_id: str) -> ImportRun:
    run = ctx.session.get(ImportRun, run_id.strip().upper())
    if run is None:
        raise NotFound(f"no import with id {run_id}")
    authz.require(ctx, run.object, "view")
    return run


def list_runs(ctx: Ctx, limit: int = 50) -> list[ImportRun]:
    runs = ctx.session.scalars(select(ImportRun).order_by(ImportRun.started_at.desc()).limit(limit))
    return [r for r in runs if authz.may(ctx, r.object, "view")]


def undo_import(ctx: Ctx, run_id: str) -> UndoReport:
    run = get_run(ctx, run_id)
    authz.require(ctx, run.object, "import")
    locked = ctx.session.execute(
        select(ImportRun.status).where(ImportRun.id == run.id).with_for_update()
    ).scalar_one()
    if locked == "undone":
        raise Conflict(f"import {run.id} was already undone", extra={"import_id": run.id})
    obj = run.object
    sch = schema_for(ctx.workspace, obj)
    created: dict[str, int] = {}
    changed: dict[str, dict[str, Any]] = defaultdict(dict)
    last_version: dict[str, int] = {}
    stmt = (
        select(
            ChangeEntry.record_id,
            ChangeEntry.action,
            ChangeEntry.changes,
            ChangeEntry.record_version,
        )
        .where(
            ChangeEntry.correlation_id == run.id,
            ChangeEntry.actor_id == run.id,
            ChangeEntry.record_type == obj,
            ChangeEntry.action.in_(("create", "update")),
        )
        .order_by(ChangeEntry.id)
    )
    for record_id, action, changes, version in ctx.session.execute(stmt):
        last_version[record_id] = version
        if action == "create":
            created[record_id] = version
            continue
        for name, (old, _new) in changes.items():
            if name in sch.fields and not sch[name].read_only:
                changed[record_id].setdefault(name, old)

    report = UndoReport(run.id)
    reason = f"{UNDO_REASON} {run.id} ({run.file_name})"
    for record_id in created:
        try:
            with ctx.session.begin_nested():
                record = queries.get(ctx, obj, record_id)
                if record.archived:
                    report.skipped.append({"id": record_id, "reason": "already archived"})
                    continue
                if record.version != last_version[record_id]:
                    report.changed_since.append(record_id)
                ops.archive(ctx, obj, record, reason=reason)
                report.archived += 1
        except PlumbError as exc:
            report.skipped.append({"id": record_id, "reason": str(exc), "code": exc.code})
    for record_id, patch in changed.items():
        if record_id in created:
            continue
        try:
            with ctx.session.begin_nested():
                record = queries.get(ctx, obj, record_id)
                if record.version != last_version[record_id]:
                    report.skipped.append(
                        {
                            "id": record_id,
                            "reason": "changed since the import; not overwritten",
                            "fields": sorted(patch),
                        }
                    )
                    continue
                ops.update(ctx, obj, record, patch, expected_version=record.version)
                report.reverted += 1
        except PlumbError as exc:
            report.skipped.append({"id": record_id, "reason": str(exc), "code": exc.code})
    ctx.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id)
        .values(
            status="undone",
            undone_at=ctx.now(),
            undone_by=ctx.actor.label,
            undo_report=report.as_json(),
        )
    )
    return report


def restore_undone(ctx: Ctx, obj: str, rows: list[tuple[int, str]]) -> dict[int, PlumbError]:
    """A re-import brings back what an import undo archived: of the records the rows name
    ((row, record id)), those archived by an undo are restored through the operations layer
    (in history, with the row in the entry's context) before the rows update them. Records
    archived for any other reason (by a person, a merge) stay archived. Returns the rows whose
    record could not be restored, with the reason."""
    model: Any = model_for(obj)
    wanted = {record_id for _, record_id in rows}
    if not wanted:
        return {}
    undone = set(
        ctx.session.scalars(
            select(model.id).where(
                model.id.in_(wanted),
                model.archived == true(),
                model.archive_reason.startswith(UNDO_REASON),
            )
        )
    )
    failed: dict[int, PlumbError] = {}
    for row, record_id in rows:
        if record_id not in undone:
            continue
        undone.discard(record_id)  # named twice in a batch: restored once
        try:
            with ctx.session.begin_nested():
                record = queries.get(ctx, obj, record_id)
                ops.restore(ctx, obj, record, context={"reimported_row": row})
        except PlumbError as exc:
            failed[row] = exc
    return failed
