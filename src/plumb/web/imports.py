"""The import wizard: upload, the suggested column mapping, a dry run, the import itself with
live progress, the error file and undo (all through ``plumb.transfer``).

The suggested mapping is shown as one select per column: change a column or leave it out and
check again, and the dry run and then the import use the edited mapping (written next to the
upload as a mapping file, read by ``plumb.transfer``'s own loader, which checks it). An upload
lives in a temporary folder until its import has finished, until it is cancelled, or, when
abandoned, until the next upload finds it older than ``STALE_UPLOAD``.

The import runs in a thread of the server process; its progress is the import run's own row in
the database (``rows_done``, committed batch by batch), so the status page reads only that. An
import cut short by a restart stays ``running`` and is resumed by running the same file again
(``plumb import`` resumes it as well).
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile

from plumb.access import authz
from plumb.core.actor import Actor
from plumb.core.clock import isoformat
from plumb.core.errors import BadRequest, NotAuthenticated, NotFound, PlumbError
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.transfer.importer import Plan, plan_import, run_import, stored_errors, write_errors
from plumb.transfer.mapping import EXTERNAL_ID, SKIP, Mapping, Target
from plumb.transfer.undo import get_run, list_runs, undo_import
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, runtime_of, text
from plumb.workspace.standard import PLURALS

log = logging.getLogger("plumb.web")

IMPORTABLE = ("contact", "company", "deal", "case", "task")
UPLOADS = Path(tempfile.gettempdir()) / "plumb-web-imports"
STALE_UPLOAD = timedelta(hours=6)
"""An upload nobody imported or cancelled is removed by the next upload after this long."""
MAPPING_FILE = "mapping.yaml"


@dataclass
class Upload:
    """A file uploaded through the wizard and what was learnt about it."""

    obj: str
    path: Path
    user_id: str
    mapping_file: Path | None = None
    """The mapping as edited in the wizard; None: the suggested one."""
    plan_key: str = ""
    rows: int = 0
    thread: threading.Thread | None = None
    failure: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)


UPLOADED: dict[str, Upload] = {}
_LOCK = threading.Lock()


def _upload(page: Page, token: str) -> Upload:
    with _LOCK:
        found = UPLOADED.get(token)
    if found is None or found.user_id != page.user.id:
        raise NotFound("no such upload; upload the file again")
    return found


def discard(token: str) -> None:
    """Forget an upload and remove its folder (the file and the edited mapping)."""
    with _LOCK:
        UPLOADED.pop(token, None)
    shutil.rmtree(UPLOADS / token, ignore_errors=True)


def remove_files(upload: Upload) -> None:
    """Remove an upload's folder once its import has finished (its status stays readable)."""
    shutil.rmtree(upload.path.parent, ignore_errors=True)


def sweep_stale(now: float | None = None) -> list[str]:
    """Remove the folders of uploads older than ``STALE_UPLOAD`` with no import running."""
    limit = (time.time() if now is None else now) - STALE_UPLOAD.total_seconds()
    removed: list[str] = []
    if not UPLOADS.is_dir():
        return removed
    for folder in UPLOADS.iterdir():
        with _LOCK:
            item = UPLOADED.get(folder.name)
        if item is not None and item.thread is not None and item.thread.is_alive():
            continue
        if folder.is_dir() and folder.stat().st_mtime < limit:
            discard(folder.name)
            removed.append(folder.name)
    return removed


def mapping_choices(page: Page, obj: str, mapping: Mapping) -> list[tuple[str, str]]:
    """(value, label) of what a column may fill: a field the user may write, the external id
    when the mapping names a source system, or nothing."""
    ctx = page.ctx
    sch = queries.schema(ctx, obj)
    role = authz.role_of(ctx)
    locked = role.read_only(obj) if role is not None else frozenset()
    hidden = authz.hidden_fields(ctx, obj)
    out = [(SKIP, "— not imported —")]
    if mapping.source:
        out.append((EXTERNAL_ID, f"External id in {mapping.source}"))
    out += [
        (name, spec.label)
        for name, spec in sch.fields.items()
        if not spec.read_only and name not in hidden and name not in locked
    ]
    known = {value for value, _ in out}
    for target in mapping.columns.values():  # what the suggestion names beyond plain fields
        value = _choice(target)
        if value not in known:
            label = sch[target.field].label if target.field in sch.fields else target.field
            out.append((value, f"{label} (by {target.by})" if target.by != "id" else label))
            known.add(value)
    return out


