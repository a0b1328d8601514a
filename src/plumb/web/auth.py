"""Signing in and out, and the home page (my tasks, my deals, my gaps, my data quality)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.access.sessions import COOKIE, cookie_options, session_actor, sign_in, sign_out
from plumb.automation.gaps import list_gaps
from plumb.core.actor import Source, system_actor
from plumb.core.errors import CsrfFailed, NotAuthenticated, PlumbError, TooManyAttempts
from plumb.identity import queue
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import PageRoute, form_of, page_tx, redirect, render, runtime_of, text
from plumb.web.duplicates import matched_objects
from plumb.web.views import record_href, record_label
from plumb.workspace.standard import PLURALS


def _safe_next(target: str) -> str:
    """Only a path on this site (``/contacts``), never another host (``//evil``)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _cross_origin(request: Request) -> str | None:
    """The other origin a form post came from (its ``Origin``, else its ``Referer``), or None
    when it names this site or nothing. Browsers send one of them on a cross-site post."""
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return None
    parts = urlsplit(claimed)
    origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else claimed.lower()
    return None if origin == own else origin


def _count(page: Any, obj: str, pairs: list[tuple[str, str]]) -> int | None:
    ctx = page.ctx
    hidden = authz.hidden_fields(ctx, obj)
    if any(k.partition(".")[0] in hidden for k, _ in pairs):
        return None
    filters = queries.parse_filters(queries.schema(ctx, obj), pairs)
    return queries.list_records(ctx, obj, filters=filters, limit=1, count=True).total


def auth_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/login")
    def login_form(request: Request) -> Response:
        return render(request, "login.html", next=_safe_next(request.query_params.get("next", "/")))

    @router.post("/login")
    def login(request: Request, form: FormData = Depends(form_of)) -> Response:
        other = _cross_origin(request)
        if other is not None:
            # Login CSRF: another site must not sign a visitor in as someone else.
            raise CsrfFailed(f"a sign-in posted from another site ({other}) is refused")
        rt = runtime_of(request)
        address = request.client.host if request.client else None
        client = f"{address or '?'} {request.headers.get('user-agent', '')}"
        email = text(form, "email")
        with rt.db.write_session() as session:
            ctx = rt.ctx(session, system_actor(Source.UI, "sign-in"))
            try:
                signed = sign_in(
                    ctx, rt.settings, email, text(form, "password"), address=address, client=client
                )
                error: PlumbError | None = None
            except (NotAuthenticated, TooManyAttempts) as exc:
                error = exc  # the attempt is recorded and committed, then refused
        if error is not None:
            return render(
                request,
                "login.html",
                status=error.status,
                error=error.message,
                email=email,
                next=_safe_next(text(form, "next", "/")),
            )
        response = redirect(_safe_next(text(form, "next", "/")))
        response.set_cookie(COOKIE, signed.secret, **cookie_options(rt.settings))
        return response

    @router.post("/logout")
    def logout(request: Request, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            cookie = request.cookies.get(COOKIE, "")
            _, web = session_actor(page.ctx, cookie)
            sign_out(page.ctx, web)
        response = redirect("/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/")
    def home(request: Request) -> Response:
        with page_tx(request) as page:
            ctx = page.ctx
            me = page.user.id
            today = date.today().isoformat()
            tasks: list[dict[str, Any]] = []
            if page.may("task", "view"):
                found = queries.list_records(
                    ctx,
                    "task",
                    filters=queries.parse_filters(
                        queries.schema(ctx, "task"), [("assignee_id", me), ("status", "open")]
                    ),
                    sort="due_date",
                    limit=20,
                )
                for snap in queries.snapshots(ctx, "task", found.records):
                    due = snap.get("due_date")
                    tasks.append(
                        {
                            "title": snap["title"],
                            "href": record_href("task", snap["id"]),
                            "due": due,
                            "overdue": bool(due and due < today),
                        }
                    )
                tasks.sort(key=lambda t: (not t["overdue"], t["due"] is None, t["due"] or ""))
            deals: list[dict[str, Any]] = []
            if page.may("deal", "view"):
                found = queries.list_records(
                    ctx,
                    "deal",
                    filters=queries.parse_filters(queries.schema(ctx, "deal"), [("owner_id", me)]),
                    limit=200,
                )
                snaps = [
                    lookups.redacted(ctx, "deal", s)
                    for s in queries.snapshots(ctx, "deal", found.records)
                ]
                for pipe in ctx.workspace.pipelines_for("deal"):
                    for stage in pipe.stages:
                        mine = [
                            s
                            for s in snaps
                            if s["pipeline"] == pipe.key and s["stage"] == stage.key
                        ]
                        if mine:
                            deals.append(
                                {
                                    "stage": stage.label,
                                    "records": [
                                        {
                                            "href": record_href("deal", s["id"]),
                                            "label": record_label("deal", s),
                                            "amount": s.get("amount"),
                                            "currency": s.get("currency"),
                                        }
                                        for s in mine
                                    ],
                                }
                            )
            gaps = [
                {
                    "rule": g.rule,
                    "field": g.field,
                    "detail": g.detail,
                    "href": record_href(g.record_type, g.record_id),
                    "record": f"{g.record_type} {g.record_id}",
                }
                for g in list_gaps(ctx, assignees=(me, page.user.email))
            ]
            quality = []
            if page.may("contact", "view"):
                unreachable = _count(
                    page, "contact", [("owner_id", me), ("emails.null", "1"), ("phones.null", "1")]
                )
                if unreachable is not None:
                    quality.append(
                        (
                            "contacts with neither e-mail nor phone",
                            unreachable,
                            f"/contacts?owner_id={me}&emails.null=1&phones.null=1",
                        )
                    )
                no_source = _count(page, "contact", [("owner_id", me), ("lead_source.null", "1")])
                if no_source is not None:
                    quality.append(
                        (
                            "contacts without a lead source",
                            no_source,
                            f"/contacts?owner_id={me}&lead_source.null=1",
                        )
                    )
            if page.may("deal", "view"):
                no_close = _count(page, "deal", [("owner_id", me), ("close_date.null", "1")])
                if no_close is not None:
                    quality.append(
                        (
                            "deals without a close date",
                            no_close,
                            f"/deals?owner_id={me}&close_date.null=1",
                        )
                    )
            quality.append(("open gaps assigned to you", len(gaps), "/gaps?mine=1"))
            for obj in matched_objects(ctx):
                _, pairs = queue.listing(ctx, obj, limit=1)
                quality.append(
                    (
                        f"likely duplicate {PLURALS[obj]} to review",
                        pairs,
                        f"/duplicates/{PLURALS[obj]}",
                    )
                )
            return render(
                request, "home.html", page, tasks=tasks, deals=deals, gaps=gaps, quality=quality
            )

    return router
