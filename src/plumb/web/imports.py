"""The import wizard: upload, the suggested column mapping, a dry run, the import itself with
live progress, the error file and undo (all through ``plumb.transfer``).

The import runs in a thread of the server process; its progress is the import run's own row in
the database (``rows_done``, committed batch by batch), so the status page reads only that. An
import cut short by a restart stays ``running`` and is resumed by running the same file again
(``plumb import`` resumes it as well).
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile

from plumb.core.actor import Actor
from plumb.core.clock import isoformat
from plumb.core.errors import BadRequest, NotAuthenticated, NotFound, PlumbError
from plumb.runtime import Runtime
from plumb.transfer.importer import Plan, plan_import, run_import, stored_errors, write_errors
from plumb.transfer.undo import get_run, list_runs, undo_import
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, runtime_of, text
from plumb.workspace.standard import PLURALS

IMPORTABLE = ("contact", "company", "deal", "case", "task")
UPLOADS = Path(tempfile.gettempdir()) / "plumb-web-imports"


@dataclass
class Upload:
    """A file uploaded through the wizard and what was learnt about it."""

    obj: str
    path: Path
    user_id: str
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


def _status(page: Page, upload: Upload) -> dict[str, Any]:
    run = next((r for r in list_runs(page.ctx) if r.key == upload.plan_key), None)
    running = upload.thread is not None and upload.thread.is_alive()
    return {
        "running": running,
        "failure": upload.failure,
        "rows": upload.rows,
        "run": run_json(run) if run is not None else None,
    }


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
            token = secrets.token_urlsafe(12)
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file.filename).name) or "upload.csv"
            folder = UPLOADS / token
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(file.file.read())
            try:
                plan = plan_import(page.ctx, obj, path)
            except PlumbError as exc:
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
            actor = page.ctx.actor
        dry = run_import(runtime_of(request), actor, plan, dry_run=True)
        item = Upload(obj, path, actor.user_id or "", plan.key)
        item.rows = sum(dry.counts.as_dict().values())
        with _LOCK:
            UPLOADED[token] = item
        with page_tx(request) as page:
            return render(
                request,
                "import_review.html",
                page,
                token=token,
                obj=obj,
                file_name=name,
                format=plan.format.describe(),
                header=plan.header,
                mapping=plan.mapping,
                counts=dry.counts.as_dict(),
                errors=dry.errors[:20],
                more_errors=max(0, len(dry.errors) - 20),
            )

    @router.post("/import/{token}/run")
    def run(request: Request, token: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            item = _upload(page, token)
            if item.thread is None:
                plan = plan_import(page.ctx, item.obj, item.path)
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
