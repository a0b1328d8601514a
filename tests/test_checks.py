"""Checks find exactly the planted defects, with the right reason, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from plumb.access.users import create_user
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.clock import FixedClock
from plumb.quality.engine import run_checks
from plumb.records import operations as ops
from plumb.reports.registry import run_report
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text
from tests.conftest import T0, Admin, Cli, ok, operator

CUSTOM = {
    "checks": {
        "custom": [
            {
                "name": "customer_has_title",
                "object": "contact",
                "owner": "ada@example.com",
                "description": "Every customer contact has a job title.",
                "if": "lifecycle_stage == 'customer'",
                "expect": "present(job_title)",
            },
            {
                "name": "big_deal_company_sized",
                "object": "deal",
                "owner": "ada@example.com",
                "description": "A deal over 50000 is with a company whose size is known.",
                "if": "amount > 50000",
                "expect": "present(company.size)",
            },
        ]
    }
}


@pytest.fixture(autouse=True)
def workspace_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(default_text())
    data.update(CUSTOM)
    path = tmp_path / "plumb.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def make(rt: Runtime, obj: str, values: dict[str, Any], *, bypass: bool = False) -> str:
    flags = frozenset({"bypass_stage_gate"}) if bypass else frozenset()
    with rt.transaction(operator(), flags=flags) as ctx:
        return ops.create(ctx, obj, values).id


def archive(rt: Runtime, obj: str, record_id: str) -> None:
    with rt.transaction(operator()) as ctx:
        from plumb.records import queries

        ops.archive(ctx, obj, queries.get(ctx, obj, record_id), reason="test")


def found(rt: Runtime, **kwargs: Any) -> set[tuple[str, str, str]]:
    with rt.reading(operator()) as ctx:
        run = run_checks(ctx, limit=None, **kwargs)
    return {(f.check, f.record_id, f.reason) for f in run.findings}


def plant(rt: Runtime, clock: FixedClock) -> dict[str, str]:
    """A small clean CRM plus one record per kind of defect."""
    ids: dict[str, str] = {}
    # Old records first: the decayed contact and the stale deal were last touched long ago.
    clock.set(T0 - timedelta(days=400))
    ids["old"] = make(rt, "contact", {"first_name": "Old", "last_name": "Timer"})
    clock.set(T0 - timedelta(days=60))
    ids["acme"] = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com", "size": "51_200"})
    ids["stale_deal"] = make(
        rt,
        "deal",
        {
            "name": "Acme renewal",
            "pipeline": "sales",
            "stage": "proposal_sent",
            "amount": "12000",
            "close_date": (T0 + timedelta(days=30)).date().isoformat(),
            "company_id": ids["acme"],
        },
    )
    clock.set(T0)
    with rt.transaction(operator()) as ctx:
        from plumb.records import queries

        ops.update(
            ctx, "contact", queries.get(ctx, "contact", ids["old"]), {"company_id": ids["acme"]}
        )
    ids["good"] = make(
        rt,
        "contact",
        {
            "first_name": "Grace",
            "last_name": "Good",
            "email": "grace@acme.com",
            "phone": "+14155550100",
            "lifecycle_stage": "sql",
            "lead_source": "website",
            "company_id": ids["acme"],
        },
    )
    ids["good_deal"] = make(
        rt,
        "deal",
        {
            "name": "Acme expansion",
            "pipeline": "sales",
            "stage": "negotiation",
            "amount": "80000",
            "close_date": (T0 + timedelta(days=10)).date().isoformat(),
            "company_id": ids["acme"],
            "contacts": [{"contact_id": ids["good"], "role": "champion"}],
        },
    )
    # Defects.
    ids["no_source"] = make(
        rt,
        "contact",
        {
            "first_name": "Nora",
            "last_name": "Nosource",
            "lifecycle_stage": "lead",
            "company_id": ids["acme"],
        },
        bypass=True,
    )
    ids["orphan"] = make(rt, "contact", {"first_name": "Olive", "last_name": "Orphan"})
    ids["gone_co"] = make(rt, "company", {"name": "Gone Ltd", "domain": "gone-ltd.com"})
    ids["broken"] = make(
        rt, "contact", {"first_name": "Bo", "last_name": "Broken", "company_id": ids["gone_co"]}
    )
    archive(rt, "company", ids["gone_co"])
    ids["ceo1"] = make(
        rt,
        "contact",
        {"first_name": "Cy", "last_name": "One", "job_title": "CEO", "company_id": ids["acme"]},
    )
    ids["ceo2"] = make(
        rt,
        "contact",
        {"first_name": "Di", "last_name": "Two", "job_title": "ceo", "company_id": ids["acme"]},
    )
    ids["subscriber"] = make(
        rt,
        "contact",
        {
            "first_name": "Sue",
            "last_name": "Scriber",
            "lifecycle_stage": "subscriber",
            "company_id": ids["acme"],
        },
    )
    make(
        rt,
        "activity",
        {
            "type": "call",
            "occurred_at": T0.isoformat(),
            "subject": "Intro call",
            "links": [{"type": "contact", "id": ids["subscriber"]}],
        },
    )
    ids["past_deal"] = make(
        rt,
        "deal",
        {
            "name": "Late one",
            "pipeline": "sales",
            "stage": "qualification",
            "close_date": (T0 - timedelta(days=3)).date().isoformat(),
            "company_id": ids["acme"],
        },
    )
    ids["untitled_customer"] = make(
        rt,
        "contact",
        {
            "first_name": "Cu",
            "last_name": "Stomer",
            "lifecycle_stage": "customer",
            "company_id": ids["acme"],
        },
    )
    dup = {
        "first_name": "Dee",
        "last_name": "Dupont",
        "email": "dee@acme.com",
        "company_id": ids["acme"],
    }
    with rt.transaction(operator()) as ctx:
        # Two alike records in one write: the pair goes to the duplicate review queue.
        first, second = ops.create_many(ctx, "contact", [dup, {**dup, "email": "DEE@acme.com"}])
    assert first.record_id and second.record_id
    ids["dup1"], ids["dup2"] = first.record_id, second.record_id
    ids["loose_activity"] = make(
        rt, "activity", {"type": "note", "occurred_at": T0.isoformat(), "subject": "Scratch"}
    )
    return ids


EXPECTED = [
    ("contact.decayed", "old", "no activity and no verification in 365 days"),
    ("deal.stale", "stale_deal", "amount and close date unchanged for 30 days on an open deal"),
    (
        "contact.stage_fields",
        "no_source",
        "lead_source is blank; lifecycle stage 'lead' requires it",
    ),
    ("contact.orphan", "orphan", "no company"),
    ("contact.orphan", "broken", "its company is archived"),
    ("contact.consistent", "ceo1", "another contact at the same company is also CEO"),
    ("contact.consistent", "ceo2", "another contact at the same company is also ceo"),
    (
        "contact.consistent",
        "subscriber",
        "has a logged call or meeting, but lifecycle stage is subscriber",
    ),
    ("deal.stale", "past_deal", "close date is in the past on an open deal"),
    (
        "custom.customer_has_title",
        "untitled_customer",
        "Every customer contact has a job title. (expected: present(job_title))",
    ),
    ("activity.orphan", "loose_activity", "linked to no record"),
]


def test_each_planted_defect_is_found_with_its_reason_and_nothing_else(
    rt: Runtime, clock: FixedClock
) -> None:
    ids = plant(rt, clock)
    expected = {(check, ids[key], reason) for check, key, reason in EXPECTED}
    expected |= {
        ("contact.duplicate", ids["dup1"], f"possible duplicate of {ids['dup2']}"),
        ("contact.duplicate", ids["dup2"], f"possible duplicate of {ids['dup1']}"),
    }
    assert found(rt) == expected


def test_related_record_condition_is_evaluated_record_by_record(
    rt: Runtime, clock: FixedClock
) -> None:
    ids = plant(rt, clock)
    unsized = make(rt, "company", {"name": "Unsized Co", "domain": "unsized-co.com"})
    big = make(
        rt,
        "deal",
        {
            "name": "Big one",
            "pipeline": "sales",
            "stage": "qualification",
            "amount": "90000",
            "company_id": unsized,
        },
    )
    got = found(rt, obj="deal", names=["custom.big_deal_company_sized"])
    # good_deal is over 50000 too, but Acme's size is known.
    assert {(c, r) for c, r, _ in got} == {("custom.big_deal_company_sized", big)}
    assert ids["good_deal"] not in {r for _, r, _ in got}


def test_a_deal_whose_contacts_work_elsewhere_is_inconsistent_once(
    rt: Runtime, clock: FixedClock
) -> None:
    """Two contacts of another company on one deal: one finding for the deal (the check is a
    join, one row per contact, made distinct), and the pipeline report counts the deal once as
    inconsistent. A contact of the deal's own company, or of none, is no conflict."""
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    globex = make(rt, "company", {"name": "Globex Ltd", "domain": "globex.com"})
    people = [
        make(rt, "contact", {"first_name": n, "last_name": "X", "company_id": co})
        for n, co in (("Al", globex), ("Bea", globex), ("Cy", acme), ("Di", None))
    ]
    deal = {"name": "Mixed", "pipeline": "sales", "stage": "qualification", "company_id": acme}
    mixed = make(rt, "deal", {**deal, "contacts": [{"contact_id": p} for p in people]})
    make(rt, "deal", {**deal, "name": "Own", "contacts": [{"contact_id": people[2]}]})
    got = found(rt, obj="deal", names=["deal.consistent"])
    reason = "a contact on the deal works at another company than the deal's"
    assert got == {("deal.consistent", mixed, reason)}
    with rt.reading(operator()) as ctx:
        run = run_checks(ctx, obj="deal", names=["deal.consistent"], limit=None)
        rows = run_report(ctx, "pipeline").rows
    assert [s.records for s in run.summary] == [1] and len(run.findings) == 1
    notes = next(r for r in rows if r["stage"] == "qualification")["integrity"]
    assert notes["inconsistent"]["count"] == 1 and notes["inconsistent"]["ids"] == [mixed]


