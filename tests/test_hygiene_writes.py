"""Standardization on the write path: through the API and the CLI, messy values land in their
standard form, bad ones are refused naming field, value and rule, and the workspace's ``keep``
policy stores what cannot be standardized and says so in the change log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from plumb.core.migrate import upgrade
from plumb.core.settings import Settings
from plumb.workspace.loader import default_text
from tests.conftest import Cli, ok


def create(api: TestClient, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(f"/api/v1/{plural}", json=body), 201)  # type: ignore[no-any-return]


def refusal(response: Any) -> dict[str, dict[str, Any]]:
    """The 422's errors by field."""
    assert response.status_code == 422, response.text
    return {e["field"]: e for e in response.json()["errors"]}


def history(api: TestClient, plural: str, record_id: str) -> list[dict[str, Any]]:
    return ok(api.get(f"/api/v1/{plural}/{record_id}/history"))["data"]  # type: ignore[no-any-return]


def test_a_messy_contact_lands_standardized(api: TestClient) -> None:
    contact = create(
        api,
        "contacts",
        {
            "name": "ada lovelace",
            "email": "  mailto:Ada.Lovelace@Example.COM ",
            "phones": ["(415) 555-0134 ext. 12", "+44 (0)20 7946 0000"],
            "country": "U.S.A.",
            "region": "california",
            "lead_source": "online form",
        },
    )
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
    assert contact["emails"] == ["Ada.Lovelace@example.com"]
    assert contact["phones"] == ["+14155550134;ext=12", "+442079460000"]
    assert contact["phone"] == "+14155550134;ext=12"
    assert contact["country"] == "US"
    assert contact["region"] == "US-CA"
    assert contact["lead_source"] == "website"
    [entry] = history(api, "contacts", contact["id"])
    assert "unstandardized" not in entry["context"]

    same = create(api, "contacts", {"first_name": "Ada", "phone": "+14155550134;ext=12"})
    assert same["phones"] == contact["phones"][:1]  # the standard form is its own standard form

    # Filters standardize too: a number or an address finds its records however it is typed.
    for query in (
        "phone=415-555-0134 x12",
        "phones=%2B44 20 7946 0000",
        "email=ADA.LOVELACE@example.com",
    ):
        found = ok(api.get(f"/api/v1/contacts?{query}"))["data"]
        assert contact["id"] in [c["id"] for c in found], query


def test_local_phone_numbers_are_read_in_the_records_country(api: TestClient) -> None:
    berlin = create(
        api, "contacts", {"first_name": "Bea", "country": "Germany", "phone": "030 1234567"}
    )
    assert berlin["phones"] == ["+49301234567"]
    nowhere = create(api, "contacts", {"first_name": "Cy", "phone": "(415) 555-0134"})
    assert nowhere["phones"] == ["+14155550134"]  # no country: the workspace's default region
    london = create(api, "contacts", {"first_name": "Di", "country": "UK"})
    changed = ok(
        api.patch(
            f"/api/v1/contacts/{london['id']}",
            json={"phone": "020 7946 0000"},
            headers={"If-Match": '"1"'},
        )
    )
    assert changed["phones"] == ["+442079460000"]  # the country stored on the record
    errors = refusal(
        api.post("/api/v1/contacts", json={"first_name": "Ed", "country": "FR", "phone": "12"})
    )
    assert "read as a FR number" in errors["phones"]["message"]


def test_control_characters_never_land(api: TestClient) -> None:
    contact = create(api, "contacts", {"first_name": "Ada\x1b[31m", "job_title": "Eng\x07\x85lead"})
    assert (contact["first_name"], contact["job_title"]) == ("Ada[31m", "Eng lead")
    task = create(api, "tasks", {"title": "Call\x08", "description": "one\x0c\r\ntwo\tthree"})
    assert (task["title"], task["description"]) == ("Call", "one\ntwo\tthree")
    [entry] = history(api, "tasks", task["id"])
    assert entry["changes"]["description"] == [None, "one\ntwo\tthree"]


