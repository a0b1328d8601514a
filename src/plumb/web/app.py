"""Mounting the web UI on the FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from plumb.web.admin import admin_router
from plumb.web.auth import auth_router
from plumb.web.board import board_router
from plumb.web.bulk import bulk_router
from plumb.web.core import STATIC
from plumb.web.duplicates import duplicates_router
from plumb.web.imports import imports_router
from plumb.web.merges import merges_router
from plumb.web.records import records_router
from plumb.web.reports import reports_router


def install_web(app: FastAPI) -> None:
    """The pages and their static files (served from the package: no CDN, no build step)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (
        auth_router(),
        records_router(),
        board_router(),
        admin_router(),
        imports_router(),
        bulk_router(),
        merges_router(),
        reports_router(),
        duplicates_router(),
    ):
        app.include_router(router)
