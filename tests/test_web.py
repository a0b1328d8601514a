"""The web UI in a real browser: Chromium through Playwright against a uvicorn server.

These run on SQLite only: the pages call the same queries and operations as the API, whose
PostgreSQL half is covered by the API tests, and the few reads of their own (board totals,
labels, creation sources) are checked on both backends in ``test_web_pages.py``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.settings import Settings
from plumb.records import operations as ops
from plumb.runtime import Runtime
from plumb.web.imports import UPLOADS
from plumb.workspace.loader import default_text
from tests.conftest import Admin
from tests.web_support import PASSWORD, add_person, chromium, serve

pytestmark = pytest.mark.browser

ROUTING = {
    "integrity_owner": "ada@example.com",
    "routing": {
        "leads": {
            "object": "contact",
            "on_create": True,
            "if": "lifecycle_stage == 'lead'",
            "territories": [{"name": "west", "match": {"region": ["US-CA"]}, "team": "west"}],
            "fallback": "ada@example.com",
        }
    },
}


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "plumb.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    data = yaml.safe_load(default_text())
    data.update(ROUTING)
    path = tmp_path / "plumb.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return Settings(database_url=database_url, workspace=path, chain_lanes=1, cookie_secure=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def site(rt: Runtime, admin: Admin) -> Iterator[str]:
    add_person(rt, "ada.web@example.com", "Ada Lovelace", "admin")
    with serve(rt) as url:
        yield url


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, email: str = "ada.web@example.com", start: str = "/") -> None:
    page.goto(start)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def person(rt: Runtime, email: str) -> Actor:
    from plumb.access.users import find_user

    with rt.reading(Actor(ActorKind.SYSTEM, Source.CLI, "tests")) as ctx:
        user = find_user(ctx, email)
        return Actor(ActorKind.USER, Source.CLI, email, user.id, user.id, user.role)


def test_sign_in_create_a_contact_edit_inline_and_log_a_call(page: Any, rt: Runtime) -> None:
    page.goto("/contacts")
    assert "/login" in page.url  # signed out: sent to sign in, then back
    page.get_by_label("E-mail address").fill("ada.web@example.com")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "the e-mail address or the password is wrong"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/contacts")
    assert page.get_by_test_id("current-user").inner_text() == "Ada Lovelace admin"

    page.get_by_role("link", name="New contact").click()
    page.get_by_label("First name").fill("Zoe")
    page.get_by_label("Last name").fill("Quinn")
    page.get_by_label("E-mail addresses").fill("ZOE@Example.COM ")
    page.get_by_label("Phone numbers").fill("(415) 555-0134")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/contacts/[0-9A-Z]{26}$"))
    assert page.get_by_test_id("value-phones").inner_text() == "+14155550134"
    assert page.get_by_test_id("value-emails").inner_text() == "ZOE@example.com"  # domain only
    record_url = page.url

    # Inline edit without a reload (the field's fragment is swapped in).
    page.evaluate("window.__same_page = true")
    page.locator("#field-job_title summary").click()
    page.locator("#e-job_title").fill("CTO")
    page.locator("#field-job_title").get_by_role("button", name="Save").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=value-job_title]').innerText === 'CTO'"
    )
    assert page.evaluate("window.__same_page") is True

    # A stage gate is refused at the field, naming what is missing.
    page.locator("#field-lifecycle_stage summary").click()
    page.locator("#e-lifecycle_stage").select_option("sql")
    page.locator("#field-lifecycle_stage").get_by_role("button", name="Save").click()
    error = page.locator("#error-lifecycle_stage")
    error.wait_for()
    assert "Lead source is required to enter Sales qualified lead" in error.inner_text()

    # Someone else changes the title meanwhile: our stale edit shows both values.
    page.goto(record_url)
    page.locator("#field-job_title summary").click()
    with rt.transaction(person(rt, "ada@example.com")) as ctx:
        from plumb.records import queries

        contact = queries.get(ctx, "contact", record_url.rsplit("/", 1)[1])
        ops.update(ctx, "contact", contact, {"job_title": "Founder"})
    page.locator("#e-job_title").fill("CEO")
    page.locator("#field-job_title").get_by_role("button", name="Save").click()
    page.get_by_test_id("theirs").wait_for()
    assert page.get_by_test_id("theirs").inner_text() == "Founder"
    assert page.get_by_test_id("yours").inner_text() == "CEO"
    page.locator("#field-job_title").get_by_role("button", name="Save mine").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=value-job_title]').innerText === 'CEO'"
    )

    page.get_by_label("Type").select_option("call")
    page.get_by_label("Subject").fill("Intro call")
    page.get_by_role("button", name="Log it").click()
    page.wait_for_url(f"{record_url}#timeline")
    first = page.locator(".timeline .entry.activity").first
    assert "Call: Intro call" in first.inner_text()
    assert first.locator(".source").inner_text().lower() == "person"
    timeline = page.locator(".timeline").inner_text()
    assert "CTO → CEO" not in timeline and "Founder → CEO" in timeline

    # A change without the session's CSRF token is refused and writes nothing.
    refused = page.request.post(
        f"{record_url}/fields/job_title", form={"version": "9", "f.job_title": "Hacker"}
    )
    assert refused.status == 403
    page.reload()
    assert page.get_by_test_id("value-job_title").inner_text() == "CEO"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(record_url)
    assert "/login" in page.url


def test_dragging_a_deal_across_a_gated_stage_asks_for_the_fields(page: Any, rt: Runtime) -> None:
    actor = person(rt, "ada.web@example.com")
    with rt.transaction(actor) as ctx:
        deal = ops.create(
            ctx, "deal", {"name": "Acme renewal", "pipeline": "sales", "stage": "qualification"}
        )
    sign_in(page, start="/pipeline/sales")
    assert page.get_by_test_id("count-qualification").inner_text() == "1 deal"
    page.drag_and_drop(f"#deal-{deal.id}", ".column[data-stage=proposal_sent]")
    gate = page.get_by_test_id("gate-form")
    gate.wait_for()
    labels = gate.locator("label").all_inner_texts()
    assert labels == ["Amount", "Close date"]
    gate.get_by_label("Amount").fill("12000")
    gate.get_by_label("Close date").fill("2026-06-30")
    gate.get_by_role("button", name="Fill in and move").click()
    page.wait_for_url(f"**/pipeline/sales#deal-{deal.id}")
    column = page.locator(".column[data-stage=proposal_sent]")
    assert "Acme renewal" in column.inner_text()
    assert page.get_by_test_id("count-proposal_sent").inner_text() == "1 deal"
    assert column.locator(".sums").inner_text() == "12,000.00 USD · weighted 6,000.00 USD"


def test_a_gap_appears_and_closes(page: Any, rt: Runtime) -> None:
    add_person(rt, "west@example.com", "Wes West", "rep")
    with rt.transaction(person(rt, "ada@example.com")) as ctx:
        from plumb.access.users import find_user, update_user

        update_user(ctx, find_user(ctx, "west@example.com"), team_id=None)
    sign_in(page, start="/contacts/new")
    page.get_by_label("First name").fill("Lea")
    page.get_by_label("Lifecycle stage").select_option("lead")
    page.get_by_label("Lead source").select_option("website")
    page.get_by_label("Country").fill("US")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/contacts/[0-9A-Z]{26}$"))
    record_url = page.url

    page.get_by_role("link", name="Gaps").click()
    rows = page.get_by_test_id("gaps").locator("tbody tr")
    assert rows.count() == 1
    assert "routing.leads" in rows.first.inner_text() and "region" in rows.first.inner_text()
    rows.first.get_by_role("link").click()
    assert page.url == record_url
    page.locator("#field-region summary").click()
    page.locator("#e-region").fill("Nevada")
    page.locator("#field-region").get_by_role("button", name="Save").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=value-region]').innerText === 'US-NV'"
    )
    page.goto("/gaps")
    assert "No open gaps." in page.get_by_test_id("gaps").inner_text()


def test_an_import_with_a_bad_row_gives_an_error_file_and_can_be_undone(
    page: Any, tmp_path: Path
) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "First Name,Last Name,Email,Phone,Role in firm\n"
        "Ann,Alder,ann@example.com,+1 415 555 0101,Buyer\n"
        "Bob,Birch,not-an-address,+1 415 555 0102,Owner\n"
        "Cy,Cedar,cy@example.com,+1 415 555 0103,CFO\n",
        "utf-8",
    )
    sign_in(page, start="/import")
    page.get_by_label("Records to import").select_option("contact")
    page.get_by_label("CSV or XLSX file").set_input_files(str(source))
    page.get_by_role("button", name="Upload and check").click()
    dry = page.get_by_test_id("dry-run").inner_text()
    assert "2 new" in dry.replace("\n", " ") and "1 invalid" in dry.replace("\n", " ")
    assert page.get_by_label("Email", exact=True).input_value() in ("emails", "email")
    assert page.get_by_label("Role in firm").input_value() == "skip"  # no field of that name
    page.get_by_label("Role in firm").select_option(label="Job title")  # edit the mapping
    page.get_by_label("Phone", exact=True).select_option("skip")
    page.get_by_role("button", name="Check again with this mapping").click()
    assert "As you edited it." in page.get_by_test_id("mapping-intro").inner_text()
    assert page.get_by_label("Role in firm").input_value() == "job_title"
    dry = page.get_by_test_id("dry-run").inner_text().replace("\n", " ")
    assert "2 new" in dry and "1 invalid" in dry
    action = page.locator("form[action$='/mapping']").get_attribute("action") or ""
    upload = UPLOADS / action.split("/")[2]
    assert (upload / "people.csv").exists() and (upload / "mapping.yaml").exists()
    page.get_by_role("button", name=re.compile(r"^Import 2 rows")).click()
    page.get_by_test_id("error-file").wait_for()
    assert not upload.exists()  # the uploaded file is removed once the import is done
    assert page.get_by_test_id("import-state").inner_text() == "Finished: done"
    with page.expect_download() as info:
        page.get_by_test_id("error-file").click()
    errors = Path(info.value.path()).read_text("utf-8")
    assert errors.splitlines()[0] == "row,column,value,rule,message"
    assert "not-an-address" in errors and errors.count("\n") == 2

    page.goto("/contacts")
    assert page.locator("table.list tbody tr").count() == 2
    page.get_by_role("link", name="Ann Alder").click()
    assert page.get_by_test_id("value-job_title").inner_text() == "Buyer"
    assert page.get_by_test_id("value-phones").inner_text() == "—"  # the column was left out
    page.goto("/import")
    page.get_by_role("button", name="Undo import people.csv").click()
    page.wait_for_url("**/import#runs")
    assert "undone" in page.locator("#runs tbody tr").first.inner_text()
    page.goto("/contacts")
    assert "No contacts match." in page.locator("table.list").inner_text()


def test_a_viewer_never_sees_a_hidden_field(browser: Any, site: str, rt: Runtime) -> None:
    with rt.transaction(person(rt, "ada.web@example.com")) as ctx:
        contact = ops.create(
            ctx, "contact", {"first_name": "Pat", "last_name": "Secret", "phones": ["415 555 0177"]}
        )
        ops.update(ctx, "contact", contact, {"phones": ["415 555 0178"]})
    add_person(rt, "vic@example.com", "Vic Viewer", "viewer")
    context = browser.new_context(base_url=site)
    tab = context.new_page()
    try:
        sign_in(tab, "vic@example.com", start="/contacts")
        assert tab.get_by_test_id("current-user").inner_text() == "Vic Viewer viewer"
        pages = ["/contacts", f"/contacts/{contact.id}", "/", "/contacts?q=pat"]
        for url in pages:
            tab.goto(url)
            html = tab.content()
            for secret in ("555", "0177", "0178", "Phone numbers"):
                assert secret not in html, f"{secret} on {url}"
        tab.goto(f"/contacts/{contact.id}")
        assert tab.get_by_text("Pat Secret").count() >= 1
        assert tab.locator("details.edit").count() == 0  # a viewer edits nothing
        tab.goto("/contacts?phones=%2B14155550178")
        assert "has no field 'phones'" in tab.get_by_role("alert").inner_text()
    finally:
        context.close()


def test_merge_side_by_side_then_undo(page: Any, rt: Runtime) -> None:
    with rt.transaction(person(rt, "ada.web@example.com")) as ctx:
        keep = ops.create(
            ctx, "contact", {"first_name": "Ann", "last_name": "Alder", "emails": ["ann@a.example"]}
        )
        dupe = ops.create(
            ctx,
            "contact",
            {"first_name": "Annie", "last_name": "Alder", "emails": ["annie@b.example"]},
        )
    sign_in(page, start=f"/contacts/{keep.id}")
    page.get_by_label("Id of the duplicate contact").fill(dupe.id)
    page.get_by_role("button", name="Compare side by side").click()
    table = page.get_by_test_id("merge-table")
    first_row = table.locator("tbody tr").first
    assert "First name" in first_row.inner_text()
    first_row.get_by_label("Annie for First name").check()
    page.get_by_role("button", name="Merge into Ann Alder").click()
    page.wait_for_url(re.compile(r"/merges\?done="))
    assert page.get_by_role("status").inner_text() == "Merged. You can undo it below."

    page.goto(f"/contacts/{dupe.id}")  # the merged id leads to the survivor
    assert page.url.endswith(f"/contacts/{keep.id}")
    assert page.get_by_test_id("value-first_name").inner_text() == "Annie"
    emails = page.get_by_test_id("value-emails").inner_text()
    assert "ann@a.example" in emails and "annie@b.example" in emails
    assert page.locator(".timeline .source-merge").count() >= 1

    page.goto("/merges")
    page.get_by_role("button", name=re.compile(r"^Undo merge")).click()
    page.get_by_test_id("undone").wait_for()
    page.goto(f"/contacts/{dupe.id}")
    assert page.url.endswith(f"/contacts/{dupe.id}")
    assert page.get_by_test_id("value-first_name").inner_text() == "Annie"
    page.goto(f"/contacts/{keep.id}")
    assert page.get_by_test_id("value-first_name").inner_text() == "Ann"


def test_bulk_set_a_field_with_a_preview_then_undo(page: Any, rt: Runtime) -> None:
    with rt.transaction(person(rt, "ada.web@example.com")) as ctx:
        made = [
            ops.create(ctx, "contact", {"first_name": name, "lifecycle_stage": "subscriber"})
            for name in ("Ann", "Ben", "Cal")
        ]
    sign_in(page, start="/contacts?sort=first_name")
    for contact in made:
        page.locator(f"#sel-{contact.id}").check()
    page.get_by_label("Action").select_option("set")
    page.get_by_label("Field (set)").select_option("lifecycle_stage")
    page.get_by_label("Value (set)").fill("sql")  # needs lead source and phone: refused
    page.get_by_role("button", name="Preview").click()
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Preview: 0 of 3 contacts would change"
    )
    assert page.locator(".entry.refused").count() == 3
    page.go_back()
    page.get_by_label("Value (set)").fill("Lead")
    page.get_by_label("Field (set)").select_option("lead_source")
    page.get_by_label("Value (set)").fill("web")  # a synonym: standardized to the value
    page.get_by_role("button", name="Preview").click()
    results = page.get_by_test_id("bulk-results").inner_text()
    assert results.count("Lead source: — → website") == 3
    page.goto("/contacts?lead_source=website")
    assert "No contacts match." in page.locator("table.list").inner_text()  # preview wrote nothing
    page.go_back()
    page.get_by_role("button", name="Apply to 3 contacts").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Changed 3 of 3 contacts"
    undo = page.get_by_role("button", name="Undo these changes")

    with rt.transaction(person(rt, "ada@example.com")) as ctx:  # one changes meanwhile
        from plumb.records import queries

        ops.update(ctx, "contact", queries.get(ctx, "contact", made[0].id), {"job_title": "Chef"})
    undo.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Undone: 2 of 3 contacts put back"
    assert "left as it is" in page.locator(".entry.refused").inner_text()
    page.goto("/contacts?lead_source=website")
    assert page.locator("table.list tbody tr").count() == 1


def test_duplicates_queue_explains_a_pair_then_not_a_duplicate_and_merge(
    page: Any, rt: Runtime
) -> None:
    from plumb.identity import queue
    from plumb.models import MatchDecision

    ada = person(rt, "ada.web@example.com")
    flagging = Actor(ActorKind.USER, Source.API, ada.label, ada.id, ada.user_id, ada.role)
    with rt.transaction(flagging) as ctx:  # API writes flag likely duplicates into the queue
        acme = ops.create(ctx, "company", {"name": "Acme Tools"})
        jon, john = (
            ops.create(
                ctx,
                "contact",
                {
                    "first_name": first,
                    "last_name": "Smith",
                    "emails": ["js@x.example"],
                    "company_id": acme.id,
                },
            )
            for first in ("Jon", "John")
        )
        mary = ops.create(
            ctx, "contact", {"first_name": "Mary", "last_name": "Major", "emails": ["m@y.example"]}
        )
        marie = ops.create(
            ctx, "contact", {"first_name": "Marie", "last_name": "Major", "emails": ["m@y.example"]}
        )
    first = "-".join(sorted((jon.id, john.id)))
    second = "-".join(sorted((mary.id, marie.id)))

    sign_in(page)
    tile = page.get_by_role("link", name=re.compile("likely duplicate contacts to review"))
    assert tile.inner_text().startswith("2")
    tile.click()
    page.wait_for_url("**/duplicates/contacts")
    assert page.get_by_role("heading", level=2, name="2 pairs to review").count() == 1
    pair = page.locator(f"#pair-{first}")
    assert "Jon Smith" in pair.inner_text() and "John Smith" in pair.inner_text()
    explained = pair.get_by_test_id("explanation").locator("tbody tr")
    rows = {
        r.locator("th").inner_text(): r.locator("td").all_inner_texts() for r in explained.all()
    }
    assert rows["E-mail addresses"][:3] == ["js@x.example", "js@x.example", "exact"]
    assert float(rows["E-mail addresses"][3]) > 0
    assert sorted(rows["First name"][:2]) == ["John", "Jon"] and rows["First name"][2] != "exact"
    assert rows["Primary company"][:3] == ["Acme Tools", "Acme Tools", "exact"]  # names, not ids
    weights = sum(float(r[3]) for r in rows.values())
    assert abs(weights - float(pair.get_by_test_id("score").inner_text())) < 0.2

    pair.get_by_role("button", name=re.compile("^Not a duplicate")).click()
    page.wait_for_url(re.compile(r"/duplicates/contacts\?done="))
    assert "are not duplicates" in page.get_by_role("status").inner_text()
    assert page.locator(f"#pair-{first}").count() == 0
    assert page.get_by_test_id("pair").count() == 1
    with rt.reading(ada) as ctx:
        assert queue.listing(ctx, "contact")[1] == 1
        decided = ctx.session.query(MatchDecision).one()
        assert (decided.record_a, decided.record_b, decided.decision) == (
            *sorted((jon.id, john.id)),
            "distinct",
        )

    page.locator(f"#pair-{second}").get_by_role(
        "link", name=re.compile("^Compare and merge")
    ).click()
    page.get_by_test_id("merge-table").wait_for()
    page.get_by_role("button", name=re.compile("^Merge into")).click()
    page.wait_for_url(re.compile(r"/merges\?done="))
    page.goto("/duplicates/contacts")
    assert "No likely duplicates to review." in page.get_by_test_id("pairs").inner_text()
