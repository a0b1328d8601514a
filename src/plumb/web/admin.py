"""The gaps inbox, the glossary, and administration: users, roles, tokens, dead letters and the
workspace definition (read only)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.access.tokens import create_token, list_tokens, revoke_token, valid_scopes
from plumb.access.users import find_user, list_users
from plumb.automation.gaps import grouped, list_gaps
from plumb.core.errors import NotAuthenticated, PlumbError
from plumb.outbox.admin import list_messages, message_json, replay
from plumb.web.core import Page, PageRoute, form_of, page_tx, redirect, render, text
from plumb.web.views import record_href
from plumb.workspace.glossary import glossary


def _require_admin(page: Page) -> None:
    authz.require_admin(page.ctx, "open the administration pages")


def admin_page(
    request: Request,
    page: Page,
    *,
    issued: dict[str, Any] | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    _require_admin(page)
    ctx = page.ctx
    rt = request.app.state.runtime
    users = list_users(ctx)
    names = {u.id: u.name for u in users}
    problems = [
        f"{'.'.join(str(p) for p in path)}: {msg}" for path, msg in ctx.workspace.problems()
    ]
    return render(
        request,
        "admin.html",
        page,
        status=status,
        users=users,
        roles=ctx.workspace.roles,
        tokens=[t for t in list_tokens(ctx)],
        names=names,
        dead=[message_json(m) for m in list_messages(ctx, status="dead", limit=100)],
        issued=issued,
        error=error,
        scopes=sorted(valid_scopes()),
        source=rt.loaded.source,
        digest=rt.loaded.digest,
        definition=yaml.safe_dump(rt.loaded.content, sort_keys=False, allow_unicode=True),
        problems=problems,
    )


def admin_router() -> APIRouter:
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/gaps")
    def gaps(request: Request) -> Response:
        params = request.query_params
        with page_tx(request) as page:
            mine = (page.user.id, page.user.email) if params.get("mine") else None
            found = list_gaps(page.ctx, rule=params.get("rule") or None, assignees=mine)
            if params.get("field"):
                found = [
                    g for g in found if f"{g.record_type}.{g.field or '(none)'}" == params["field"]
                ]
            rows = [
                {
                    "rule": g.rule,
                    "object": g.record_type,
                    "record_id": g.record_id,
                    "href": record_href(g.record_type, g.record_id),
                    "field": g.field,
                    "reason": g.reason,
                    "detail": g.detail,
                    "occurrences": g.occurrences,
                    "opened_at": g.opened_at,
                }
                for g in found
            ]
            return render(
                request,
                "gaps.html",
                page,
                rows=rows,
                by_rule=grouped(found, "rule"),
                by_field=grouped(found, "field"),
                rule=params.get("rule", ""),
            )

    @router.get("/glossary")
    def glossary_page(request: Request) -> Response:
        with page_tx(request) as page:
            groups: dict[str, list[Any]] = {}
            for term in glossary(page.ctx.workspace):
                groups.setdefault(term.group, []).append(term)
            return render(request, "glossary.html", page, groups=groups)

    @router.get("/admin")
    def admin(request: Request) -> Response:
        with page_tx(request) as page:
            return admin_page(request, page)

    @router.post("/admin/tokens")
    def new_token(request: Request, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            _require_admin(page)
            try:
                user = find_user(page.ctx, text(form, "user"))
                scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
                issued = create_token(page.ctx, user, text(form, "name"), scopes)
            except PlumbError as exc:
                if isinstance(exc, NotAuthenticated):
                    raise
                page.rollback()
                return admin_page(request, page, status=exc.status, error=str(exc))
            shown = {"id": issued.token.id, "name": issued.token.name, "secret": issued.secret}
            return admin_page(request, page, issued=shown, status=201)

    @router.post("/admin/tokens/{token_id}/revoke")
    def revoke(request: Request, token_id: str, form: FormData = Depends(form_of)) -> Response:
        with page_tx(request, form=form) as page:
            _require_admin(page)
            revoke_token(page.ctx, token_id)
        return redirect("/admin#tokens")

    @router.post("/admin/outbox/{message_id}/replay")
    def replay_one(
        request: Request, message_id: str, form: FormData = Depends(form_of)
    ) -> Response:
        with page_tx(request, form=form) as page:
            replay(page.ctx, message_id)
        return redirect("/admin#outbox")

    return router
