"""Access: roles from the workspace, enforced the same way through the API and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.api.app import create_app
from plumb.runtime import Runtime
from plumb.workspace.roles import ACTIONS
from tests.conftest import Cli, ok, operator

OBJECT_PATHS = {
    "contact": ("contacts", {"first_name": "Matrix"}),
    "company": ("companies", {"name": "Matrix Co"}),
    "deal": ("deals", {"name": "Matrix deal", "pipeline": "sales"}),
    "task": ("tasks", {"title": "Matrix task"}),
    "case": ("cases", {"subject": "Matrix case", "pipeline": "support"}),
}


@dataclass
class Person:
    id: str
    email: str
    token: str


@pytest.fixture
def people(rt: Runtime) -> dict[str, Person]:
    """A manager with two reps in team East, a rep in team West, and a viewer."""
    out: dict[str, Person] = {}
    with rt.transaction(operator()) as ctx:
        for key, role, team, manager in [
            ("boss", "manager", "East", None),
            ("east1", "rep", "East", "boss@example.com"),
            ("east2", "rep", "East", "boss@example.com"),
            ("west", "rep", "West", None),
            ("viewer", "viewer", None, None),
        ]:
            email = f"{key}@example.com"
            user = create_user(
                ctx, email=email, name=key.title(), role=role, team=team, manager=manager
            )
            token = create_token(ctx, user, "tests", ["read", "write"]).secret
            out[key] = Person(user.id, email, token)
    return out


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def _as(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def test_permission_matrix_is_the_same_through_api_and_cli(
    rt: Runtime, people: dict[str, Person], client: TestClient, cli: Cli
) -> None:
    """Every role x object x action the API and CLI expose, derived from the workspace roles."""
    roles = rt.loaded.workspace.roles
    for person_key in ("boss", "east1", "viewer"):
        person = people[person_key]
        role = roles[{"boss": "manager", "east1": "rep", "viewer": "viewer"}[person_key]]
        for obj, (plural, body) in OBJECT_PATHS.items():
            allowed = role.actions(obj)
            created = client.post(f"/api/v1/{plural}", json=body, headers=_as(person))
            via_cli = cli(
                "--as", person.email, plural, "create", "--data", _json(body), "--json", expect=None
            )
            if "create" in allowed:
                assert created.status_code == 201, (person_key, obj, created.text)
                assert via_cli.exit_code == 0, (person_key, obj, via_cli.stdout)
            else:
                assert created.status_code == 403, (person_key, obj, created.text)
                assert via_cli.exit_code == 1
                assert via_cli.json()["code"] == "permission_denied"
            with rt.transaction(operator()) as ctx:
                from plumb.records import operations as ops

                target = ops.create(ctx, obj, {**body, "owner_id": person.id})
            listed = client.get(f"/api/v1/{plural}", headers=_as(person))
            assert listed.status_code == (200 if "view" in allowed else 403)
            edit = client.patch(
                f"/api/v1/{plural}/{target.id}", json={}, headers={**_as(person), "If-Match": "*"}
            )
            cli_edit = cli(
                "--as", person.email, plural, "archive", target.id, "--json", expect=None
            )
            if "archive" in allowed:
                assert cli_edit.exit_code == 0
            else:
                assert cli_edit.json()["code"] == "permission_denied"
            assert edit.status_code == (200 if "edit" in allowed else 403), edit.text
    assert set(ACTIONS) >= {a for r in roles.values() for o in OBJECT_PATHS for a in r.actions(o)}


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body)


def test_team_visibility_hides_other_teams_deals_everywhere(
    rt: Runtime, people: dict[str, Person], client: TestClient, cli: Cli
) -> None:
    west_deal = ok(
        client.post(
            "/api/v1/deals",
            json={"name": "West secret", "pipeline": "sales"},
            headers=_as(people["west"]),
        ),
        201,
    )
    east_deal = ok(
        client.post(
            "/api/v1/deals",
            json={"name": "East deal", "pipeline": "sales"},
            headers=_as(people["east1"]),
        ),
        201,
    )
    east2 = _as(people["east2"])
    # IDOR: guessing another team's id behaves as if it did not exist
    for path in ("", "/history"):
        assert (
            client.get(f"/api/v1/deals/{west_deal['id']}{path}", headers=east2).status_code == 404
        )
    assert (
        client.get(
            f"/api/v1/deals/{west_deal['id']}",
            headers=east2,
            params={"as_of": "2030-01-01T00:00:00Z"},
        ).status_code
        == 404
    )
    stale = client.patch(
        f"/api/v1/deals/{west_deal['id']}", json={"name": "x"}, headers={**east2, "If-Match": "*"}
    )
    assert stale.status_code == 404
    listed = ok(client.get("/api/v1/deals", headers=east2, params={"count": "1"}))
    assert [d["id"] for d in listed["data"]] == [east_deal["id"]]
    assert listed["total"] == 1
    assert ok(client.get("/api/v1/deals", headers=east2, params={"q": "secret"}))["data"] == []
    # a task cannot point at a deal its author may not see
    linking = client.post(
        "/api/v1/tasks", json={"title": "peek", "record": f"deal:{west_deal['id']}"}, headers=east2
    )
    assert linking.status_code == 422
    # the manager sees the team's deal, not the other team's; CLI agrees with the API
    boss = _as(people["boss"])
    assert client.get(f"/api/v1/deals/{east_deal['id']}", headers=boss).status_code == 200
    assert (
        cli("--as", people["east2"].email, "deals", "get", west_deal["id"], expect=1).exit_code == 1
    )
    names = [
        d["name"]
        for d in cli("--as", people["east2"].email, "deals", "list", "--json").json()["data"]
    ]
    assert names == ["East deal"]


def test_a_hidden_field_is_absent_from_every_output(
    rt: Runtime, people: dict[str, Person], client: TestClient, cli: Cli
) -> None:
    contact = ok(
        client.post(
            "/api/v1/contacts",
            json={"first_name": "Hidden", "phone": "+1 415 555 0199"},
            headers=_as(people["east1"]),
        ),
        201,
    )
    viewer = _as(people["viewer"])
    got = ok(client.get(f"/api/v1/contacts/{contact['id']}", headers=viewer))
    assert "phones" not in got
    assert "phone" not in got
    assert got["first_name"] == "Hidden"
    listed = ok(client.get("/api/v1/contacts", headers=viewer))["data"]
    assert all("phones" not in c and "phone" not in c for c in listed)
    history = ok(client.get(f"/api/v1/contacts/{contact['id']}/history", headers=viewer))["data"]
    assert "555" not in repr(history)
    as_of = ok(
        client.get(
            f"/api/v1/contacts/{contact['id']}",
            headers=viewer,
            params={"as_of": "2030-01-01T00:00:00Z"},
        )
    )
    assert "phones" not in as_of
    # searching or filtering by the hidden field reveals nothing
    assert (
        client.get(
            "/api/v1/contacts", headers=viewer, params={"phone": "+1 415 555 0199"}
        ).status_code
        == 422
    )
    assert (
        client.get("/api/v1/contacts", headers=viewer, params={"sort": "-phones"}).status_code
        == 422
    )
    cli_out = cli("--as", people["viewer"].email, "contacts", "get", contact["id"], "--json").stdout
    assert "555" not in cli_out
    cli_history = cli(
        "--as", people["viewer"].email, "history", "contact", contact["id"], "--json"
    ).stdout
    assert "555" not in cli_history


def test_named_permissions_and_mass_assignment(
    rt: Runtime, people: dict[str, Person], client: TestClient
) -> None:
    rep = _as(people["east1"])
    deal = ok(
        client.post("/api/v1/deals", json={"name": "Mine", "pipeline": "sales"}, headers=rep), 201
    )
    url = f"/api/v1/deals/{deal['id']}"
    # a rep may not give the deal away
    given = client.patch(
        url, json={"owner_id": people["west"].id}, headers={**rep, "If-Match": '"1"'}
    )
    assert given.status_code == 403
    assert given.json()["permission"] == "change_owner"
    # nor create a record owned by someone else
    other = client.post(
        "/api/v1/contacts", json={"first_name": "X", "owner_id": people["west"].id}, headers=rep
    )
    assert other.status_code == 403
    # id, version and created fields cannot be set
    for field, value in [
        ("id", "01HACKED"),
        ("version", 99),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("created_by", "me"),
    ]:
        forced = client.patch(url, json={field: value}, headers={**rep, "If-Match": '"1"'})
        assert forced.status_code == 422, (field, forced.text)
        assert forced.json()["errors"][0]["field"] == field
    # moving a stage backwards needs the permission; the manager has it, and it is recorded
    company = ok(client.post("/api/v1/companies", json={"name": "Acme"}, headers=rep), 201)
    moved = ok(
        client.patch(
            url,
            json={"stage": "discovery", "company_id": company["id"]},
            headers={**rep, "If-Match": '"1"'},
        )
    )
    back = client.patch(
        url, json={"stage": "qualification"}, headers={**rep, "If-Match": f'"{moved["version"]}"'}
    )
    assert back.status_code == 403
    assert back.json()["permission"] == "move_stage_backwards"
    boss = _as(people["boss"])
    ok(
        client.patch(
            url,
            json={"stage": "qualification"},
            headers={**boss, "If-Match": f'"{moved["version"]}"'},
        )
    )
    last = ok(client.get(f"{url}/history", headers=boss))["data"][-1]
    assert last["context"]["permissions"] == ["move_stage_backwards"]
    handed = ok(
        client.patch(url, json={"owner_id": people["east2"].id}, headers={**boss, "If-Match": "*"})
    )
    assert handed["owner_id"] == people["east2"].id


def test_token_scopes_and_revocation(
    rt: Runtime, people: dict[str, Person], client: TestClient
) -> None:
    with rt.transaction(operator()) as ctx:
        from plumb.access.tokens import revoke_token
        from plumb.access.users import find_user

        boss = find_user(ctx, "boss@example.com")
        read_only = create_token(ctx, boss, "read only", ["read"]).secret
        deals_only = create_token(ctx, boss, "deals", ["write:deal"]).secret
        revoked = create_token(ctx, boss, "old", ["read", "write"])
        revoke_token(ctx, revoked.token.id)
    reader = {"Authorization": f"Bearer {read_only}"}
    assert client.get("/api/v1/contacts", headers=reader).status_code == 200
    refused = client.post("/api/v1/contacts", json={"first_name": "x"}, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    deals = {"Authorization": f"Bearer {deals_only}"}
    assert (
        client.post(
            "/api/v1/deals", json={"name": "d", "pipeline": "sales"}, headers=deals
        ).status_code
        == 201
    )
    assert (
        client.post("/api/v1/contacts", json={"first_name": "x"}, headers=deals).status_code == 403
    )
    gone = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {revoked.secret}"})
    assert gone.status_code == 401
    assert "revoked" in gone.json()["detail"]


def test_unknown_role_is_refused_when_adding_a_user(cli: Cli) -> None:
    result = cli(
        "users", "add", "x@example.com", "--name", "X", "--role", "wizard", "--json", expect=1
    )
    assert result.json()["errors"][0]["field"] == "role"
