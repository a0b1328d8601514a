"""What every page needs: the signed-in user's transaction, CSRF checks, rendering, errors.

A page opens ``page_tx(request, form=...)``: the session cookie names the user, a form that
changes anything must carry the session's CSRF token in ``csrf_token``, and the work runs in
one transaction committed when the block ends. Errors a page does not handle itself become an
HTML error page (401 redirects to the sign-in page) through ``PageRoute``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from plumb.access import authz
from plumb.access.sessions import COOKIE, check_csrf, session_actor
from plumb.core.actor import Source, system_actor
from plumb.core.context import Ctx
from plumb.core.errors import CsrfFailed, NotAuthenticated, PlumbError
from plumb.models import User, WebSession
from plumb.runtime import Runtime
from plumb.web import views

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FRAGMENT_HEADER = "x-plumb-fragment"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals.update(views.TEMPLATE_GLOBALS)
env.filters.update(views.TEMPLATE_FILTERS)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass
class Page:
    """One page request: the transaction's context, the signed-in user and the session."""

    request: Request
    ctx: Ctx
    user: User
    web: WebSession

    @property
    def csrf(self) -> str:
        return self.web.csrf_token

    def may(self, obj: str, action: str) -> bool:
        return authz.may(self.ctx, obj, action)

    @property
    def is_admin(self) -> bool:
        return authz.is_admin(self.ctx)

    def rollback(self) -> None:
        """Drop what a refused write may have started; the session stays usable for reading."""
        self.ctx.session.rollback()


async def form_of(request: Request) -> FormData:
    """The submitted form (urlencoded or multipart), read before a sync handler runs."""
    return await request.form()


@contextmanager
def page_tx(request: Request, *, form: FormData | None = None) -> Iterator[Page]:
    """The signed-in user's transaction. With ``form``, the CSRF token must match."""
    rt = runtime_of(request)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise NotAuthenticated("sign in to continue")
    session = rt.db.session(write=form is not None)
    try:
        ctx = rt.ctx(session, system_actor(Source.UI, "unauthenticated"))
        actor, web = session_actor(ctx, cookie, source=Source.UI)
        if form is not None:
            token = form.get("csrf_token")
            if not check_csrf(web, token if isinstance(token, str) else None):
                raise CsrfFailed("the form is missing the session's CSRF token; reload the page")
        ctx.actor = actor
        user = session.get_one(User, actor.user_id)
        yield Page(request, ctx, user, web)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def render(
    request: Request, template: str, page: Page | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    body = env.get_template(template).render(
        request=request, page=page, path=request.url.path, **context
    )
    return HTMLResponse(body, status_code=status)


def wants_fragment(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def redirect(url: str) -> RedirectResponse:
    """After a successful form post: see the result with a GET (303)."""
    return RedirectResponse(url, status_code=303)


def text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def error_page(request: Request, exc: PlumbError) -> Response:
    if isinstance(exc, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/login?next={quote(target)}")
    return render(request, "error.html", None, status=exc.status, error=exc)


class PageRoute(APIRoute):
    """A route whose domain errors become HTML pages instead of problem JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except PlumbError as exc:
                return error_page(request, exc)

        return handler
