"""Take the screenshots of docs/screenshots (run through scripts/screenshots)."""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from plumb.access.users import set_password
from plumb.api.app import create_app
from plumb.core.actor import system_actor
from plumb.core.settings import Settings
from plumb.demo.generator import ADMIN_EMAIL, load_demo
from plumb.models import Contact, User
from plumb.runtime import Runtime

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "screenshots only 123"  # noqa: S105 - a throwaway database
WIDTHS = {1280: 900, 390: 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="plumb-shots-"))
    settings = Settings(database_url=f"sqlite:///{folder}/plumb.db", cookie_secure=False)
    rt = Runtime.from_settings(settings)
    rt.start()
    load_demo(rt, contacts=400)
    with rt.transaction(system_actor()) as ctx:
        rep = ctx.session.scalars(
            select(User).where(User.role == "rep").order_by(User.name)
        ).first()
        assert rep is not None
        set_password(ctx, rep.email, PASSWORD)
        set_password(ctx, ADMIN_EMAIL, PASSWORD)
        rep_email, rep_id = rep.email, rep.id
    with rt.reading(system_actor()) as ctx:
        contact_id = ctx.session.scalars(
            select(Contact.id)
            .where(Contact.owner_id == rep_id, Contact.archived.is_(False))
            .limit(1)
        ).one()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(parents=True, exist_ok=True)
    shots = {
        "home": "/",
        "contacts": "/contacts?sort=-updated_at",
        "contact": f"/contacts/{contact_id}",
        "pipeline": "/pipeline/sales",
        "gaps": "/gaps",
        "import": "/import",
        "glossary": "/glossary",
    }
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for width, height in WIDTHS.items():
                for who, pages in (
                    (rep_email, shots),
                    (ADMIN_EMAIL, {"admin": "/admin", "duplicates": "/duplicates/contacts"}),
                ):
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    page.goto(f"{base}/login")
                    if who == rep_email:
                        page.screenshot(path=OUT / f"login-{width}.png")
                    sign_in(page, base, who)
                    for name, url in pages.items():
                        page.goto(base + url)
                        page.screenshot(path=OUT / f"{name}-{width}.png", full_page=width > 400)
                        print(f"{name}-{width}.png")
                    context.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