def test_a_value_outside_the_picklist_after_the_definition_changed(
    rt: Runtime, clock: FixedClock, workspace_file: Path
) -> None:
    contact = make(
        rt,
        "contact",
        {"first_name": "Pat", "last_name": "Paid", "lead_source": "paid", "company_id": None},
    )
    data = yaml.safe_load(workspace_file.read_text("utf-8"))
    data["picklists"]["lead_source"]["values"] = [
        v for v in data["picklists"]["lead_source"]["values"] if v["key"] != "paid"
    ]
    workspace_file.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    from plumb.workspace.loader import load_workspace

    rt.loaded = load_workspace(workspace_file)
    got = found(rt, obj="contact", names=["contact.consistent"])
    assert got == {
        ("contact.consistent", contact, "lead_source paid is not a value of picklist lead_source")
    }


def test_slice_limits_findings_and_both_paths_agree(rt: Runtime, clock: FixedClock) -> None:
    ids = plant(rt, clock)
    lead = found(rt, obj="contact", slice_text="lifecycle_stage == 'lead'")
    assert {r for _, r, _ in lead} == {ids["no_source"]}
    # A slice through a related record cannot be SQL; it is evaluated record by record.
    sliced = found(
        rt, obj="contact", slice_text="company.name == 'Acme Inc' and job_title == 'ceo'"
    )
    assert {r for _, r, _ in sliced} == {ids["ceo1"], ids["ceo2"]}


