"""The Reports and Checks pages in a real browser (Chromium through Playwright), on SQLite: the
figures and annotations come from the reports and checks tested on both backends in
``test_reports*.py`` and ``test_checks*.py``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumb.core.settings import Settings
from plumb.records import operations as ops
from plumb.runtime import Runtime
from tests.conftest import Admin, operator
from tests.web_support import PASSWORD, add_person, chromium, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "plumb.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        workspace=tmp_path / "plumb.yaml",
        chain_lanes=1,
        cookie_secure=False,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, rt: Runtime, admin: Admin) -> Iterator[Any]:
    add_person(rt, "ada.web@example.com", "Ada Lovelace", "admin")
    with serve(rt) as url:
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        tab = context.new_page()
        yield tab
        context.close()


def test_reports_page_shows_a_chart_and_an_annotation_that_leads_to_the_records(
    page: Any, rt: Runtime
) -> None:
    with rt.transaction(operator()) as ctx:
        acme = ops.create(ctx, "company", {"name": "Acme Inc", "domain": "acme.com"}).id
        ops.create(
            ctx,
            "deal",
            {"name": "Kept", "pipeline": "sales", "stage": "qualification", "company_id": acme},
        )
        lonely = ops.create(
            ctx,
            "deal",
            {"name": "Lonely", "pipeline": "sales", "stage": "qualification", "amount": "250"},
        ).id
    page.goto("/reports")
    page.get_by_label("E-mail address").fill("ada.web@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/reports")

    assert page.locator("[data-testid=chart] svg").count() == 1
    row = page.get_by_test_id("report").locator("tr", has_text="qualification")
    assert row.locator("td").nth(3).inner_text() == "2"  # count
    flag = row.get_by_test_id("flag-orphaned")
    assert flag.inner_text() == "1 orphaned"
    csv = page.request.get("/reports/pipeline/export?format=csv")
    assert csv.ok and "qualification" in csv.text()

    flag.click()
    page.wait_for_url(re.compile(r"/checks\?.*indicator=linkage"))
    findings = page.get_by_test_id("findings")
    assert findings.locator("tbody tr").count() == 1
    assert "no company and no contact" in findings.inner_text()
    findings.get_by_role("link").click()
    page.wait_for_url(f"**/deals/{lonely}")

    page.goto("/reports/funnel?as_of=2026-03-01")
    assert "Funnel" in page.get_by_role("heading", level=2).inner_text()
    assert page.get_by_label("From").count() == 1
    page.goto("/checks?object=deal")
    summary = page.get_by_test_id("check-summary")
    assert summary.locator("tr", has_text="deal.orphan").locator("td").nth(1).inner_text() == "1"
