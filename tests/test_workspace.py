"""The workspace definition: validation with file and line, custom fields, synonyms, settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.core.errors import WorkspaceInvalid
from plumb.core.settings import Settings, settings_markdown
from plumb.models import ChangeEntry
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text, parse_workspace
from tests.conftest import Admin, ok

ROOT = Path(__file__).resolve().parents[1]

CUSTOM = """
objects:
  contact:
    fields:
      - {name: nickname, type: text}
      - {name: score, type: number}
      - {name: budget, type: money}
      - {name: birthday, type: date, personal: true}
      - {name: met_at, type: datetime}
      - {name: vip, type: boolean}
      - {name: tier, type: picklist, picklist: tier}
      - {name: interests, type: multi_picklist, picklist: interest}
      - {name: assistant_email, type: email}
      - {name: assistant_phone, type: phone}
      - {name: homepage, type: url}
      - {name: referred_by, type: record, target: contact}
      - {name: csm, type: user}
picklists:
  tier:
    values:
      - {key: gold, label: Gold, definition: "Top accounts.", synonyms: [platinum, "tier 1"]}
      - {key: silver, label: Silver, definition: "Everyone else."}
  interest:
    values:
      - {key: api, label: API, definition: "Builds on the API."}
      - {key: reports, label: Reports, definition: "Lives in reports."}
"""


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("workspace:\n  name: [unclosed\n", 3, "not valid YAML"),
        ("objects:\n  contact:\n    fields:\n      - {name: x, type: hologram}\n", 4, "hologram"),
        (
            "pipelines:\n  deal:\n    - key: s\n      label: S\n      stages:\n"
            "        - {key: a, label: A, definition: d, probability: 7}\n",
            6,
            "probability",
        ),
        (
            "objects:\n  contact:\n    fields:\n      - {name: tier, type: picklist, picklist: nope}\n",
            4,
            "nope",
        ),
        ("objects:\n  contact:\n    fields:\n      - {name: email, type: text}\n", 4, "email"),
    ],
)
def test_an_invalid_definition_names_file_line_and_reason(
    text: str, line: int, reason: str
) -> None:
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(text, "plumb.yaml")
    message = str(caught.value)
    assert re.search(rf"plumb\.yaml:{line}\b", message), message
    assert reason in message


def test_the_default_definition_is_valid_and_commented() -> None:
    loaded = parse_workspace(default_text(), "default")
    ws = loaded.workspace
    assert [s.key for s in ws.lifecycle_stages][:3] == ["subscriber", "lead", "mql"]
    assert all(s.definition for s in ws.lifecycle_stages)
    assert default_text().count("\n#") > 5


@pytest.fixture
def custom_workspace(settings: Settings) -> Settings:
    """The default definition plus one custom contact field of every type."""
    content = yaml.safe_load(default_text())
    extra = yaml.safe_load(CUSTOM)
    content["objects"]["contact"]["fields"] += extra["objects"]["contact"]["fields"]
    content["picklists"].update(extra["picklists"])
    settings.workspace.write_text(yaml.safe_dump(content))
    return settings


def test_every_custom_field_type_round_trips(
    custom_workspace: Settings, api: TestClient, admin: Admin
) -> None:
    other = ok(api.post("/api/v1/contacts", json={"first_name": "Ref"}), 201)
    body = {
        "first_name": "Cy",
        "nickname": " Cyborg ",
        "score": "42.5",
        "budget": {"amount": "1200.10", "currency": "eur"},
        "birthday": "1990-02-28",
        "met_at": "2026-02-01T10:00:00+01:00",
        "vip": "yes",
        "tier": "Platinum",
        "interests": ["api", "Reports"],
        "assistant_email": "Assistant@Example.COM",
        "assistant_phone": "+1 (415) 555-0199",
        "homepage": "example.com/cy",
        "referred_by": other["id"],
        "csm": admin.email,
    }
    created = ok(api.post("/api/v1/contacts", json=body), 201)
    assert created["nickname"] == "Cyborg"
    assert created["score"] in (42.5, "42.5")
    assert created["budget"] == {"amount": "1200.10", "currency": "EUR"}
    assert created["birthday"] == "1990-02-28"
    assert created["met_at"].startswith("2026-02-01T09:00:00")
    assert created["vip"] is True
    assert created["tier"] == "gold"
    assert sorted(created["interests"]) == ["api", "reports"]
    assert created["assistant_email"] == "Assistant@example.com"
    assert created["homepage"].startswith("https://example.com")
    assert created["referred_by"] == other["id"]
    assert created["csm"] == admin.user_id

    wrong = api.post(
        "/api/v1/contacts",
        json={"tier": "bronze", "score": "many", "birthday": "31/02/1990", "csm": "nobody@x.org"},
    )
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == {"tier", "score", "birthday", "csm"}


def test_definition_changes_are_recorded_in_history(settings: Settings, rt: Runtime) -> None:
    """Starting on a changed file records the change, item by item, in the change log."""
    settings.workspace.write_text(default_text().replace("probability: 0.5", "probability: 0.4"))
    changed = Runtime.from_settings(settings)
    changed.start()
    changed.start()  # the same definition again records nothing
    changed.close()
    with rt.db.read_session() as session:
        entries = session.scalars(
            select(ChangeEntry)
            .where(ChangeEntry.record_type == "workspace")
            .order_by(ChangeEntry.id)
        ).all()
        changes = [e.changes for e in entries]
    assert len(changes) == 2
    assert list(changes[1]) == ["pipelines.deal.sales"]
    old, new = changes[1]["pipelines.deal.sales"]
    assert old["stages"][2]["probability"] == 0.5
    assert new["stages"][2]["probability"] == 0.4


def test_every_setting_is_documented() -> None:
    """docs/settings.md is generated from the settings object; regenerate it when this fails:
    python -m plumb.core.settings > docs/settings.md"""
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert doc == settings_markdown()
    for name, info in Settings.model_fields.items():
        assert f"PLUMB_{name.upper()}" in doc
        assert info.description