def test_checks_count_only_records_the_actor_may_see(
    rt: Runtime, clock: FixedClock, admin: Admin
) -> None:
    plant(rt, clock)
    with rt.transaction(operator()) as ctx:
        rex = create_user(ctx, email="rex@example.com", name="Rex", role="rep")
    mine = make(
        rt,
        "deal",
        {"name": "Rex's", "pipeline": "sales", "stage": "qualification", "owner_id": rex.id},
    )
    actor = Actor(
        kind=ActorKind.USER, source=Source.API, label="rex", id=rex.id, user_id=rex.id, role="rep"
    )
    with rt.reading(actor) as ctx:
        run = run_checks(ctx, obj="deal", limit=None)
    assert {f.record_id for f in run.findings} == {mine}
    assert {s.check: s.records for s in run.summary}["deal.orphan"] == 1


def test_check_cli_and_api(rt: Runtime, clock: FixedClock, cli: Cli, api: TestClient) -> None:
    ids = plant(rt, clock)
    out = cli("check", "--object", "contact", "--json").json()
    assert {(f["check"], f["record_id"]) for f in out["findings"]} >= {
        ("contact.orphan", ids["orphan"])
    }
    summary = {s["check"]: s["records"] for s in out["summary"]}
    assert summary["contact.consistent"] == 3
    csv_out = cli("check", "--object", "contact", "--slice", "lifecycle_stage == 'lead'", "--csv")
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("check,indicator,object,record_id,reason")
    assert len(lines) == 2 and ids["no_source"] in lines[1]
    body = ok(api.get("/api/v1/checks", params={"object": "deal"}))
    assert {(f["check"], f["record_id"]) for f in body["findings"]} == {
        ("deal.stale", ids["stale_deal"]),
        ("deal.stale", ids["past_deal"]),
    }
    bad = api.get("/api/v1/checks", params={"object": "contact", "slice": "nope =="})
    assert bad.status_code == 400