def _choice(target: Target) -> str:
    return target.field if target.by == "id" else f"{target.field}|{target.by}"


def write_mapping(folder: Path, mapping: Mapping, header: list[str], form: FormData) -> Path:
    """The mapping edited in the form (``m.<column index>``), as a mapping file for
    ``plumb.transfer`` to load and check."""
    columns: dict[str, Any] = {}
    for index, column in enumerate(header):
        if not column:
            continue
        chosen = text(form, f"m.{index}", SKIP)
        name, _, by = chosen.partition("|")
        columns[column] = {"field": name, "by": by} if by else name
    body: dict[str, Any] = {"object": mapping.object, "columns": columns}
    if mapping.source:
        body["source"] = mapping.source
    path = folder / MAPPING_FILE
    path.write_text(yaml.safe_dump(body, sort_keys=False, allow_unicode=True), "utf-8")
    return path


def run_json(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "object": run.object,
        "file_name": run.file_name,
        "status": run.status,
        "rows_done": run.rows_done,
        "counts": {
            "new": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "duplicate": run.duplicate,
            "invalid": run.invalid,
        },
        "started_at": isoformat(run.started_at),
        "undone_at": isoformat(run.undone_at) if run.undone_at else None,
    }


def _runner(rt: Runtime, actor: Actor, plan: Plan, upload: Upload) -> None:
    """The body of the import thread: its failure is kept and shown on the status page."""
    try:
        outcome = run_import(rt, actor, plan)
        upload.outcome = outcome.as_json()
    except PlumbError as exc:
        upload.failure = str(exc)
    except Exception as exc:
        log.exception("the import of %s failed", upload.path.name)
        name = type(exc).__name__
        upload.failure = f"the import stopped on an unexpected error ({name}); see the server log"
    finally:
        remove_files(upload)


def _status(page: Page, upload: Upload) -> dict[str, Any]:
    # The thread is asked first: once it has ended, its run's last write is committed. The page's
    # snapshot can still be older than that write (SQLite's began with the sign-in check), so a
    # run read as running with no failure kept is reported as running and the page asks again.
    running = upload.thread is not None and upload.thread.is_alive()
    run = next((r for r in list_runs(page.ctx) if r.key == upload.plan_key), None)
    if run is not None and run.status == "running" and upload.failure is None:
        running = upload.thread is not None
    return {
        "running": running,
        "failure": upload.failure,
        "rows": upload.rows,
        "run": run_json(run) if run is not None else None,
    }


def _review(
    request: Request, token: str, item: Upload, *, error: PlumbError | None = None
) -> Response:
    """The dry run of the upload with its current mapping, and the mapping as selects."""
    rt = runtime_of(request)
    with page_tx(request) as page:
        plan: Plan | None = None
        try:
            plan = plan_import(page.ctx, item.obj, item.path, mapping_file=item.mapping_file)
        except PlumbError as exc:
            if isinstance(exc, NotAuthenticated):
                raise
            error = exc
            item.mapping_file = None  # show the suggestion again beside the refusal
            plan = plan_import(page.ctx, item.obj, item.path)
        actor = page.ctx.actor
    dry = run_import(rt, actor, plan, dry_run=True)
    item.rows = sum(dry.counts.as_dict().values())
    with page_tx(request) as page:
        chosen = {c: _choice(t) for c, t in plan.mapping.columns.items()}
        return render(
            request,
            "import_review.html",
            page,
            status=error.status if error else 200,
            token=token,
            obj=item.obj,
            file_name=item.path.name,
            format=plan.format.describe(),
            header=plan.header,
            mapping=plan.mapping,
            chosen=chosen,
            choices=mapping_choices(page, item.obj, plan.mapping),
            edited=item.mapping_file is not None,
            mapping_error=error,
            counts=dry.counts.as_dict(),
            errors=dry.errors[:20],
            more_errors=max(0, len(dry.errors) - 20),
        )