@pytest.mark.parametrize("spelling", ["web", "Online Form", "WEBSITE", "site"])
def test_picklist_synonyms_map_to_the_key(api: TestClient, spelling: str) -> None:
    assert create(api, "contacts", {"lead_source": spelling})["lead_source"] == "website"


def test_explicit_first_and_last_name_win_over_the_full_name(api: TestClient) -> None:
    contact = create(api, "contacts", {"name": "Lovelace, Ada", "first_name": "Augusta Ada"})
    assert (contact["first_name"], contact["last_name"]) == ("Augusta Ada", "Lovelace")
    refused = refusal(api.post("/api/v1/contacts", json={"name": 42}))
    assert refused["name"]["rule"] == "type"


def test_region_follows_the_country(api: TestClient) -> None:
    contact = create(api, "contacts", {"country": "Deutschland", "region": "Bayern"})
    assert (contact["country"], contact["region"]) == ("DE", "DE-BY")
    url = f"/api/v1/contacts/{contact['id']}"
    # Moving the record to another country while keeping a region of the first is a conflict.
    errors = refusal(api.patch(url, json={"country": "France"}, headers={"If-Match": '"1"'}))
    assert errors["region"]["rule"] == "region"
    assert errors["region"]["value"] == "DE-BY"
    moved = ok(
        api.patch(
            url, json={"country": "France", "region": "Bretagne"}, headers={"If-Match": '"1"'}
        )
    )
    assert (moved["country"], moved["region"]) == ("FR", "FR-BRE")
    # Without a country a region cannot be checked and stays as typed.
    loose = create(api, "contacts", {"region": "  Somewhere   North "})
    assert loose["region"] == "Somewhere North"


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("phone", "555-01", "phone"),
        ("email", "ada@@example.com", "email"),
        ("country", "Narnia", "country"),
        ("linkedin_url", "not a url", "url"),
    ],
)
def test_a_bad_value_is_refused_naming_field_value_and_rule(
    api: TestClient, field: str, value: str, rule: str
) -> None:
    response = api.post("/api/v1/contacts", json={"first_name": "Bad", field: value})
    errors = refusal(response)
    stored_as = {"phone": "phones", "email": "emails"}.get(field, field)
    assert errors[stored_as]["rule"] == rule
    assert errors[stored_as]["value"] in (value, [value])
    assert repr(value) in errors[stored_as]["message"]
    assert ok(api.get("/api/v1/contacts"))["data"] == []  # nothing half-written


def test_company_domain_website_and_name_key(api: TestClient) -> None:
    company = create(
        api, "companies", {"name": "Acme, Inc.", "website": "HTTPS://WWW.Shop.Acme.co.uk/x"}
    )
    assert company["website"] == "https://www.shop.acme.co.uk/x"
    assert company["domain"] == "acme.co.uk"  # from the website, as none was given
    assert company["name"] == "Acme, Inc."  # the display form is kept
    assert company["name_key"] == "acme"
    twin = create(api, "companies", {"name": "ACME Inc", "domain": "ada@mail.acme.co.uk"})
    assert twin["name_key"] == company["name_key"]
    assert twin["domain"] == "acme.co.uk"

    url = f"/api/v1/companies/{company['id']}"
    renamed = ok(api.patch(url, json={"name": "Globex GmbH & Co. KG"}, headers={"If-Match": '"1"'}))
    assert renamed["name_key"] == "globex"
    assert history(api, "companies", company["id"])[-1]["changes"]["name_key"] == [
        "acme",
        "globex",
    ]

    errors = refusal(api.post("/api/v1/companies", json={"name": "X", "name_key": "x"}))
    assert errors["name_key"]["rule"] == "read_only"
    errors = refusal(api.post("/api/v1/companies", json={"name": "Y", "domain": "Yahoo.co.uk"}))
    assert errors["domain"]["rule"] == "free_mail_domain"
    assert "yahoo.co.uk" in errors["domain"]["message"]
    free = create(api, "companies", {"name": "Z", "website": "https://gmail.com/"})
    assert free["domain"] is None  # a free-mail website names no company domain


