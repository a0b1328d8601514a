"""Rules from the command line, and a definition with bad rules refused at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from plumb.core.errors import WorkspaceInvalid
from plumb.models import ChangeEntry, OutboxMessage, RuleGap, Task
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text, parse_workspace
from tests.conftest import Cli, ok
from tests.test_rules import RULES, create, patch, people, workspace_file  # noqa: F401


def _with_rules(rules: list[dict[str, Any]]) -> str:
    data = yaml.safe_load(default_text())
    data["rules"] = rules
    return yaml.safe_dump(data, sort_keys=False)


def _rule(**over: Any) -> dict[str, Any]:
    base = {
        "name": "big_deals",
        "owner": "ada@example.com",
        "description": "Big deals.",
        "when": {"object": "deal", "changed": "stage"},
        "then": [{"set": {"competitor": "x"}}],
    }
    return {**base, **over}


def test_a_condition_that_does_not_parse_names_the_rule_line_and_column() -> None:
    text = _with_rules([_rule(**{"if": "amount >> > 5"})])
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(text, "plumb.yaml")
    message = str(caught.value)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "amount >> > 5" in t)
    assert f"plumb.yaml:{line}: rules.0.if: rule 'big_deals': condition does not parse" in message
    assert "at column 11" in message


def test_unknown_fields_in_conditions_and_requires_are_refused() -> None:
    text = _with_rules(
        [_rule(**{"if": "amount > 5 and company.sise == 'x'", "requires": ["close_dte"]})]
    )
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(text, "plumb.yaml")
    message = str(caught.value)
    assert "rule 'big_deals': condition company has no field 'sise' at column 16" in message
    assert "rule 'big_deals': requires deal has no field 'close_dte'" in message


def test_a_webhook_action_must_name_a_declared_endpoint() -> None:
    rule = _rule(then=[{"webhook": {"endpoint": "erp"}}])
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(_with_rules([rule]), "plumb.yaml")
    assert "rule 'big_deals': no webhook endpoint 'erp'" in str(caught.value)
    data = yaml.safe_load(_with_rules([rule]))
    data["webhooks"] = {
        "allowed_hosts": ["hooks.example.com"],
        "endpoints": {"erp": {"url": "https://hooks.example.com/in", "secret_env": "ERP_SECRET"}},
    }
    parse_workspace(yaml.safe_dump(data), "plumb.yaml")


def test_unsafe_expressions_are_refused() -> None:
    for text, why in [
        ("__import__('os').system('x')", "unknown function"),
        ("amount.__class__ == 1", "has no related record 'amount'"),
        ("[x for x in contacts]", "listcomp expressions are not allowed"),
        ("lambda: 1", "lambda expressions are not allowed"),
    ]:
        with pytest.raises(WorkspaceInvalid, match=why):
            parse_workspace(_with_rules([_rule(**{"if": text})]), "plumb.yaml")


def test_a_changed_rule_is_recorded_in_history(
    rt: Runtime, api: TestClient, tmp_path: Path
) -> None:
    history = ok(api.get("/api/v1/workspace"))
    assert any(r["name"] == "proposal_follow_up" for r in history["definition"]["rules"])
    entries = ok(api.get("/api/v1/users/ada@example.com/history"))  # the API answers
    assert entries["data"]
    with rt.db.read_session() as session:
        [changes] = session.scalars(
            select(ChangeEntry.changes).where(ChangeEntry.record_type == "workspace")
        ).all()
    assert changes["rules.proposal_follow_up"][0] is None
    assert changes["rules.proposal_follow_up"][1]["owner"] == "ada@example.com"
    assert "routing.leads" in changes


def test_cli_gaps_health_and_simulate(
    cli: Cli,
    api: TestClient,
    rt: Runtime,
    people: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    deal = create(
        api,
        "deals",
        {"name": "Acme", "pipeline": "sales", "stage": "qualification", "owner_id": people["rex"]},
    )
    create(api, "contacts", {"first_name": "Lea", "lifecycle_stage": "lead", "lead_source": "web"})
    by_field = cli("gaps", "--by", "field", "--json").json()
    assert {"field": "contact.region", "open": 1} in by_field
    listed = cli("gaps", "--rule", "routing.leads").stdout
    assert "routing.leads" in listed and "region" in listed

    assert cli("rules", "health", "--json").json()  # every rule has a status
    names = [r["name"] for r in cli("rules", "list", "--json").json()]
    assert "proposal_follow_up" in names and "routing.leads" in names

    # A candidate definition where moving to discovery assigns a task: a dry run reports it and
    # writes nothing.
    data = yaml.safe_load(default_text())
    data.update(RULES)
    data["rules"] = [
        {
            "name": "discovery_call",
            "owner": "ada@example.com",
            "description": "Deals in qualification get a discovery call.",
            "when": {"object": "deal", "changed": "stage", "to": "qualification"},
            "then": [
                {"task": {"title": "Call about {name}", "assignee": "owner"}},
                {"email": {"to": "owner_manager", "subject": "New: {name}"}},
            ],
        }
    ]
    with rt.db.read_session() as session:
        gaps_before = session.scalar(select(func.count()).select_from(RuleGap))
    other = tmp_path / "candidate.yaml"
    other.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    report = cli("rules", "simulate", "discovery_call", "--workspace", str(other), "--json").json()
    assert report["outcomes"] == {"discovery_call": {"fired": 1}}
    [change] = report["changes"]
    assert (change["rule"], change["object"], change["action"]) == (
        "discovery_call",
        "task",
        "create",
    )
    assert change["changes"]["title"][1] == "Call about Acme"
    [message] = report["messages"]
    assert message["destination"] == "mia@example.com"
    with rt.db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(RuleGap)) == gaps_before
    assert deal["id"]

    unknown = cli("rules", "simulate", "nope", expect=1)
    assert "no rule named 'nope'" in unknown.stderr


def test_the_commented_examples_in_the_default_workspace_load() -> None:
    head, _, tail = default_text().partition("# integrity_owner:")
    lines = ("integrity_owner:" + tail).splitlines()
    body = "\n".join(line[2:] if line.startswith("# ") else line for line in lines)
    loaded = parse_workspace(head + body, "default.yaml")
    assert [r.name for r in loaded.workspace.rules] == [
        "proposal_follow_up",
        "won_makes_customers",
        "quiet_deal",
    ]
    assert loaded.workspace.routing["leads"].inputs() == ["region"]
