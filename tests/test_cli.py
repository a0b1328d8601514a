"""The ``plumb`` command line: the same operations and errors as the API."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from sqlalchemy import text

from plumb.core.settings import Settings
from plumb.runtime import Runtime
from tests.conftest import Cli


def test_create_get_list_update_through_the_cli(cli: Cli) -> None:
    company = cli(
        "companies", "create", "--set", "name=Globex", "--set", "domain=WWW.Globex.com", "--json"
    ).json()
    assert company["domain"] == "globex.com"
    contact = cli(
        "contacts",
        "create",
        "--set",
        "first_name=Hank",
        "--set",
        "last_name=Scorpio",
        "--set",
        f"company_id={company['id']}",
        "--set",
        'phones:=["+1 415 555 0100"]',
        "--json",
    ).json()
    assert contact["company_id"] == company["id"]
    assert contact["version"] == 1

    got = cli("contacts", "get", contact["id"], "--json").json()
    assert got == contact
    human = cli("contacts", "get", contact["id"]).stdout
    assert "Scorpio" in human

    updated = cli(
        "contacts", "update", contact["id"], "--set", "job_title=CEO", "--version", "1", "--json"
    ).json()
    assert updated["job_title"] == "CEO" and updated["version"] == 2

    listed = cli("contacts", "list", "--where", "last_name=Scorpio", "--json").json()
    assert [c["id"] for c in listed["data"]] == [contact["id"]]
    assert listed["total"] == 1
    table = cli("contacts", "list").stdout
    assert contact["id"] in table and "1 of 1 contacts" in table


def test_stale_version_is_refused_with_the_current_version(cli: Cli) -> None:
    contact = cli("contacts", "create", "--set", "first_name=Ola", "--json").json()
    cli("contacts", "update", contact["id"], "--set", "job_title=A", "--version", "1")
    stale = cli(
        "contacts",
        "update",
        contact["id"],
        "--set",
        "job_title=B",
        "--version",
        "1",
        "--json",
        expect=1,
    )
    problem = stale.json()
    assert problem["code"] == "version_conflict"
    assert problem["current_version"] == 2
    assert cli("contacts", "get", contact["id"], "--json").json()["job_title"] == "A"


def test_stage_gate_refusal_names_the_missing_fields(cli: Cli) -> None:
    deal = cli("deals", "create", "--set", "name=Gate", "--set", "pipeline=sales", "--json").json()
    refused = cli("deals", "move", deal["id"], "negotiation", expect=1)
    assert "amount" in refused.stderr and "close_date" in refused.stderr
    moved = cli(
        "deals",
        "move",
        deal["id"],
        "negotiation",
        "--set",
        "amount=5000",
        "--set",
        "close_date=2026-05-01",
        "--json",
    ).json()
    assert moved["stage"] == "negotiation"


def test_bad_values_name_field_and_rule(cli: Cli) -> None:
    result = cli("contacts", "create", "--set", "email=nope", "--json", expect=1)
    problem = result.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"] == "emails"
    human = cli("contacts", "create", "--set", "lead_source=pigeon", expect=1)
    assert "lead_source" in human.stderr
    assert cli("contacts", "get", "01MISSING", expect=1).exit_code == 1


def test_history_audit_verify_and_erase(cli: Cli, rt: Runtime) -> None:
    contact = cli(
        "contacts", "create", "--set", "first_name=Pat", "--set", "email=pat@example.com", "--json"
    ).json()
    cli("contacts", "update", contact["id"], "--set", "job_title=Buyer")
    history = cli("history", "contact", contact["id"], "--json").json()
    assert history[-1]["changes"] == {"job_title": [None, "Buyer"]}
    assert history[-1]["source"] == "cli"
    text_history = cli("history", "contacts", contact["id"]).stdout
    assert 'job_title: ∅ -> "Buyer"' in text_history

    assert cli("audit", "verify", "--json").json()["ok"] is True
    erased = cli(
        "erase", "contact", contact["id"], "--reason", "GDPR request 9", "--yes", "--json"
    ).json()
    assert "emails" in erased["fields"]
    assert "pat@example.com" not in cli("history", "contact", contact["id"], "--json").stdout
    assert "ok" in cli("audit", "verify").stdout

    with rt.db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE change_log SET actor_label = 'mallory' WHERE id = (SELECT MIN(id) FROM change_log)"
            )
        )
    broken = cli("audit", "verify", "--json", expect=2).json()
    assert broken["ok"] is False and "altered" in broken["first_problem"]


def test_archive_and_restore(cli: Cli) -> None:
    company = cli("companies", "create", "--set", "name=Old Co", "--json").json()
    cli("companies", "archive", company["id"], "--reason", "duplicate of Old Company")
    assert cli("companies", "list", "--json").json()["data"] == []
    restored = cli("companies", "restore", company["id"], "--json").json()
    assert restored["archived"] is False


def test_users_and_tokens(cli: Cli) -> None:
    added = cli(
        "users", "add", "rep@example.com", "--name", "Rita Rep", "--team", "East", "--json"
    ).json()
    assert added["role"] == "rep"
    token = cli(
        "tokens", "create", "rep@example.com", "--name", "laptop", "--scope", "read", "--json"
    ).json()
    assert token["token"].startswith(f"plumb_{token['id']}_")
    listed = cli("tokens", "list", "--json").json()
    assert [t["scopes"] for t in listed if t["id"] == token["id"]] == [["read"]]
    assert "token" not in json.dumps(listed).replace('"tokens"', "")  # the secret is never listed
    cli("tokens", "revoke", token["id"])
    assert any(t["revoked_at"] for t in cli("tokens", "list", "--json").json())
    as_rita = cli(
        "--as", "rep@example.com", "contacts", "create", "--set", "first_name=Q", "--json"
    ).json()
    assert as_rita["owner_id"] == added["id"]


def test_glossary_lists_definitions(cli: Cli) -> None:
    terms = cli("glossary", "--json").json()
    stages = {t["key"]: t for t in terms if t["group"] == "deal pipeline sales"}
    assert stages["proposal_sent"]["requires"] == ["amount", "close_date"]
    assert all(t["definition"] for t in terms)
    assert "Sales qualified lead" in cli("glossary").stdout


def test_init_writes_an_editable_default_and_keeps_an_existing_one(
    cli: Cli, settings: Settings
) -> None:
    path = Path(settings.workspace)
    result = cli("init", "--admin-email", "owner@example.com")
    assert path.exists() and "# " in path.read_text()
    assert result.stdout.strip().splitlines()[-1].startswith("plumb_")
    path.write_text(path.read_text() + "\n# my edit\n")
    cli("init")
    assert path.read_text().endswith("# my edit\n")


def test_an_invalid_workspace_file_names_file_line_and_reason(cli: Cli, settings: Settings) -> None:
    path = Path(settings.workspace)
    path.write_text(
        "workspace:\n  name: Test\nlifecycle_stages:\n  - key: lead\n    label: Lead\n"
        "    definition: x\n    required_fields: [shoe_size]\n"
    )
    result = cli("contacts", "list", expect=1)
    assert f"{path}:7" in result.stderr
    assert "shoe_size" in result.stderr


def test_demo_loads_dirty_realistic_data(cli: Cli) -> None:
    out = cli("demo", "--contacts", "120").stdout
    assert "demo loaded" in out
    moved = re.search(r"lifecycle moves: (\d+) \(", out)
    assert moved is not None and int(moved.group(1)) > 0, out
    assert "lifecycle moves refused by a stage gate: " in out
    contacts = cli("contacts", "list", "--limit", "500", "--json").json()
    assert contacts["total"] >= 120
    data = contacts["data"]
    assert any(c["company_id"] is None for c in data)  # orphans
    assert any(not c["emails"] for c in data)  # blanks
    names = [(c["first_name"] or "").lower() + (c["last_name"] or "").lower() for c in data]
    assert len(set(names)) < len(names)  # duplicates
    deals = cli(
        "deals",
        "list",
        "--where",
        f"close_date.lt={date.today().isoformat()}",
        "--where",
        "stage.in=qualification,discovery,proposal_sent,negotiation",
        "--json",
    ).json()
    assert deals["total"] > 0  # stale deals with a close date in the past
    logged = {}  # e-mails come in through e-mail capture, the rest a rep logs by hand
    for kind in ("email", "call"):
        found = cli("activities", "list", "--where", f"type={kind}", "--limit", "1", "--json")
        first = found.json()["data"][0]
        logged[kind] = cli("history", "activity", first["id"], "--json").json()[0]
    assert (logged["email"]["source"], logged["email"]["actor"]["kind"]) == ("email", "integration")
    assert (logged["call"]["source"], logged["call"]["actor"]["kind"]) == ("ui", "user")
    assert cli("audit", "verify", "--json").json()["ok"] is True
    again = cli("demo", "--contacts", "10", expect=1)
    assert "already holds" in again.stderr
    assert "not loaded" in cli("demo", "--if-empty").stdout
