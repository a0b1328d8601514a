"""Deactivating a user hands over every reference to them; roles change with history."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from plumb.access.offboarding import references
from plumb.access.tokens import create_token, list_tokens, revoke_token
from plumb.access.users import create_user, find_user, set_role
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.errors import PermissionDenied
from plumb.core.settings import Settings
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text
from tests.conftest import Admin, Cli, ok, operator


@pytest.fixture
def sdr_workspace(settings: Settings) -> Settings:
    """The default definition plus a custom user field on contacts (the SDR who sourced them)."""
    content = yaml.safe_load(default_text())
    content["objects"]["contact"]["fields"].append({"name": "sdr", "type": "user", "label": "SDR"})
    settings.workspace.write_text(yaml.safe_dump(content))
    return settings


@pytest.fixture
def team(sdr_workspace: Settings, cli: Cli, api: TestClient) -> dict[str, Any]:
    for email, name, extra in (
        ("mia@example.com", "Mia Manager", ["--role", "manager"]),
        ("rita@example.com", "Rita Rep", ["--role", "rep", "--manager", "mia@example.com"]),
        ("ray@example.com", "Ray Rep", ["--role", "rep", "--manager", "rita@example.com"]),
    ):
        cli("users", "add", email, "--name", name, *extra)
    ids = {u["email"].split("@")[0]: u["id"] for u in cli("users", "list", "--json").json()}
    rita = ids["rita"]
    made = {
        "owned": [
            ok(api.post("/api/v1/contacts", json={"last_name": n, "owner_id": rita}), 201)["id"]
            for n in ("Ames", "Boyd")
        ],
        "sourced": ok(api.post("/api/v1/contacts", json={"last_name": "Cole", "sdr": rita}), 201)[
            "id"
        ],
        "open_task": ok(
            api.post("/api/v1/tasks", json={"title": "Call back", "assignee_id": rita}), 201
        )["id"],
        "closed_task": ok(
            api.post(
                "/api/v1/tasks", json={"title": "Sent deck", "assignee_id": rita, "status": "done"}
            ),
            201,
        )["id"],
    }
    token = cli("tokens", "create", "rita@example.com", "--name", "laptop", "--json").json()
    return {"ids": ids, "made": made, "token": token["token"]}


def test_deactivation_without_a_successor_is_refused_with_the_references(
    team: dict[str, Any], cli: Cli, api: TestClient
) -> None:
    out = cli("users", "deactivate", "rita@example.com", "--json", expect=1)
    problem = out.json()
    assert problem["code"] == "conflict"
    assert problem["rule"] == "handover_required"
    assert problem["references"] == {
        "contact.owner_id": 2,
        "contact.sdr": 1,
        "task.assignee_id": 1,
    }
    assert problem["reports"] == [team["ids"]["ray"]]
    # nothing changed
    rita = next(u for u in cli("users", "list", "--json").json() if u["id"] == team["ids"]["rita"])
    assert rita["active"] is True
    owned = ok(api.get(f"/api/v1/contacts/{team['made']['owned'][0]}"))
    assert owned["owner_id"] == team["ids"]["rita"]

    dry = cli("users", "deactivate", "rita@example.com", "--to-manager", "--dry-run", "--json")
    assert dry.json()["deactivated"] is False
    assert dry.json()["handed_to"] == "mia@example.com"


def test_deactivation_hands_everything_over_and_records_it(
    team: dict[str, Any], cli: Cli, api: TestClient, rt: Runtime, admin: Admin
) -> None:
    ids, made = team["ids"], team["made"]
    report = cli("users", "deactivate", "rita@example.com", "--to-manager", "--json").json()
    assert report["deactivated"] is True
    assert report["tokens_revoked"] and report["reports_moved"] == [ids["ray"]]

    for cid in made["owned"]:
        assert ok(api.get(f"/api/v1/contacts/{cid}"))["owner_id"] == ids["mia"]
    assert ok(api.get(f"/api/v1/contacts/{made['sourced']}"))["sdr"] == ids["mia"]
    assert ok(api.get(f"/api/v1/tasks/{made['open_task']}"))["assignee_id"] == ids["mia"]
    # who did finished work is history, not a live duty
    assert ok(api.get(f"/api/v1/tasks/{made['closed_task']}"))["assignee_id"] == ids["rita"]
    ray = next(u for u in cli("users", "list", "--json").json() if u["id"] == ids["ray"])
    assert ray["manager_id"] == ids["mia"]

    # the hand-over is in each record's history, as such
    history = ok(api.get(f"/api/v1/contacts/{made['owned'][0]}/history"))["data"]
    assert history[-1]["action"] == "handover"
    assert history[-1]["changes"]["owner_id"] == [ids["rita"], ids["mia"]]

    # her token no longer works; nothing live refers to her any more
    with TestClient(api.app) as other:
        other.headers["Authorization"] = f"Bearer {team['token']}"
        assert other.get("/api/v1/me").status_code == 401
    with rt.transaction(operator()) as ctx:
        live, kept = references(ctx, find_user(ctx, ids["rita"]))
    assert live == []
    assert [k.record_id for k in kept] == [made["closed_task"]]

    # she cannot be given new records
    refused = api.post("/api/v1/contacts", json={"last_name": "Dunn", "owner_id": ids["rita"]})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["rule"] == "inactive_user"
    assert cli("audit", "verify", "--json").json()["ok"] is True


def test_hand_over_to_a_named_user_and_refusals(team: dict[str, Any], cli: Cli) -> None:
    out = cli("users", "deactivate", "ray@example.com", "--to", "ray@example.com", expect=1)
    assert "themselves" in out.stdout + out.stderr
    cli("users", "deactivate", "ray@example.com", "--to", "mia@example.com")
    again = cli("users", "deactivate", "ray@example.com", "--json", expect=1)
    assert "already deactivated" in again.json()["detail"]
    out = cli(
        "users", "deactivate", "rita@example.com", "--to", "ray@example.com", "--json", expect=1
    )
    assert out.json()["errors"][0]["rule"] == "inactive_user"


def test_set_role_is_recorded_and_unknown_roles_refused(
    team: dict[str, Any], cli: Cli, api: TestClient
) -> None:
    cli("users", "set-role", "rita@example.com", "viewer")
    rita = next(u for u in cli("users", "list", "--json").json() if u["id"] == team["ids"]["rita"])
    assert rita["role"] == "viewer"
    entries = cli("history", "user", team["ids"]["rita"], "--json").json()
    assert entries[-1]["changes"]["role"] == ["rep", "viewer"]
    bad = cli("users", "set-role", "rita@example.com", "wizard", "--json", expect=1).json()
    assert bad["errors"][0] == {
        "field": "role",
        "rule": "role",
        "message": bad["errors"][0]["message"],
        "value": "wizard",
    }


def test_user_history_is_for_administrators(
    team: dict[str, Any], api: TestClient, cli: Cli
) -> None:
    cli("users", "set-role", "rita@example.com", "manager")
    data = ok(api.get("/api/v1/users/rita@example.com/history"))["data"]
    assert [e["action"] for e in data] == ["create", "update"]
    assert data[-1]["changes"]["role"] == ["rep", "manager"]
    token = cli("tokens", "create", "ray@example.com", "--name", "t", "--json").json()["token"]
    with TestClient(api.app) as other:
        other.headers["Authorization"] = f"Bearer {token}"
        refused = other.get("/api/v1/users/rita@example.com/history")
        assert refused.status_code == 403


@pytest.fixture
def routed_workspace(settings: Settings) -> Settings:
    """Contacts routed by region (west: round-robin in team west; otherwise Mia), with Rita
    named as the integrity owner in the definition."""
    content = yaml.safe_load(default_text())
    content["integrity_owner"] = "rita@example.com"
    content["routing"] = {
        "leads": {
            "object": "contact",
            "territories": [{"name": "west", "match": {"region": ["US-CA"]}, "team": "west"}],
            "fallback": "mia@example.com",
        }
    }
    settings.workspace.write_text(yaml.safe_dump(content))
    return settings


def test_deactivation_back_through_routing(
    routed_workspace: Settings, cli: Cli, api: TestClient
) -> None:
    cli("users", "add", "mia@example.com", "--name", "Mia", "--role", "manager")
    cli("users", "add", "rita@example.com", "--name", "Rita", "--manager", "mia@example.com")
    cli("users", "add", "wes@example.com", "--name", "Wes", "--team", "west")
    cli("users", "add", "rita2@example.com", "--name", "Rita Two", "--team", "west")
    ids = {u["email"].split("@")[0]: u["id"] for u in cli("users", "list", "--json").json()}
    west = ok(
        api.post(
            "/api/v1/contacts",
            json={"last_name": "W", "country": "US", "region": "CA", "owner_id": ids["rita"]},
        ),
        201,
    )
    east = ok(
        api.post(
            "/api/v1/contacts",
            json={"last_name": "E", "country": "US", "region": "NY", "owner_id": ids["rita"]},
        ),
        201,
    )
    blank = ok(api.post("/api/v1/contacts", json={"last_name": "B", "owner_id": ids["rita"]}), 201)
    task = ok(api.post("/api/v1/tasks", json={"title": "Call", "assignee_id": ids["rita"]}), 201)

    # routing covers owners of routed records only: the task needs a successor
    refused = cli("users", "deactivate", "rita@example.com", "--reroute", "--json", expect=1)
    assert refused.json()["references"] == {"contact.owner_id": 3, "task.assignee_id": 1}

    report = cli(
        "users", "deactivate", "rita@example.com", "--reroute", "--to-manager", "--json"
    ).json()
    assert report["definition_references"] == ["integrity_owner"]
    assert ok(api.get(f"/api/v1/contacts/{west['id']}"))["owner_id"] in (ids["wes"], ids["rita2"])
    assert ok(api.get(f"/api/v1/contacts/{east['id']}"))["owner_id"] == ids["mia"]
    # routing cannot place a record without a region: the owner stays, with a recorded gap
    assert [g["record_id"] for g in report["gaps"]] == [blank["id"]]
    assert ok(api.get(f"/api/v1/contacts/{blank['id']}"))["owner_id"] == ids["rita"]
    gaps = ok(api.get("/api/v1/gaps"))["data"]
    assert [(g["record_id"], g["rule"], g["field"]) for g in gaps] == [
        (blank["id"], "routing.leads", "region")
    ]
    assert ok(api.get(f"/api/v1/tasks/{task['id']}"))["assignee_id"] == ids["mia"]


def test_user_and_token_administration_needs_an_administrator(
    team: dict[str, Any], rt: Runtime
) -> None:
    ids = team["ids"]
    ray = Actor(
        kind=ActorKind.USER, source=Source.API, label="ray", id=ids["ray"], user_id=ids["ray"]
    )
    with rt.transaction(operator()) as ctx:
        rita_token = next(t.id for t in list_tokens(ctx) if t.user_id == ids["rita"])
    refusals = {
        "add a user": lambda ctx: create_user(ctx, email="eve@example.com", name="Eve"),
        "change a user's role": lambda ctx: set_role(ctx, "ray@example.com", "admin"),
        "issue a token for another user": lambda ctx: create_token(
            ctx, find_user(ctx, "rita@example.com"), "mine now", ["read"]
        ),
        "revoke another user's token": lambda ctx: revoke_token(ctx, rita_token),
    }
    for what, attempt in refusals.items():
        with (
            pytest.raises(PermissionDenied, match=f"only an administrator may {what}"),
            rt.transaction(ray) as ctx,
        ):
            attempt(ctx)
    with rt.transaction(operator()) as ctx:  # nothing of it was written
        assert find_user(ctx, "ray@example.com").role == "rep"
        assert all(t.revoked_at is None for t in list_tokens(ctx) if t.user_id == ids["rita"])
        assert [t.name for t in list_tokens(ctx) if t.user_id == ids["rita"]] == ["laptop"]
    # a rep issues and revokes their own tokens
    with rt.transaction(ray) as ctx:
        own = create_token(ctx, find_user(ctx, "ray@example.com"), "own", ["read"])
        assert revoke_token(ctx, own.token.id).revoked_at is not None