def test_the_cli_standardizes_and_refuses_the_same_way(cli: Cli) -> None:
    contact = cli(
        "contacts",
        "create",
        "--set",
        "name=GRACE HOPPER",
        "--set",
        "phone=1-415-555-0199",
        "--set",
        "email=Grace@Navy.MIL",
        "--set",
        "country=united states",
        "--set",
        "region=NY",
        "--json",
    ).json()
    assert (contact["first_name"], contact["last_name"]) == ("Grace", "Hopper")
    assert contact["phones"] == ["+14155550199"]
    assert contact["emails"] == ["Grace@navy.mil"]
    assert (contact["country"], contact["region"]) == ("US", "US-NY")

    bad = cli("contacts", "create", "--set", "phone=call me", expect=1)
    assert "phones" in bad.stderr and "[phone]" in bad.stderr and "'call me'" in bad.stderr
    free = cli("companies", "create", "--set", "name=Solo", "--set", "domain=gmx.de", expect=1)
    assert "domain" in free.stderr and "[free_mail_domain]" in free.stderr


def _workspace_with(settings: Settings, hygiene: dict[str, Any]) -> Settings:
    content = yaml.safe_load(default_text())
    content["hygiene"] = hygiene
    settings.workspace.write_text(yaml.safe_dump(content))
    return settings


@pytest.fixture
def keep_workspace(settings: Settings) -> Settings:
    return _workspace_with(settings, {"on_unstandardizable": "keep"})


def test_keep_policy_stores_the_value_as_typed_and_flags_it(
    keep_workspace: Settings, api: TestClient
) -> None:
    contact = create(
        api,
        "contacts",
        {
            "first_name": "Kim",
            "phones": ["+1 415 555 0134", " 555-01 "],
            "email": "kim at example dot com",
            "country": "Narnia",
        },
    )
    assert contact["phones"] == ["+14155550134", "555-01"]
    assert contact["emails"] == ["kim at example dot com"]
    assert contact["country"] == "Narnia"
    [entry] = history(api, "contacts", contact["id"])
    assert entry["context"]["unstandardized"] == {
        "phones": "phone",
        "emails": "email",
        "country": "country",
    }

    url = f"/api/v1/contacts/{contact['id']}"
    fixed = ok(
        api.patch(url, json={"country": "US", "region": "Atlantis"}, headers={"If-Match": '"1"'})
    )
    assert (fixed["country"], fixed["region"]) == ("US", "Atlantis")
    assert history(api, "contacts", contact["id"])[-1]["context"]["unstandardized"] == {
        "region": "region"
    }
    # Some rules are never kept: a company's free-mail domain is refused under any policy.
    errors = refusal(api.post("/api/v1/companies", json={"name": "Q", "domain": "gmail.com"}))
    assert errors["domain"]["rule"] == "free_mail_domain"


@pytest.fixture
def keep_phones_workspace(settings: Settings) -> Settings:
    return _workspace_with(
        settings, {"on_unstandardizable": "refuse", "per_type": {"phone": "keep"}}
    )


def test_policy_per_field_type(keep_phones_workspace: Settings, cli: Cli) -> None:
    contact = cli("contacts", "create", "--set", "phone=ext 12", "--json").json()
    assert contact["phones"] == ["ext 12"]
    shown = cli("history", "contacts", contact["id"]).stdout
    assert '"unstandardized": {"phones": "phone"}' in shown
    refused = cli("contacts", "create", "--set", "country=Narnia", expect=1)
    assert "[country]" in refused.stderr and "'Narnia'" in refused.stderr


def test_an_unknown_policy_is_a_workspace_error(settings: Settings, cli: Cli) -> None:
    _workspace_with(settings, {"on_unstandardizable": "shrug"})
    result = cli("contacts", "list", expect=1)
    assert "hygiene.on_unstandardizable" in result.stderr


def test_migration_backfills_company_name_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, lanes=1, revision="0001_core")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO companies (id, name, created_at, updated_at, created_by, version,"
                    " archived, custom) VALUES ('01J00000000000000000000001', 'Acme, Inc.',"
                    " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'old', 1, 0, '{}')"
                )
            )
        upgrade(url, lanes=1)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM companies")).scalar_one() == "acme"
    finally:
        engine.dispose()
