"""Signing in and out with a password: the session cookie the web UI (and any browser) uses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from plumb.access.sessions import COOKIE, cookie_options, session_actor, sign_in, sign_out
from plumb.access.users import user_json
from plumb.api.deps import json_body, runtime_of, transaction
from plumb.core.actor import Source, system_actor
from plumb.core.clock import isoformat
from plumb.core.errors import BadRequest, NotAuthenticated, PlumbError, TooManyAttempts
from plumb.models import User


def auth_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])

    @router.post("/login", summary="Sign in with e-mail and password; sets the session cookie")
    async def login(request: Request) -> JSONResponse:
        body = await json_body(request)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("email", "password")
        ):
            raise BadRequest('send {"email": "...", "password": "..."}')
        rt = runtime_of(request)
        address = request.client.host if request.client else None
        client = f"{address or '?'} {request.headers.get('user-agent', '')}"
        with rt.db.write_session() as session:
            ctx = rt.ctx(session, system_actor(Source.UI, "sign-in"))
            try:
                signed = sign_in(
                    ctx,
                    rt.settings,
                    body["email"],
                    body["password"],
                    address=address,
                    client=client,
                )
                error: PlumbError | None = None
            except (NotAuthenticated, TooManyAttempts) as exc:
                error = exc  # the attempt is recorded and committed, then refused
        if error is not None:
            raise error
        response = JSONResponse(
            {
                "user": user_json(signed.user),
                "csrf_token": signed.session.csrf_token,
                "expires_at": isoformat(signed.session.expires_at),
            }
        )
        response.set_cookie(COOKIE, signed.secret, **cookie_options(rt.settings))
        return response

    @router.get("/session", summary="The signed-in user and the session's CSRF token")
    def current(request: Request) -> JSONResponse:
        rt = runtime_of(request)
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise NotAuthenticated("not signed in")
        with rt.db.write_session() as session:
            ctx = rt.ctx(session, system_actor(Source.UI, "session"))
            actor, web = session_actor(ctx, cookie)
            user = session.get_one(User, actor.user_id)
            body: dict[str, Any] = {
                "user": user_json(user),
                "csrf_token": web.csrf_token,
                "expires_at": isoformat(web.expires_at),
            }
        return JSONResponse(body)

    @router.post("/logout", summary="Sign out (needs the CSRF token)")
    def logout(request: Request) -> JSONResponse:
        cookie = request.cookies.get(COOKIE)
        with transaction(request, write=True) as ctx:
            if cookie:
                _, web = session_actor(ctx, cookie)
                sign_out(ctx, web)
        response = JSONResponse({"signed_out": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
