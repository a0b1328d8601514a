"""Rules through the API: actions in the triggering transaction, gaps, routing, loops, time."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.access.users import create_user, update_user
from plumb.automation.timed import run_due
from plumb.core.clock import FixedClock
from plumb.models import OutboxMessage, RuleGap, RuleOutcome, Task
from plumb.records import operations as ops
from plumb.runtime import Runtime
from plumb.worker.scheduler import default_jobs, run_due_jobs
from plumb.workspace.loader import default_text
from tests.conftest import Admin, ok, operator

RULES: dict[str, Any] = {
    "integrity_owner": "ada@example.com",
    "automation": {"max_depth": 3},
    "rules": [
        {
            "name": "proposal_follow_up",
            "owner": "ada@example.com",
            "description": "A sent proposal gets a follow-up task and the manager hears of it.",
            "when": {"object": "deal", "changed": "stage", "to": "proposal_sent"},
            "then": [
                {"task": {"title": "Follow up on {name}", "assignee": "owner", "due_in_days": 3}},
                {
                    "email": {
                        "to": "owner_manager",
                        "subject": "Proposal sent: {name}",
                        "text": "{name} for {amount}",
                    }
                },
            ],
        },
        {
            "name": "won_makes_customers",
            "owner": "ada@example.com",
            "description": "A won deal makes its contacts and company customers.",
            "when": {"object": "deal", "changed": "stage", "to": "closed_won"},
            "then": [
                {
                    "update_related": {
                        "relation": "contacts",
                        "set": {"lifecycle_stage": "customer"},
                    }
                },
                {"update_related": {"relation": "company", "set": {"lifecycle_stage": "customer"}}},
            ],
        },
        {
            "name": "quiet_deal",
            "owner": "ada@example.com",
            "description": "An open deal without activity for two weeks gets a reminder.",
            "when": {"object": "deal", "inactive_days": 14},
            "if": "stage not in ['closed_won', 'closed_lost']",
            "then": [{"task": {"title": "No activity on {name}", "assignee": "owner"}}],
        },
        {
            "name": "ping",
            "owner": "ada@example.com",
            "description": "Half of a loop.",
            "when": {"object": "contact", "changed": "job_title", "to": "ping"},
            "then": [{"set": {"job_title": "pong"}}],
        },
        {
            "name": "pong",
            "owner": "ada@example.com",
            "description": "The other half of the loop.",
            "when": {"object": "contact", "changed": "job_title", "to": "pong"},
            "then": [{"set": {"job_title": "ping"}}],
        },
        {
            "name": "big_company_deal",
            "owner": "ada@example.com",
            "description": "Deals of big companies are flagged by their competitor field.",
            "when": {"object": "deal", "created": True},
            "if": "company.size == '1001_plus' and amount >= 50000",
            "requires": ["company_id"],
            "then": [{"set": {"competitor": "unknown (enterprise)"}}],
        },
    ],
    "routing": {
        "leads": {
            "object": "contact",
            "on_create": True,
            "if": "lifecycle_stage == 'lead'",
            "territories": [
                {"name": "west", "match": {"region": ["US-CA", "US-OR", "US-WA"]}, "team": "west"}
            ],
            "fallback": "ada@example.com",
        }
    },
}


@pytest.fixture(autouse=True)
def workspace_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(default_text())
    data.update(RULES)
    path = tmp_path / "plumb.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


@pytest.fixture
def people(rt: Runtime, admin: Admin) -> dict[str, str]:
    with rt.transaction(operator()) as ctx:
        mia = create_user(ctx, email="mia@example.com", name="Mia Manager", role="manager")
        rex = create_user(
            ctx, email="rex@example.com", name="Rex Rep", role="rep", manager=mia.email
        )
        sam = create_user(
            ctx, email="sam@example.com", name="Sam Rep", role="rep", manager=mia.email
        )
        west = [
            create_user(ctx, email=f"w{i}@example.com", name=f"West {i}", role="rep", team="west")
            for i in range(3)
        ]
    return {
        "mia": mia.id,
        "rex": rex.id,
        "sam": sam.id,
        **{f"w{i}": u.id for i, u in enumerate(west)},
    }


def create(api: TestClient, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(f"/api/v1/{plural}", json=body), 201)  # type: ignore[no-any-return]


def patch(api: TestClient, plural: str, rec: dict[str, Any], body: dict[str, Any]) -> Any:
    return ok(
        api.patch(
            f"/api/v1/{plural}/{rec['id']}", json=body, headers={"If-Match": f'"{rec["version"]}"'}
        )
    )


def tasks_of(rt: Runtime, record_id: str) -> list[Task]:
    with rt.db.read_session() as session:
        found = list(session.scalars(select(Task).where(Task.record_id == record_id)))
        session.expunge_all()
        return found


def outcomes(rt: Runtime) -> dict[tuple[str, str], int]:
    with rt.db.read_session() as session:
        rows = session.execute(select(RuleOutcome.rule, RuleOutcome.outcome, RuleOutcome.count))
        return {(r, o): n for r, o, n in rows}


def test_proposal_sent_creates_a_task_and_emails_the_manager(
    api: TestClient, rt: Runtime, people: dict[str, str]
) -> None:
    deal = create(
        api,
        "deals",
        {
            "name": "Acme renewal",
            "pipeline": "sales",
            "stage": "qualification",
            "owner_id": people["rex"],
        },
    )
    moved = patch(
        api,
        "deals",
        deal,
        {"stage": "proposal_sent", "amount": "12000", "close_date": "2026-04-30"},
    )
    assert moved["stage"] == "proposal_sent"

    [task] = tasks_of(rt, deal["id"])
    assert task.title == "Follow up on Acme renewal"
    assert task.assignee_id == people["rex"]
    assert task.due_date.isoformat() == "2026-03-04"  # T0 + 3 days
    assert task.created_by == "proposal_follow_up"
    with rt.db.read_session() as session:
        [message] = session.scalars(select(OutboxMessage)).all()
        session.expunge_all()
    assert (message.channel, message.destination) == ("email", "mia@example.com")
    assert message.payload["subject"] == "Proposal sent: Acme renewal"
    assert message.origin == "proposal_follow_up"
    assert (message.record_type, message.record_id) == ("deal", deal["id"])
    assert outcomes(rt)[("proposal_follow_up", "fired")] == 1

    # The task's history names the rule as the actor, on behalf of the user who moved the deal.
    history = ok(api.get(f"/api/v1/tasks/{task.id}/history"))["data"]
    assert history[0]["actor"]["kind"] == "rule"
    assert history[0]["actor"]["label"] == "proposal_follow_up"
    assert history[0]["source"] == "rule"


def test_closed_won_makes_contacts_and_company_customers(
    api: TestClient, rt: Runtime, people: dict[str, str]
) -> None:
    company = create(api, "companies", {"name": "Acme Inc", "lifecycle_stage": "opportunity"})
    ann = create(api, "contacts", {"first_name": "Ann", "lifecycle_stage": "opportunity"})
    bob = create(api, "contacts", {"first_name": "Bob"})
    deal = create(
        api,
        "deals",
        {
            "name": "Acme",
            "pipeline": "sales",
            "stage": "negotiation",
            "amount": "100",
            "close_date": "2026-03-20",
            "company_id": company["id"],
            "contacts": [{"contact_id": ann["id"]}, {"contact_id": bob["id"]}],
        },
    )
    patch(api, "deals", deal, {"stage": "closed_won"})

    for plural, rec in (("contacts", ann), ("contacts", bob), ("companies", company)):
        fresh = ok(api.get(f"/api/v1/{plural}/{rec['id']}"))
        assert fresh["lifecycle_stage"] == "customer"
        last = ok(api.get(f"/api/v1/{plural}/{rec['id']}/history"))["data"][-1]
        assert last["actor"]["label"] == "won_makes_customers"
        assert last["actor"]["kind"] == "rule"
        assert last["changes"]["lifecycle_stage"][1] == "customer"


def test_no_activity_for_14_days_creates_one_reminder(
    api: TestClient, rt: Runtime, clock: FixedClock, people: dict[str, str]
) -> None:
    quiet = create(
        api,
        "deals",
        {"name": "Quiet", "pipeline": "sales", "stage": "qualification", "owner_id": people["rex"]},
    )
    busy = create(api, "deals", {"name": "Busy", "pipeline": "sales", "stage": "qualification"})
    won = create(
        api,
        "deals",
        {
            "name": "Won",
            "pipeline": "sales",
            "stage": "closed_won",
            "amount": "1",
            "close_date": "2026-03-01",
        },
    )
    clock.advance(days=10)
    create(
        api,
        "activities",
        {"type": "call", "occurred_at": clock.now().isoformat(), "links": [f"deal:{busy['id']}"]},
    )
    clock.advance(days=5)

    with rt.transaction(operator("scheduler")) as ctx:
        assert run_due(ctx) == 1
    # the worker's scheduler runs the same evaluation as a job; the firing is not repeated
    jobs = default_jobs()
    assert run_due_jobs(rt, jobs, "worker-1") == ["timed_rules"]
    assert run_due_jobs(rt, jobs, "worker-2") == []  # not due again yet

    [task] = tasks_of(rt, quiet["id"])
    assert task.title == "No activity on Quiet"
    assert task.assignee_id == people["rex"]
    assert tasks_of(rt, busy["id"]) == []
    assert tasks_of(rt, won["id"]) == []
    counts = outcomes(rt)
    assert counts[("quiet_deal", "fired")] == 1
    assert counts[("quiet_deal", "not_matched")] == 2  # the won deal, once per run


def test_blank_region_opens_a_gap_and_setting_it_routes_and_closes_it(
    api: TestClient, rt: Runtime, admin: Admin, people: dict[str, str]
) -> None:
    lead = create(
        api,
        "contacts",
        {"first_name": "Lea", "lifecycle_stage": "lead", "lead_source": "website", "country": "US"},
    )
    assert lead["owner_id"] == admin.user_id  # not routed
    [gap] = ok(api.get("/api/v1/gaps"))["data"]
    assert gap["rule"] == "routing.leads"
    assert (gap["object"], gap["record_id"], gap["field"]) == ("contact", lead["id"], "region")
    assert gap["reason"] == "missing"
    assert gap["assignee"] == "ada@example.com"
    by_field = ok(api.get("/api/v1/gaps?by=field"))["data"]
    assert by_field == [{"field": "contact.region", "open": 1}]

    routed = patch(api, "contacts", lead, {"region": "California"})
    assert routed["region"] == "US-CA"
    assert routed["owner_id"] in {people["w0"], people["w1"], people["w2"]}
    assert ok(api.get("/api/v1/gaps"))["data"] == []
    with rt.db.read_session() as session:
        closed = session.scalars(select(RuleGap)).one()
        session.expunge_all()
    assert closed.closed_because == "fired"


def test_gaps_are_visibility_filtered(api: TestClient, rt: Runtime, people: dict[str, str]) -> None:
    from plumb.access.tokens import create_token

    deal = create(api, "deals", {"name": "Hidden", "pipeline": "sales", "stage": "qualification"})
    # The deal's owner (the admin) has no manager: the e-mail cannot go out -> a gap.
    patch(api, "deals", deal, {"stage": "proposal_sent", "amount": "1", "close_date": "2026-04-01"})
    [gap] = ok(api.get("/api/v1/gaps?rule=proposal_follow_up"))["data"]
    assert (gap["field"], gap["reason"]) == ("owner.manager", "missing")
    assert tasks_of(rt, deal["id"]) == []  # nothing of the rule half-done

    with rt.transaction(operator()) as ctx:
        from plumb.access.users import find_user

        token = create_token(ctx, find_user(ctx, "rex@example.com"), "t", ["read"]).secret
    rex_view = api.get("/api/v1/gaps", headers={"Authorization": f"Bearer {token}"})
    assert ok(rex_view)["data"] == []  # reps see their team's deals only


def test_deactivated_owner_is_a_gap_until_the_record_is_handed_over(
    api: TestClient, rt: Runtime, people: dict[str, str]
) -> None:
    deal = create(
        api,
        "deals",
        {
            "name": "Orphan",
            "pipeline": "sales",
            "stage": "qualification",
            "owner_id": people["rex"],
        },
    )
    with rt.transaction(operator()) as ctx:
        from plumb.models import User

        update_user(ctx, ctx.session.get_one(User, people["rex"]), active=False)
    deal = patch(
        api, "deals", deal, {"stage": "proposal_sent", "amount": "5", "close_date": "2026-05-01"}
    )
    [gap] = ok(api.get("/api/v1/gaps?rule=proposal_follow_up"))["data"]
    assert (gap["field"], gap["reason"]) == ("owner_id", "owner_inactive")
    assert gap["assignee"] == "ada@example.com"  # the integrity owner: the owner is gone

    patch(api, "deals", deal, {"owner_id": people["sam"]})  # handed over: the rule runs
    assert ok(api.get("/api/v1/gaps?rule=proposal_follow_up"))["data"] == []
    [task] = tasks_of(rt, deal["id"])
    assert task.assignee_id == people["sam"]


def test_rules_triggering_rules_stop_at_the_depth_and_say_so(
    api: TestClient, rt: Runtime, people: dict[str, str]
) -> None:
    contact = create(api, "contacts", {"first_name": "Lou"})
    final = patch(api, "contacts", contact, {"job_title": "ping"})
    # ping (depth 1) -> pong (2) -> ping (3) -> stopped: limit 3.
    assert final["job_title"] == "pong"
    assert final["version"] == 5
    counts = outcomes(rt)
    assert counts[("ping", "fired")] == 2
    assert counts[("pong", "fired")] == 1
    assert counts[("pong", "stopped")] == 1
    [gap] = ok(api.get("/api/v1/gaps"))["data"]
    assert (gap["rule"], gap["reason"]) == ("pong", "loop_depth")
    assert "limit 3" in gap["detail"]


def test_condition_over_a_related_record_and_required_inputs(
    api: TestClient, rt: Runtime, people: dict[str, str]
) -> None:
    big = create(api, "companies", {"name": "Big Co", "size": "1001+"})
    small = create(api, "companies", {"name": "Small Co", "size": "1-10"})
    hit = create(
        api,
        "deals",
        {
            "name": "A",
            "pipeline": "sales",
            "stage": "qualification",
            "company_id": big["id"],
            "amount": "60000",
        },
    )
    miss = create(
        api,
        "deals",
        {
            "name": "B",
            "pipeline": "sales",
            "stage": "qualification",
            "company_id": small["id"],
            "amount": "60000",
        },
    )
    bare = create(api, "deals", {"name": "C", "pipeline": "sales", "stage": "qualification"})
    assert hit["competitor"] == "unknown (enterprise)"
    assert miss["competitor"] is None
    assert bare["competitor"] is None
    counts = outcomes(rt)
    assert counts[("big_company_deal", "fired")] == 1
    assert counts[("big_company_deal", "not_matched")] == 1
    assert counts[("big_company_deal", "gap")] == 1
    [gap] = ok(api.get("/api/v1/gaps?rule=big_company_deal"))["data"]
    assert (gap["record_id"], gap["field"]) == (bare["id"], "company_id")


def test_round_robin_is_fair_under_concurrency(
    rt: Runtime, admin: Admin, people: dict[str, str]
) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(3):
                with rt.transaction(operator(f"w{n}")) as ctx:
                    ops.create(
                        ctx,
                        "contact",
                        {
                            "first_name": f"L{n}{i}",
                            "lifecycle_stage": "lead",
                            "lead_source": "web",
                            "country": "US",
                            "region": "WA",
                        },
                    )
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    from plumb.models import Contact

    with rt.db.read_session() as session:
        owners = Counter(session.scalars(select(Contact.owner_id)))
    assert owners == Counter({people["w0"]: 4, people["w1"]: 4, people["w2"]: 4})
