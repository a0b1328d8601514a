"""The pages without a browser, on SQLite and PostgreSQL: the reads the web UI makes of its own
(board totals, labels, activity sources), CSRF, hidden fields and keyset pages."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from plumb.access.users import find_user
from plumb.api.app import create_app
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.clock import FixedClock, isoformat
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime
from tests.conftest import Admin, operator
from tests.web_support import PASSWORD, add_person


def actor_for(rt: Runtime, email: str) -> Actor:
    with rt.reading(operator()) as ctx:
        user = find_user(ctx, email)
        return Actor(ActorKind.USER, Source.CLI, email, user.id, user.id, user.role)


def signed_in(rt: Runtime, email: str) -> tuple[TestClient, str]:
    client = TestClient(create_app(rt), base_url="https://testserver")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    return client, csrf.group(1)


@pytest.fixture
def ada(rt: Runtime, admin: Admin) -> Iterator[tuple[TestClient, str]]:
    add_person(rt, "ada.web@example.com", "Ada Lovelace", "admin")
    client, csrf = signed_in(rt, "ada.web@example.com")
    with client:
        yield client, csrf


def test_board_totals_count_amount_and_weight_per_stage(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, _ = ada
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:
        for name, amount, currency in (
            ("One", "1000.50", "USD"),
            ("Two", "2000", "USD"),
            ("Drei", "500", "EUR"),
        ):
            ops.create(
                ctx,
                "deal",
                {
                    "name": name,
                    "pipeline": "sales",
                    "stage": "negotiation",
                    "amount": amount,
                    "currency": currency,
                    "close_date": "2026-05-01",
                },
            )
    html = client.get("/pipeline/sales").text
    column = html.split('data-stage="negotiation"')[1].split("</section>")[0]
    assert "3 deals" in column  # amounts in different currencies are never added up
    assert "<li>500.00 EUR · weighted 375.00 EUR</li>" in column
    assert "<li>3,000.50 USD · weighted 2,250.38 USD</li>" in column
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:
        won = {**{"pipeline": "sales", "close_date": "2026-05-01"}, "stage": "closed_won"}
        ops.create(ctx, "deal", {**won, "name": "Won", "amount": "9000", "currency": "USD"})
    board = client.get("/pipeline/sales").text
    head = board.split('data-testid="open-totals">')[1].split("</p>")[0]
    text = re.sub(r"<[^>]+>", "", head)  # the open pipeline only: the won deal is not in it
    assert text == "Open: 500.00 EUR weighted 375.00 EUR · 3,000.50 USD weighted 2,250.38 USD"
    listed = client.get("/deals?q=e").text  # "One" and "Drei": per currency
    line = listed.split('data-testid="amount-totals">')[1].split("</p>")[0]
    assert re.sub(r"<[^>]+>", "", line) == "Amount, all pages: 500.00 EUR (1) · 1,000.50 USD (1)"


def test_a_form_without_the_csrf_token_changes_nothing(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, csrf = ada
    refused = client.post("/contacts", data={"f.first_name": "Eve"}, follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    wrong = client.post(
        "/contacts", data={"f.first_name": "Eve", "csrf_token": csrf[::-1]}, follow_redirects=False
    )
    assert wrong.status_code == 403
    assert "No contacts match." in client.get("/contacts").text
    made = client.post(
        "/contacts", data={"f.first_name": "Eve", "csrf_token": csrf}, follow_redirects=False
    )
    assert made.status_code == 303


def test_lists_page_by_keyset_and_hide_fields_a_role_may_not_see(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, _ = ada
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:
        ops.create_many(
            ctx,
            "contact",
            [{"first_name": f"P{i:03}", "phones": [f"+1415555{i:04}"]} for i in range(60)],
        )
    first = client.get("/contacts?sort=first_name").text
    assert first.count('<th scope="row">') == 50
    assert "+14155550000" in first
    cursor = re.search(r'href="\?sort=first_name&amp;cursor=([^"]+)" rel="next"', first)
    assert cursor is not None
    second = client.get(f"/contacts?sort=first_name&cursor={cursor.group(1)}").text
    assert second.count('<th scope="row">') == 10
    assert "P059" in second and "P000" not in second
    assert 'rel="next"' not in second

    add_person(rt, "vic@example.com", "Vic Viewer", "viewer")
    viewer, _ = signed_in(rt, "vic@example.com")
    with viewer:
        listed = viewer.get("/contacts?sort=first_name").text
        assert "P000" in listed and "+1415555" not in listed and "Phone" not in listed
        sorted_by_phone = viewer.get("/contacts?sort=phones")
        assert sorted_by_phone.status_code == 422


def test_the_timeline_marks_each_entry_with_its_source(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, csrf = ada
    with rt.transaction(operator()) as ctx:
        contact = ops.create(ctx, "contact", {"first_name": "Tim"})
    with rt.transaction(Actor(ActorKind.INTEGRATION, Source.EMAIL, "mailbox sync", "sync")) as ctx:
        ops.create(
            ctx,
            "activity",
            {
                "type": "email",
                "direction": "inbound",
                "subject": "Re: pricing",
                "occurred_at": "2026-02-27T10:00:00Z",
                "links": [{"type": "contact", "id": contact.id}],
            },
        )
    response = client.post(
        f"/contacts/{contact.id}/activities",
        data={"csrf_token": csrf, "type": "note", "subject": "Met at the fair"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    html = client.get(f"/contacts/{contact.id}").text
    sources = re.findall(r'class="source source-(\w+)"', html)
    assert sorted(set(sources)) == ["cli", "email", "ui"]
    assert "Re: pricing" in html and "Met at the fair" in html


def test_only_open_deals_are_marked_stale_on_the_board(
    rt: Runtime, clock: FixedClock, ada: tuple[TestClient, str]
) -> None:
    client, _ = ada
    values = {"pipeline": "sales", "amount": "100", "close_date": "2026-05-01"}
    clock.advance(days=-45)  # the deals enter their stages 45 days ago
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:
        made = {
            stage: ops.create(ctx, "deal", {**values, "name": f"Old {stage}", "stage": stage}).id
            for stage in ("negotiation", "closed_won", "closed_lost")
        }
    clock.advance(days=45)
    html = client.get("/pipeline/sales").text
    cards = {
        ident: html.split(f'id="deal-{ident}"')[1].split("</li>")[0] for ident in made.values()
    }
    assert "Stale: in this stage since" in cards[made["negotiation"]]
    assert "Stale" not in cards[made["closed_won"]]
    assert "Stale" not in cards[made["closed_lost"]]
    assert html.count('class="card stale"') == 1


def test_home_counts_only_my_gaps_and_my_likely_duplicates(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, _ = ada
    ada_actor = actor_for(rt, "ada.web@example.com")
    api = Actor(
        ActorKind.USER, Source.API, ada_actor.label, ada_actor.id, ada_actor.user_id, ada_actor.role
    )
    with rt.transaction(api) as ctx:  # flagged at entry: one pair in the review queue
        for first in ("Jon", "John"):
            ops.create(
                ctx,
                "contact",
                {"first_name": first, "last_name": "Smith", "emails": ["js@x.example"]},
            )
    html = client.get("/").text
    assert re.search(r"<strong>1</strong> likely duplicate contacts to review", html)
    assert re.search(r"<strong>0</strong> open gaps assigned to you", html)


def test_timeline_entries_at_the_same_moment_come_newest_first_every_time(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, _ = ada
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:  # the clock stands still
        contact = ops.create(ctx, "contact", {"first_name": "Tia", "job_title": "A"})
        for title in ("B", "C", "D"):
            ops.update(ctx, "contact", contact, {"job_title": title})
        at = isoformat(ctx.now())
        for subject in ("first", "second", "third"):
            ops.create(
                ctx,
                "activity",
                {
                    "type": "note",
                    "subject": subject,
                    "occurred_at": at,
                    "links": [{"type": "contact", "id": contact.id}],
                },
            )
    seen = set()
    for _ in range(3):
        html = client.get(f"/contacts/{contact.id}").text
        timeline = html.split('class="timeline"')[1].split("</ol>")[0]
        order = re.findall(r"<del>(\w)</del> → <ins>(\w)</ins>|Note</strong>: (\w+)", timeline)
        seen.add(tuple("".join(m) for m in order))
    assert seen == {("third", "second", "first", "CD", "BC", "AB")}


def test_a_sign_in_posted_from_another_site_is_refused(rt: Runtime, admin: Admin) -> None:
    add_person(rt, "ada.web@example.com", "Ada Lovelace", "admin")
    form = {"email": "ada.web@example.com", "password": PASSWORD, "next": "/"}
    with TestClient(create_app(rt), base_url="https://testserver") as client:
        for header in (
            {"Origin": "https://evil.example"},
            {"Referer": "https://evil.example/login-trap"},
            {"Origin": "http://testserver"},  # same host, another scheme: another origin
        ):
            refused = client.post("/login", data=form, headers=header, follow_redirects=False)
            assert refused.status_code == 403, header
            assert "from another site" in refused.text
            assert "plumb_session" not in refused.cookies
        for header in (
            {"Origin": "https://testserver"},
            {"Referer": "https://testserver/login?next=/"},
            {},  # a client that sends neither (curl, scripts)
        ):
            signed = client.post("/login", data=form, headers=header, follow_redirects=False)
            assert signed.status_code == 303, header
            assert signed.cookies.get("plumb_session")


def test_uploads_are_removed_when_cancelled_and_when_abandoned(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    from plumb.web.imports import UPLOADS

    client, csrf = ada
    abandoned = UPLOADS / f"abandoned-{os.getpid()}-{time.monotonic_ns()}"
    abandoned.mkdir(parents=True, exist_ok=True)
    (abandoned / "old.csv").write_text("First Name\nOld\n", "utf-8")
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(abandoned, (seven_hours_ago, seven_hours_ago))
    recent = UPLOADS / f"recent-{os.getpid()}-{time.monotonic_ns()}"
    recent.mkdir(parents=True, exist_ok=True)

    review = client.post(
        "/import",
        data={"csrf_token": csrf, "object": "contact"},
        files={"file": ("people.csv", b"First Name,Email\nAnn,ann@example.com\n", "text/csv")},
    )
    assert review.status_code == 200, review.text
    assert not abandoned.exists()  # older than STALE_UPLOAD: removed by the next upload
    assert recent.exists()
    recent.rmdir()
    match = re.search(r'action="/import/([^/"]+)/cancel"', review.text)
    assert match is not None
    upload = UPLOADS / match.group(1)
    assert (upload / "people.csv").exists()
    cancelled = client.post(
        f"/import/{match.group(1)}/cancel", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    assert not upload.exists()
    assert client.get(f"/import/{match.group(1)}").status_code == 404


def test_logging_an_activity_and_a_task_from_a_record_page(
    rt: Runtime, ada: tuple[TestClient, str]
) -> None:
    client, csrf = ada
    with rt.transaction(actor_for(rt, "ada.web@example.com")) as ctx:
        grace = ops.create(ctx, "contact", {"first_name": "Grace", "last_name": "Hopper"}).id
    base = f"/contacts/{grace}"
    logged = client.post(
        f"{base}/activities",
        data={"csrf_token": csrf, "type": "call", "subject": "Intro call"},
        follow_redirects=False,
    )
    assert logged.status_code == 303 and logged.headers["location"].endswith("#timeline")
    refused = client.post(
        f"{base}/activities",
        data={"csrf_token": csrf, "type": "call", "subject": "Later", "occurred_at": "soon"},
    )
    assert refused.status_code == 422 and "occurred_at" in refused.text
    made = client.post(
        f"{base}/tasks", data={"csrf_token": csrf, "title": "Send deck"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"].endswith("#tasks")
    blank = client.post(f"{base}/tasks", data={"csrf_token": csrf, "title": ""})
    assert blank.status_code == 422 and "title" in blank.text
    with rt.reading(operator()) as ctx:  # the refused ones left nothing behind
        subjects = [a.subject for a in queries.list_records(ctx, "activity").records]
        titles = [t.title for t in queries.list_records(ctx, "task").records]
    assert subjects == ["Intro call"] and titles == ["Send deck"]
