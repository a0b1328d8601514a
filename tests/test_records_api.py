"""Records through the HTTP API: create, read, list, patch, archive, bulk, upsert, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ok


def create(api: TestClient, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(f"/api/v1/{plural}", json=body), 201)  # type: ignore[no-any-return]


def test_create_get_and_patch_a_contact(api: TestClient) -> None:
    company = create(api, "companies", {"name": "Acme GmbH", "website": "https://www.acme.de/"})
    response = api.post(
        "/api/v1/contacts",
        json={
            "first_name": "  Grace ",
            "last_name": "Hopper",
            "email": "Grace.Hopper@ACME.de",
            "company_id": company["id"],
            "lifecycle_stage": "Subscriber",
            "linkedin_url": "linkedin.com/in/grace",
        },
    )
    contact = ok(response, 201)
    assert response.headers["Location"] == f"/api/v1/contacts/{contact['id']}"
    assert response.headers["ETag"] == '"1"'
    assert contact["first_name"] == "Grace"
    assert contact["emails"] == ["Grace.Hopper@acme.de"]
    assert contact["lifecycle_stage"] == "subscriber"
    assert contact["company_id"] == company["id"]
    assert contact["version"] == 1
    assert contact["owner_id"]  # the creating user owns it

    fetched = ok(api.get(f"/api/v1/contacts/{contact['id']}"))
    assert fetched == contact

    patched = ok(
        api.patch(
            f"/api/v1/contacts/{contact['id']}",
            json={"job_title": "Rear Admiral", "linkedin_url": None},
            headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
        )
    )
    assert patched["job_title"] == "Rear Admiral"
    assert patched["linkedin_url"] is None
    assert patched["first_name"] == "Grace"  # untouched by the merge patch
    assert patched["version"] == 2


def test_stale_if_match_is_refused_and_nothing_changes(api: TestClient) -> None:
    contact = create(api, "contacts", {"first_name": "Ann", "last_name": "Lee"})
    url = f"/api/v1/contacts/{contact['id']}"
    ok(api.patch(url, json={"job_title": "CFO"}, headers={"If-Match": '"1"'}))

    stale = api.patch(url, json={"job_title": "CEO"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    body = stale.json()
    assert body["code"] == "version_conflict"
    assert body["your_version"] == 1 and body["current_version"] == 2
    assert body["current"]["job_title"] == "CFO"
    assert ok(api.get(url))["job_title"] == "CFO"

    missing = api.patch(url, json={"job_title": "CEO"})
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"


def test_stage_move_missing_required_fields_names_them(api: TestClient) -> None:
    deal = create(api, "deals", {"name": "Big one", "pipeline": "sales", "stage": "qualification"})
    url = f"/api/v1/deals/{deal['id']}"
    refused = api.patch(url, json={"stage": "proposal_sent"}, headers={"If-Match": '"1"'})
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "stage_requirements_unmet"
    assert sorted(body["missing_fields"]) == ["amount", "close_date"]
    assert {e["field"] for e in body["errors"]} == {"amount", "close_date"}
    assert ok(api.get(url))["stage"] == "qualification"

    moved = ok(
        api.patch(
            url,
            json={"stage": "proposal_sent", "amount": "12500.50", "close_date": "2026-06-30"},
            headers={"If-Match": '"1"'},
        )
    )
    assert moved["stage"] == "proposal_sent"
    assert moved["amount"] == "12500.50"


def test_bad_input_is_a_4xx_naming_field_and_rule(api: TestClient) -> None:
    response = api.post(
        "/api/v1/contacts",
        json={"first_name": "X", "email": "not-an-address", "lead_source": "carrier pigeon"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"emails", "lead_source"}
    assert fields["lead_source"]["value"] == "carrier pigeon"
    assert fields["lead_source"]["rule"] == "picklist"

    unknown = api.post("/api/v1/contacts", json={"first_name": "X", "shoe_size": 44})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "shoe_size"

    assert api.post("/api/v1/contacts", content=b"{nope").status_code == 400
    assert api.post("/api/v1/contacts", json=[1, 2]).status_code == 400
    nameless = api.post("/api/v1/deals", json={"pipeline": "sales"})
    assert nameless.status_code == 422
    assert nameless.json()["errors"][0] == {
        "field": "name",
        "rule": "required",
        "message": nameless.json()["errors"][0]["message"],
    }
    assert api.get("/api/v1/contacts/01NOPE").status_code == 404
    read_only = api.post("/api/v1/contacts", json={"first_name": "X", "version": 7})
    assert read_only.status_code == 422
    assert ok(api.get("/api/v1/contacts", params={"count": "true"}))["total"] == 0


def test_list_filters_sort_and_cursor(api: TestClient) -> None:
    for i, stage in enumerate(["lead", "subscriber", "lead", "customer", "lead"]):
        create(
            api,
            "contacts",
            {
                "first_name": f"P{i}",
                "last_name": f"Person{i}",
                "lifecycle_stage": stage,
                "lead_source": "website",
            },
        )
    leads = ok(api.get("/api/v1/contacts", params={"lifecycle_stage": "lead", "count": "1"}))
    assert leads["total"] == 3
    assert {c["first_name"] for c in leads["data"]} == {"P0", "P2", "P4"}

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": "-last_name", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = ok(api.get("/api/v1/contacts", params=params))
        seen += [c["last_name"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Person{i}" for i in range(4, -1, -1)]

    ins = ok(api.get("/api/v1/contacts", params={"lifecycle_stage.in": "customer,subscriber"}))
    assert len(ins["data"]) == 2
    found = ok(api.get("/api/v1/contacts", params={"q": "person3"}))
    assert [c["first_name"] for c in found["data"]] == ["P3"]
    bad = api.get("/api/v1/contacts", params={"no_such_field": "x"})
    assert bad.status_code in (400, 422)


def _walk(api: TestClient, path: str, sort: str, key: str) -> list[Any]:
    """Every record of a list, two per page, following the cursors."""
    seen: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "sort": sort,
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = ok(api.get(path, params=params))
        seen += [(c[key], c["id"]) for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_keyset_pages_walk_blanks_and_ties_in_both_directions(api: TestClient) -> None:
    names = ["Hopper", None, "Allen", "Hopper", None, "Zuse", "Hopper", None]
    for i, name in enumerate(names):
        create(api, "contacts", {"first_name": f"P{i}", "last_name": name})
    rows = [(c["last_name"], c["id"]) for c in ok(api.get("/api/v1/contacts?limit=100"))["data"]]
    ascending = sorted(rows, key=lambda r: (r[0] is None, r[0] or "", r[1]))
    assert _walk(api, "/api/v1/contacts", "last_name", "last_name") == ascending
    assert _walk(api, "/api/v1/contacts", "-last_name", "last_name") == ascending[::-1]
    # the same over a date, on deals
    for i, when in enumerate(["2026-05-01", None, "2026-04-01", "2026-05-01", None]):
        amount = [None, "12.50", "9.99", "12.50", "100"][i]
        create(api, "deals", {"name": f"D{i}", "close_date": when, "amount": amount})
    listed = ok(api.get("/api/v1/deals?limit=100"))["data"]
    by_date = sorted(
        [(d["close_date"], d["id"]) for d in listed], key=lambda r: (r[0] is None, r[0] or "", r[1])
    )
    assert _walk(api, "/api/v1/deals", "close_date", "close_date") == by_date
    assert _walk(api, "/api/v1/deals", "-close_date", "close_date") == by_date[::-1]
    by_amount = sorted(
        [(d["amount"], d["id"]) for d in listed],
        key=lambda r: (r[0] is None, Decimal(r[0] or 0), r[1]),
    )
    assert _walk(api, "/api/v1/deals", "amount", "amount") == by_amount
    assert _walk(api, "/api/v1/deals", "-amount", "amount") == by_amount[::-1]


def test_archive_hides_and_restore_brings_back(api: TestClient) -> None:
    company = create(api, "companies", {"name": "Gone Ltd"})
    url = f"/api/v1/companies/{company['id']}"
    archived = ok(api.post(f"{url}/archive", params={"reason": "went out of business"}))
    assert archived["archived"] is True
    assert ok(api.get("/api/v1/companies"))["data"] == []
    listed = ok(api.get("/api/v1/companies", params={"include_archived": "true"}))
    assert [c["id"] for c in listed["data"]] == [company["id"]]
    restored = ok(api.post(f"{url}/restore"))
    assert restored["archived"] is False and restored["version"] == 3


def test_bulk_create_reports_each_item(api: TestClient) -> None:
    body = {
        "items": [
            {"first_name": "Ok", "email": "ok@example.com"},
            {"first_name": "Bad", "email": "@@"},
            {"first_name": "Also ok", "phone": "+1 415 555 0100"},
        ]
    }
    result = ok(api.post("/api/v1/contacts/bulk", json=body))
    assert result["succeeded"] == 2 and result["failed"] == 1
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["created", "error", "created"]
    assert result["results"][1]["error"]["errors"][0]["field"] == "emails"
    assert ok(api.get("/api/v1/contacts", params={"count": "1"}))["total"] == 2


def test_upsert_by_external_id(api: TestClient) -> None:
    url = "/api/v1/companies/by-external-id/hubspot/42"
    created = api.put(url, json={"name": "Initech"})
    assert created.status_code == 201
    updated = ok(api.put(url, json={"industry": "software"}))
    assert updated["id"] == created.json()["id"]
    assert updated["name"] == "Initech" and updated["industry"] == "software"

    bulk = ok(
        api.post(
            "/api/v1/companies/bulk",
            json={
                "mode": "upsert",
                "source": "hubspot",
                "items": [
                    {"external_id": "42", "size": "11-50"},
                    {"external_id": "43", "name": "Hooli"},
                ],
            },
        )
    )
    assert [r["status"] for r in bulk["results"]] == ["updated", "created"]
    assert ok(api.get(f"/api/v1/companies/{updated['id']}"))["size"] == "11_50"


def test_deal_contacts_and_activity_links(api: TestClient) -> None:
    person = create(api, "contacts", {"first_name": "Linus"})
    deal = create(api, "deals", {"name": "D", "pipeline": "sales", "stage": "qualification"})
    linked = ok(
        api.post(
            f"/api/v1/deals/{deal['id']}/contacts",
            json={"contact_id": person["id"], "role": "economic buyer"},
        )
    )
    assert linked["contacts"] == [{"contact_id": person["id"], "role": "decision_maker"}]
    call = create(
        api,
        "activities",
        {
            "type": "call",
            "occurred_at": "2026-02-27T10:00:00Z",
            "links": [f"contact:{person['id']}", f"deal:{deal['id']}"],
        },
    )
    assert len(call["links"]) == 2
    assert ok(api.get(f"/api/v1/contacts/{person['id']}"))["last_activity_at"].startswith(
        "2026-02-27T10:00:00"
    )
    dangling = api.post(
        "/api/v1/activities",
        json={"type": "note", "occurred_at": "2026-02-27T10:00:00Z", "links": ["contact:01NOPE"]},
    )
    assert dangling.status_code == 422


def test_requests_without_a_valid_token_are_refused(api: TestClient) -> None:
    assert api.get("/api/v1/contacts", headers={"Authorization": ""}).status_code == 401
    bad = api.get("/api/v1/contacts", headers={"Authorization": "Bearer plumb_x_y"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "not_authenticated"


def test_openapi_document_describes_every_object(api: TestClient) -> None:
    spec = ok(api.get("/openapi.json"))
    assert spec["openapi"].startswith("3.1")
    for plural in ("contacts", "companies", "deals", "activities", "tasks", "cases"):
        assert f"/api/v1/{plural}" in spec["paths"]
        assert f"/api/v1/{plural}/bulk" in spec["paths"]


def test_bulk_paths_fill_defaults_like_single_creates(api: TestClient) -> None:
    """Large batches take the fast insert path; small ones the plain one. Both must store the
    same thing, including list fields left out (participants, phones) as empty lists."""
    contact = create(api, "contacts", {"first_name": "Bulk"})
    for size in (3, 120):
        items = [
            {
                "type": "note",
                "occurred_at": "2026-02-01T10:00:00Z",
                "links": [f"contact:{contact['id']}"],
            }
            for _ in range(size)
        ]
        result = ok(api.post("/api/v1/activities/bulk", json={"items": items}))
        assert result["failed"] == 0, result
        first = ok(api.get(f"/api/v1/activities/{result['results'][0]['id']}"))
        assert first["participants"] == []
        people = ok(
            api.post(
                "/api/v1/contacts/bulk",
                json={"items": [{"first_name": f"P{i}"} for i in range(size)]},
            )
        )
        assert people["failed"] == 0
        person = ok(api.get(f"/api/v1/contacts/{people['results'][-1]['id']}"))
        assert person["phones"] == []
        assert person["emails"] == []
