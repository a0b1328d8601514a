"""Importing a file into one object, through the operations layer, in batches that survive a
crash.

A run is found by the file's content hash, the object and the mapping (``ImportRun.key``).
Each batch of rows commits in one transaction with the run's checkpoint (``rows_done``), its
counts and the rows it refused; killing the process at any point loses at most the batch in
flight, and running the same command again resumes after the last committed batch. Every row
has an identity (its external id in the source system, or the file hash and row number when
the file has none) stored in ``external_ids``, so a replayed row updates instead of
duplicating.

A dry run runs exactly the same code in one transaction that is rolled back at the end: its
counts are the real run's counts.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from plumb.access import authz
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.collector import fewer_collections
from plumb.core.context import Ctx
from plumb.core.db import one_of
from plumb.core.errors import Conflict, PlumbError
from plumb.core.ids import new_id
from plumb.models import ExternalId, ImportRowError, ImportRun
from plumb.records import external_ids, queries
from plumb.records import operations as ops
from plumb.records.fields import schema_for
from plumb.records.prepare import Cleaned
from plumb.records.rows import model_for
from plumb.runtime import Runtime
from plumb.transfer.cells import neutralise
from plumb.transfer.mapping import Mapping, auto_mapping, load_mapping
from plumb.transfer.readers import FileFormat, TableReader, file_hash, sniff
from plumb.transfer.rows import RowInput, RowProblem, resolve_references
from plumb.transfer.standardizing import Prepared, RowPipeline, default_workers
from plumb.transfer.undo import restore_undone

BATCH_SIZE = 1000
DUPLICATE_CODE = "duplicate_candidates"
Progress = Callable[[int, int, "Counts"], None]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    invalid: int = 0

    def add(self, other: Counts) -> None:
        for name in ("created", "updated", "unchanged", "duplicate", "invalid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicate": self.duplicate,
            "invalid": self.invalid,
        }

    @classmethod
    def of(cls, run: ImportRun) -> Counts:
        return cls(run.created, run.updated, run.unchanged, run.duplicate, run.invalid)


@dataclass
class Plan:
    """What an import will do, known before it writes: the file, its format and the mapping."""

    object: str
    path: Path
    format: FileFormat
    header: list[str]
    mapping: Mapping
    file_hash: str

    @property
    def key(self) -> str:
        body = f"{self.file_hash}|{self.object}|{self.mapping.digest()}"
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def source(self) -> str:
        return self.mapping.source or f"file:{self.file_hash[:16]}"


@dataclass
class Outcome:
    run_id: str
    plan: Plan
    counts: Counts
    dry_run: bool = False
    resumed_from: int = 0
    already_done: bool = False
    status: str = "done"
    errors: list[RowProblem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": None if self.dry_run else self.run_id,
            "object": self.plan.object,
            "file": str(self.plan.path),
            "format": self.plan.format.describe(),
            "dry_run": self.dry_run,
            "already_done": self.already_done,
            "resumed_from_row": self.resumed_from or None,
            "counts": self.counts.as_dict(),
            "mapping": self.plan.mapping.as_json(),
        }


def plan_import(ctx: Ctx, obj: str, path: Path, *, mapping_file: Path | None = None) -> Plan:
    """Read the header, settle the mapping and check the actor may import with it."""
    authz.require(ctx, obj, "import")
    authz.require(ctx, obj, "create")
    fmt = sniff(path)
    with TableReader(path, fmt) as reader:
        header = reader.header
    sch = schema_for(ctx.workspace, obj)
    mapping = load_mapping(mapping_file, sch, header) if mapping_file else auto_mapping(sch, header)
    fields = {t.field for t in mapping.columns.values() if t.field in sch.fields}
    authz.check_writable(ctx, obj, fields)
    return Plan(obj, path, fmt, header, mapping, file_hash(path))


def import_actor(actor: Actor, run_id: str) -> Actor:
    return Actor(
        kind=ActorKind.IMPORT,
        source=Source.IMPORT,
        label=f"import {run_id} by {actor.label}",
        id=run_id,
        user_id=actor.user_id,
        role=actor.role,
        scopes=actor.scopes,
    )


def run_import(
    rt: Runtime,
    actor: Actor,
    plan: Plan,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Outcome:
    """Run (or resume) an import. ``workers`` processes standardize the rows ahead of the
    writes (default: the ``import_workers`` setting; 1: all in this process)."""
    workers = workers or rt.settings.import_workers or default_workers()
    with fewer_collections():
        return _run(rt, actor, plan, dry_run, batch_size, progress, workers)


def _run(
    rt: Runtime,
    actor: Actor,
    plan: Plan,
    dry_run: bool,
    batch_size: int,
    progress: Progress | None,
    workers: int,
) -> Outcome:
    if dry_run:
        session = rt.db.session(write=True)
        try:
            run = _new_run(rt, session, actor, plan)
            outcome = _run_batches(
                rt, lambda: _Shared(session), actor, plan, run, 0, batch_size, progress, workers
            )
            outcome.dry_run = True
            outcome.errors = _errors(session, run.id)
            return outcome
        finally:
            session.rollback()
            session.close()
    with rt.db.write_session() as session:
        found = _find_run(session, plan)
        if found is not None and found.status == "done":
            return Outcome(found.id, plan, Counts.of(found), already_done=True)
        resumed = found.rows_done if found is not None else 0
        run_id = (found or _new_run(rt, session, actor, plan)).id
    outcome = _run_batches(
        rt, rt.db.write_session, actor, plan, _Ref(run_id), resumed, batch_size, progress, workers
    )
    outcome.resumed_from = resumed
    return outcome


@dataclass
class _Ref:
    id: str


class _Shared:
    """The dry run's one session, handed to every batch without committing."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        return None


