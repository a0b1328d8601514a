"""What every API request needs: the runtime, the actor, and a transaction.

Handlers open the transaction themselves (``with transaction(request, write=True) as ctx``) and
build the response after the block, so the commit has happened before the client hears success.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request

from plumb.access.sessions import COOKIE, check_csrf, session_actor
from plumb.access.tokens import authenticate
from plumb.core.actor import Actor, Source, system_actor
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest, CsrfFailed, NotAuthenticated, PreconditionRequired
from plumb.identity.entry import ALLOW_DUPLICATE
from plumb.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("the Authorization header must be: Bearer plumb_...")
    return value.strip()


def authenticate_request(request: Request, ctx: Ctx) -> Actor:
    """The actor of an API token (``Authorization: Bearer``) or of a signed-in browser session
    (cookie), in that order. A cookie-authenticated request that changes anything must carry
    the session's CSRF token in ``X-CSRF-Token``."""
    now = ctx.now()
    secret = _bearer(request)
    if secret is not None:
        return authenticate(ctx, secret, now, Source.API)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        actor, web = session_actor(ctx, cookie)
        if request.method not in SAFE_METHODS and not check_csrf(
            web, request.headers.get("x-csrf-token")
        ):
            raise CsrfFailed(
                "a signed-in browser must send the session's CSRF token (X-CSRF-Token) with "
                "every change"
            )
        return actor
    raise NotAuthenticated(
        "send an API token: Authorization: Bearer plumb_... (create one with "
        "`plumb tokens create`), or sign in (POST /api/v1/auth/login)"
    )


@contextmanager
def transaction(request: Request, *, write: bool) -> Iterator[Ctx]:
    """Authenticate and run the handler's work in one transaction (committed on exit)."""
    rt = runtime_of(request)
    correlation = request.headers.get("x-correlation-id")
    session = rt.db.session(write=write)
    try:
        ctx = rt.ctx(session, system_actor(Source.API, "unauthenticated"))
        ctx.actor = authenticate_request(request, ctx)
        if correlation:
            ctx.correlation_id = correlation[:64]
        if write and request.query_params.get("allow_duplicate", "").lower() in ("1", "true"):
            ctx.flags = ctx.flags | {ALLOW_DUPLICATE}
        yield ctx
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


def if_match(request: Request, *, required: bool) -> int | None:
    """The version named by If-Match (``"3"``, ``W/"3"``); None for ``*`` or when absent."""
    header = request.headers.get("if-match")
    if header is None:
        if required:
            raise PreconditionRequired(
                "send If-Match with the version you read (the ETag of GET), or If-Match: * "
                "to overwrite whatever is there"
            )
        return None
    value = header.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadRequest(f"If-Match {header!r} is not a version Plumb issued")
    return int(value)


def etag(version: int) -> str:
    return f'"{version}"'
