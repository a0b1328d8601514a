"""Errors as RFC 9457 problem+json. Expected failures are 4xx; anything else is a 500 that
says so without leaking internals (the detail goes to the server log)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from plumb.core.errors import PlumbError

log = logging.getLogger("plumb.api")
PROBLEM = "application/problem+json"


def problem_response(error: PlumbError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if error.status == 429 and "retry_after" in error.extra:
        headers = {"Retry-After": str(error.extra["retry_after"])}
    return JSONResponse(
        error.problem(), status_code=error.status, media_type=PROBLEM, headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(PlumbError)
    async def _plumb(_: Request, exc: PlumbError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path")),
                "rule": err["type"],
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        body = {
            "type": "/problems/bad_request",
            "title": "The request could not be understood",
            "status": 422,
            "detail": "the request's parameters did not validate",
            "code": "bad_request",
            "errors": errors,
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {
            "type": f"/problems/{code}",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": code,
        }
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {
            "type": "/problems/internal_error",
            "title": "Internal error",
            "status": 500,
            "detail": "the server failed; nothing was written. The error is in the server log.",
            "code": "internal_error",
        }
        return JSONResponse(body, status_code=500, media_type=PROBLEM)