def imports_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/import")
    def start(request: Request) -> Response:
        with page_tx(request) as page:
            runs = [run_json(r) for r in list_runs(page.ctx, limit=20)]
            objects = [o for o in IMPORTABLE if page.may(o, "import")]
            return render(request, "import.html", page, runs=runs, objects=objects)

    @router.post("/import")
    def upload(request: Request, form: FormData = Depends(form_of)) -> Response:
        obj = text(form, "object")
        file = form.get("file")
        with page_tx(request, form=form) as page:
            if obj not in IMPORTABLE:
                raise BadRequest(f"cannot import {obj!r}")
            if not isinstance(file, UploadFile) or not file.filename:
                raise BadRequest("choose a CSV or XLSX file to upload")
            sweep_stale()
            token = secrets.token_urlsafe(12)
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file.filename).name) or "upload.csv"
            folder = UPLOADS / token
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(file.file.read())
            try:
                plan = plan_import(page.ctx, obj, path)
            except PlumbError as exc:
                discard(token)
                if isinstance(exc, NotAuthenticated):
                    raise
                return render(
                    request,
                    "import.html",
                    page,
                    status=exc.status,
                    error=str(exc),
                    runs=[],
                    objects=[obj],
                )
            item = Upload(obj, path, page.user.id, plan_key=plan.key)
        with _LOCK:
            UPLOADED[token] = item
        return _review(request, token, item)

    @router.post("/import/{token}/mapping")
    def remap(request: Request, token: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            item = _upload(page, token)
            if item.thread is not None:
                raise BadRequest("this file is already being imported; its mapping is settled")
            plan = plan_import(page.ctx, item.obj, item.path, mapping_file=item.mapping_file)
            item.mapping_file = write_mapping(item.path.parent, plan.mapping, plan.header, form)
        return _review(request, token, item)

    @router.post("/import/{token}/cancel")
    def cancel(request: Request, token: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            item = _upload(page, token)
            if item.thread is None:
                discard(token)
        return redirect("/import")

    @router.post("/import/{token}/run")
    def run(request: Request, token: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            item = _upload(page, token)
            if item.thread is None:
                plan = plan_import(page.ctx, item.obj, item.path, mapping_file=item.mapping_file)
                item.plan_key = plan.key
                item.thread = threading.Thread(
                    target=_runner,
                    args=(runtime_of(request), page.ctx.actor, plan, item),
                    name=f"import-{token}",
                    daemon=False,
                )
                item.thread.start()
        return redirect(f"/import/{token}")

    @router.get("/import/{token}")
    def progress(request: Request, token: str) -> Response:
        with page_tx(request) as page:
            item = _upload(page, token)
            return render(
                request,
                "import_progress.html",
                page,
                token=token,
                obj=item.obj,
                plural=PLURALS[item.obj],
                state=_status(page, item),
            )

    @router.get("/import/{token}/status")
    def status(request: Request, token: str) -> Response:
        with page_tx(request) as page:
            body = _status(page, _upload(page, token))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.get("/imports/{run_id}/errors.csv")
    def errors(request: Request, run_id: str) -> Response:
        with page_tx(request) as page:
            found = get_run(page.ctx, run_id)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "errors.csv"
                write_errors(path, stored_errors(page.ctx.session, found.id))
                body = path.read_bytes()
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{found.id}-errors.csv"'},
        )

    @router.post("/imports/{run_id}/undo")
    def undo(request: Request, run_id: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            undo_import(page.ctx, run_id)
        return redirect("/import#runs")

    return router