def _find_run(session: Session, plan: Plan) -> ImportRun | None:
    return session.scalars(
        select(ImportRun)
        .where(ImportRun.key == plan.key, ImportRun.status != "undone")
        .order_by(ImportRun.started_at.desc())
        .limit(1)
    ).first()


def _new_run(rt: Runtime, session: Session, actor: Actor, plan: Plan) -> ImportRun:
    run_id = new_id()
    session.execute(
        insert(ImportRun).values(
            id=run_id,
            object=plan.object,
            key=plan.key,
            file_name=plan.path.name,
            file_hash=plan.file_hash,
            mapping=plan.mapping.as_json(),
            source=plan.source,
            status="running",
            rows_done=0,
            created=0,
            updated=0,
            unchanged=0,
            duplicate=0,
            invalid=0,
            actor_label=actor.label,
            actor_id=actor.id,
            started_at=rt.clock.now(),
        )
    )
    run = session.get(ImportRun, run_id)
    assert run is not None
    return run


def _run_batches(
    rt: Runtime,
    sessions: Callable[[], Any],
    actor: Actor,
    plan: Plan,
    run: Any,
    skip: int,
    batch_size: int,
    progress: Progress | None,
    workers: int,
) -> Outcome:
    totals = Counts()
    done = skip
    with (
        TableReader(plan.path, plan.format) as reader,
        RowPipeline(rt.loaded.workspace, plan.mapping, plan.header, workers) as pipeline,
    ):
        batches = pipeline.prepared(_batches(reader.rows(), skip, batch_size))
        for number, (batch, prepared) in enumerate(batches, 1):
            with sessions() as session:
                if number & (number - 1) == 0:
                    _analyze(session)
                ctx = rt.ctx(session, import_actor(actor, run.id), correlation_id=run.id)
                counts = _write_batch(ctx, plan, run.id, done, prepared)
            done += len(batch)
            totals.add(counts)
            if progress is not None:
                position, total = reader.progress()
                progress(position, total, totals)
    with sessions() as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run.id)
            .values(status="done", finished_at=rt.clock.now())
        )
        final = session.get(ImportRun, run.id, populate_existing=True)
        assert final is not None
        counts = Counts.of(final)
    return Outcome(run.id, plan, counts)


def _analyze(session: Session) -> None:
    """Refresh PostgreSQL's statistics of ``external_ids`` as it grows (after batch 1, 2, 4,
    8, ...).

    Without them a table filled by this import still looks empty to the planner, which then
    reads the external-id lookup of every batch as a filter over the whole table instead of
    an index search, and each batch gets slower than the last. The record table is left to
    autovacuum: the import reads it by primary key only, and analyzing it too (every column
    of a wide table) cost about a tenth of a 100k-row import."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("ANALYZE external_ids"))


def _batches(
    rows: Iterator[tuple[int, list[str]]], skip: int, size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for i, row in enumerate(rows):
        if i < skip:
            continue
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_batch(
    ctx: Ctx, plan: Plan, run_id: str, expected_done: int, prepared: Prepared
) -> Counts:
    session = ctx.session
    state = session.execute(
        select(ImportRun.rows_done, ImportRun.status)
        .where(ImportRun.id == run_id)
        .with_for_update()
    ).one()
    if state.status != "running" or state.rows_done != expected_done:
        raise Conflict(
            f"import {run_id} moved on elsewhere (it is {state.status} at row "
            f"{state.rows_done}); another process is running it or it was undone",
            extra={"import_id": run_id},
        )
    items = [item for item, _ in prepared]
    resolve_references(ctx, plan.mapping, items)
    counts = Counts()
    problems: list[tuple[str, RowProblem]] = []
    good = [(item, ahead) for item, ahead in prepared if not item.problems]
    for item in items:
        if item.problems:
            counts.invalid += 1
            problems += [("invalid", p) for p in item.problems]
    if good:
        counts.add(_upsert(ctx, plan, good, problems))
    if problems:
        session.execute(
            insert(ImportRowError),
            [
                {
                    "import_id": run_id,
                    "row": p.row,
                    "kind": kind,
                    "column": p.column,
                    "value": p.value,
                    "rule": p.rule,
                    "message": p.message[:2000],
                }
                for kind, p in problems
            ],
        )
    session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(
            rows_done=expected_done + len(prepared),
            created=ImportRun.created + counts.created,
            updated=ImportRun.updated + counts.updated,
            unchanged=ImportRun.unchanged + counts.unchanged,
            duplicate=ImportRun.duplicate + counts.duplicate,
            invalid=ImportRun.invalid + counts.invalid,
        )
    )
    return counts


def _upsert(
    ctx: Ctx,
    plan: Plan,
    good: list[tuple[RowInput, Cleaned | None]],
    problems: list[tuple[str, RowProblem]],
) -> Counts:
    obj, source = plan.object, plan.source
    items = [item for item, _ in good]
    model: Any = model_for(obj)
    known = dict(
        ctx.session.execute(
            select(ExternalId.external_id, ExternalId.record_id).where(
                ExternalId.record_type == obj,
                ExternalId.source == source,
                one_of(ctx.session, ExternalId.external_id, {i.ext for i in items}),
            )
        ).all()
    )
    native: set[str] = set()
    if plan.mapping.preset == "plumb":
        # a Plumb export re-imported into the database it came from: its ids are records here
        unknown = {i.ext.upper() for i in items if i.ext and i.ext not in known}
        native = queries.existing_ids(ctx.session, obj, unknown, active_only=False)
    targets = set(known.values()) | native
    counts = Counts()
    before = _versions(ctx, model, targets)
    refused = _restore_undone(ctx, plan, good, known, native, counts, problems)
    if refused:
        good = [(i, a) for i, a in good if i.row not in refused]
        items = [i for i, _ in good]
    updated: list[tuple[RowInput, str]] = []
    upserts = [(i, ahead) for i, ahead in good if i.ext.upper() not in native]
    results = external_ids.upsert_many(
        ctx,
        obj,
        source,
        [(i.ext, i.values) for i, _ in upserts],
        cleaned=[a for _, a in upserts],
        known=known,
    )
    for (item, _), result in zip(upserts, results, strict=True):
        if result.error is not None:
            _refused(plan, item, result.error, counts, problems)
        elif result.created:
            counts.created += 1
        else:
            assert result.record_id is not None
            updated.append((item, result.record_id))
    for item in items:
        if item.ext.upper() not in native:
            continue
        try:
            with ctx.session.begin_nested():
                record = queries.get(ctx, obj, item.ext)
                ops.update(ctx, obj, record, item.values)
            updated.append((item, record.id))
        except PlumbError as exc:
            _refused(plan, item, exc, counts, problems)
    after = _versions(ctx, model, {rid for _, rid in updated})
    for _, rid in updated:
        if after.get(rid) == before.get(rid):
            counts.unchanged += 1
        else:
            counts.updated += 1
    return counts


def _restore_undone(
    ctx: Ctx,
    plan: Plan,
    good: list[tuple[RowInput, Cleaned | None]],
    known: dict[str, str],
    native: set[str],
    counts: Counts,
    problems: list[tuple[str, RowProblem]],
) -> set[int]:
    """Restore the records an import undo archived that rows name again (``undo.restore_undone``);
    returns the rows refused because their record could not be restored."""
    named = []
    for item, _ in good:
        record_id = known.get(item.ext) or (
            item.ext.upper() if item.ext.upper() in native else None
        )
        if record_id is not None:
            named.append((item, record_id))
    failed = restore_undone(ctx, plan.object, [(item.row, rid) for item, rid in named])
    for item, _ in named:
        if item.row in failed:
            _refused(plan, item, failed[item.row], counts, problems)
    return set(failed)


def _versions(ctx: Ctx, model: Any, ids: set[str]) -> dict[str, int]:
    if not ids:
        return {}
    found = select(model.id, model.version).where(one_of(ctx.session, model.id, ids))
    return dict(ctx.session.execute(found).all())


def _refused(
    plan: Plan,
    item: RowInput,
    error: PlumbError,
    counts: Counts,
    problems: list[tuple[str, RowProblem]],
) -> None:
    kind = "duplicate" if error.code == DUPLICATE_CODE else "invalid"
    setattr(counts, kind, getattr(counts, kind) + 1)
    if not error.issues:
        problems.append(
            (kind, RowProblem(item.row, None, None, error.rule or error.code, error.message))
        )
        return
    for issue in error.issues:
        column = plan.mapping.column_for(issue.field)
        if issue.field == "external_id":
            column = plan.mapping.id_column
        value = item.cells.get(column or "")
        column = column or issue.field  # a field no column fills (a stage gate asks for it)
        if value is None and issue.value is not None:
            value = str(issue.value)
        problems.append((kind, RowProblem(item.row, column, value, issue.rule, issue.message)))


def _errors(session: Session, run_id: str) -> list[RowProblem]:
    rows = session.execute(
        select(ImportRowError)
        .where(ImportRowError.import_id == run_id)
        .order_by(ImportRowError.row, ImportRowError.id)
    ).scalars()
    return [RowProblem(r.row, r.column, r.value, r.rule, r.message) for r in rows]


def stored_errors(session: Session, run_id: str) -> Iterator[RowProblem]:
    stmt = (
        select(ImportRowError)
        .where(ImportRowError.import_id == run_id)
        .order_by(ImportRowError.row, ImportRowError.id)
        .execution_options(yield_per=2000)
    )
    for r in session.scalars(stmt):
        yield RowProblem(r.row, r.column, r.value, r.rule, r.message)


ERROR_COLUMNS = ["row", "column", "value", "rule", "message"]


def write_errors(path: Path, problems: Iterator[RowProblem] | list[RowProblem]) -> int:
    """The refused rows as CSV (cells neutralised: the file is meant for a spreadsheet)."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(ERROR_COLUMNS)
        for p in problems:
            out.writerow(
                [
                    p.row,
                    neutralise(p.column or ""),
                    neutralise(p.value or ""),
                    p.rule,
                    neutralise(p.message),
                ]
            )
            count += 1
    return count
