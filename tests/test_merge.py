"""Merging records through the API: survivorship, children, aliases, decisions, undo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.clock import FixedClock
from plumb.core.db import Database
from plumb.core.settings import Settings
from plumb.models import RECORD_MODELS, ExternalId, MatchDecision, Merge, RecordAlias
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text, load_workspace
from tests.conftest import ok, operator

VOLATILE = ("version", "updated_at")


@pytest.fixture
def rt_with_merger(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    """A runtime whose workspace adds a role that may merge the contacts it owns."""
    data = yaml.safe_load(default_text())
    data["roles"]["merger"] = MERGER_ROLE
    settings.workspace.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        loaded=load_workspace(settings.workspace),
        clock=clock,
    )
    runtime.start()
    yield runtime
    runtime.close()


def world(rt: Runtime) -> dict[str, Any]:
    """Every record of every object (all fields, links included) and every external id."""
    out: dict[str, Any] = {}
    with rt.reading(operator()) as ctx:
        for obj, model in RECORD_MODELS.items():
            records = list(ctx.session.scalars(select(model).order_by(model.id)))
            for snap in queries.snapshots(ctx, obj, records):
                out[f"{obj}:{snap['id']}"] = {k: v for k, v in snap.items() if k not in VOLATILE}
        rows = ctx.session.execute(
            select(
                ExternalId.record_type,
                ExternalId.source,
                ExternalId.external_id,
                ExternalId.record_id,
            ).order_by(ExternalId.id)
        ).all()
        out["external_ids"] = [tuple(r) for r in rows]
    return out


def create(api: TestClient, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(f"/api/v1/{plural}", json=body), 201)  # type: ignore[no-any-return]


def importer() -> Actor:
    return Actor(kind=ActorKind.IMPORT, source=Source.IMPORT, label="import job")


def two_contacts(rt: Runtime, api: TestClient, clock: FixedClock) -> dict[str, Any]:
    """A survivor and a duplicate with children of every kind, set through several sources."""
    c1 = create(api, "companies", {"name": "Acme Inc", "domain": "acme.com"})
    c2 = create(api, "companies", {"name": "Acme Labs"})
    with rt.transaction(importer()) as ctx:
        s = ops.create(
            ctx,
            "contact",
            {
                "first_name": "Ann",
                "last_name": "Lee",
                "emails": ["ann@acme.com"],
                "job_title": "CTO",
                "company_id": c1["id"],
                "lead_source": "event",
            },
        )
        survivor = s.id
    clock.advance(hours=1)
    m = create(
        api,
        "contacts",
        {
            "first_name": "Annabel",
            "last_name": "Lee",
            "emails": ["ann.lee@gmail.com", "ANN@acme.com"],
            "phones": ["+1 415 555 0134"],
            "company_id": c2["id"],
            "lead_source": "referral",
        },
    )
    clock.advance(hours=1)
    ok(
        api.patch(
            f"/api/v1/contacts/{m['id']}",
            json={"job_title": "Chief Technology Officer"},
            headers={"If-Match": '"1"'},
        )
    )
    ok(
        api.put(
            "/api/v1/contacts/by-external-id/hubspot/42",
            json={"job_title": "Chief Technology Officer"},
        ),
        201,
    )
    ext = ok(api.get("/api/v1/contacts", params={"job_title": "Chief Technology Officer"}))["data"]
    # the upsert above created a third contact: merge it too
    third = next(c["id"] for c in ext if c["id"] != m["id"])
    d1 = create(
        api, "deals", {"name": "One", "contacts": [{"contact_id": m["id"], "role": "champion"}]}
    )
    d2 = create(
        api,
        "deals",
        {
            "name": "Two",
            "company_id": c2["id"],
            "contacts": [
                {"contact_id": survivor, "role": "decision_maker"},
                {"contact_id": m["id"], "role": "user"},
            ],
        },
    )
    a1 = create(
        api,
        "activities",
        {
            "type": "note",
            "subject": "met",
            "links": [{"type": "contact", "id": m["id"]}, {"type": "company", "id": c2["id"]}],
        },
    )
    a2 = create(
        api,
        "activities",
        {
            "type": "call",
            "links": [{"type": "contact", "id": survivor}, {"type": "contact", "id": m["id"]}],
        },
    )
    t1 = create(
        api, "tasks", {"title": "Call Annabel", "record": {"type": "contact", "id": m["id"]}}
    )
    k1 = create(api, "cases", {"subject": "Login broken", "contact_id": m["id"]})
    clock.advance(hours=1)
    return {
        "s": survivor,
        "m": m["id"],
        "x": third,
        "c1": c1["id"],
        "c2": c2["id"],
        "d1": d1["id"],
        "d2": d2["id"],
        "a1": a1["id"],
        "a2": a2["id"],
        "t1": t1["id"],
        "k1": k1["id"],
    }


def test_merge_then_undo_restores_everything_but_later_edits(
    rt: Runtime, api: TestClient, clock: FixedClock
) -> None:
    ids = two_contacts(rt, api, clock)
    s, m, x = ids["s"], ids["m"], ids["x"]
    before = world(rt)

    preview = ok(
        api.post(
            "/api/v1/contacts/merge?preview=true",
            json={"survivor": s, "merged": [m, x], "choices": {"company_id": m}},
        )
    )
    assert preview["preview"] is True
    assert preview["fields"]["company_id"] == {"rule": "chosen", "record_id": m, "value": ids["c2"]}
    assert world(rt) == before  # a preview writes nothing

    response = api.post(
        "/api/v1/contacts/merge",
        json={"survivor": s, "merged": [m, x], "choices": {"company_id": m}},
    )
    done = ok(response, 201)
    merge_id = done["id"]
    assert response.headers["Location"] == f"/api/v1/merges/{merge_id}"
    rec = done["record"]
    assert rec["id"] == s
    assert rec["first_name"] == "Annabel"  # most complete
    assert rec["job_title"] == "Chief Technology Officer"  # most recent (field history)
    assert rec["lead_source"] == "referral"  # api outranks import
    assert rec["emails"] == ["ann@acme.com", "ann.lee@gmail.com"]  # unioned, survivor first
    assert rec["phones"] == ["+14155550134"]
    assert rec["company_id"] == ids["c2"]  # chosen
    assert done["fields"]["first_name"] == {
        "rule": "most_complete",
        "record_id": m,
        "from_records": [],
    }
    assert done["fields"]["lead_source"]["rule"] == "source_priority"

    # children follow the survivor
    assert ok(api.get(f"/api/v1/deals/{ids['d1']}"))["contacts"] == [
        {"contact_id": s, "role": "champion"}
    ]
    assert ok(api.get(f"/api/v1/deals/{ids['d2']}"))["contacts"] == [
        {"contact_id": s, "role": "decision_maker"}
    ]
    links = ok(api.get(f"/api/v1/activities/{ids['a1']}"))["links"]
    assert {"type": "contact", "id": s} in links and {"type": "contact", "id": m} not in links
    assert ok(api.get(f"/api/v1/activities/{ids['a2']}"))["links"] == [{"type": "contact", "id": s}]
    assert ok(api.get(f"/api/v1/tasks/{ids['t1']}"))["record"] == {"type": "contact", "id": s}
    assert ok(api.get(f"/api/v1/cases/{ids['k1']}"))["contact_id"] == s

    # the merged ids resolve to the survivor, and say so
    got = api.get(f"/api/v1/contacts/{m}")
    assert ok(got)["id"] == s
    assert got.headers["Plumb-Resolved-From"] == m
    # ... their own history is intact, ending with the archive naming the merge
    history = ok(api.get(f"/api/v1/contacts/{m}/history"))["data"]
    actions = [e["action"] for e in history]
    assert actions[:2] == ["create", "update"] and actions[-1] == "archive"
    assert history[-1]["source"] == "merge" and history[-1]["context"]["merge_id"] == merge_id
    archived = world(rt)[f"contact:{m}"]
    assert (
        archived["archived"]
        and s in archived["archive_reason"]
        and merge_id in archived["archive_reason"]
    )
    survivor_history = ok(api.get(f"/api/v1/contacts/{s}/history"))["data"]
    merge_entries = [e for e in survivor_history if e["context"].get("merge_id") == merge_id]
    assert {e["action"] for e in merge_entries} >= {"merge", "merged", "external_ids_moved"}
    assert all(e["source"] == "merge" for e in merge_entries)

    with rt.reading(operator()) as ctx:
        decisions = ctx.session.scalars(
            select(MatchDecision).order_by(MatchDecision.record_b)
        ).all()
        assert len(decisions) == 2
        for d in decisions:
            assert d.record_a < d.record_b and {d.record_a, d.record_b} & {s}
            assert (d.decision, d.merge_id) == ("duplicate", merge_id)
        assert ctx.session.scalar(select(ExternalId.record_id)) == s

    # later edits on the survivor
    clock.advance(hours=1)
    current = ok(api.get(f"/api/v1/contacts/{s}"))
    ok(
        api.patch(
            f"/api/v1/contacts/{s}",
            json={"job_title": "VP Engineering", "emails": [*current["emails"], "ann@new.io"]},
            headers={"If-Match": f'"{current["version"]}"'},
        )
    )

    report = ok(api.post(f"/api/v1/merges/{merge_id}/undo"))
    assert sorted(report["restored"]) == sorted([m, x])
    assert report["fields_kept"]["job_title"] == "changed since the merge"

    after = world(rt)
    expected = dict(before)
    expected[f"contact:{s}"] = {
        **before[f"contact:{s}"],
        "job_title": "VP Engineering",
        "emails": ["ann@acme.com", "ann@new.io"],
    }
    assert after == expected

    assert ok(api.get(f"/api/v1/contacts/{m}"))["id"] == m
    again = api.post(f"/api/v1/merges/{merge_id}/undo")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert "already undone" in again.json()["detail"]
    with rt.reading(operator()) as ctx:
        assert {d.decision for d in ctx.session.scalars(select(MatchDecision))} == {"undone"}
        row = ctx.session.get(Merge, merge_id)
        assert row is not None and row.undone_at is not None and row.undone_by
        assert ctx.session.scalars(select(RecordAlias)).all() == []
    shown = ok(api.get(f"/api/v1/merges/{merge_id}"))
    assert shown["undone_at"] and shown["before"][m]["first_name"] == "Annabel"
    assert ok(api.get("/api/v1/audit/verify"))["ok"] is True


def test_company_merge_moves_contacts_deals_external_ids_and_later_references(
    api: TestClient, clock: FixedClock
) -> None:
    s = create(api, "companies", {"name": "Globex", "industry": "software"})
    m = ok(
        api.put(
            "/api/v1/companies/by-external-id/crm/7",
            json={"name": "Globex Corporation", "website": "https://globex.com"},
        ),
        201,
    )
    contact = create(api, "contacts", {"first_name": "Hank", "company_id": m["id"]})
    deal = create(api, "deals", {"name": "Renewal", "company_id": m["id"]})
    clock.advance(minutes=5)

    # stale versions are refused, through If-Match (survivor) or the body (any record)
    ok(
        api.patch(
            f"/api/v1/companies/{s['id']}", json={"size": "11-50"}, headers={"If-Match": '"1"'}
        )
    )
    stale = api.post(
        "/api/v1/companies/merge",
        json={"survivor": s["id"], "merged": [m["id"]]},
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 412 and stale.json()["code"] == "version_conflict"
    assert stale.json()["record_id"] == s["id"] and stale.json()["current_version"] == 2
    stale = api.post(
        "/api/v1/companies/merge",
        json={"survivor": s["id"], "merged": [m["id"]], "versions": {m["id"]: 7}},
    )
    assert stale.status_code == 412 and stale.json()["record_id"] == m["id"]

    done = ok(
        api.post(
            "/api/v1/companies/merge",
            json={"survivor": s["id"], "merged": [m["id"]], "versions": {m["id"]: 1}},
            headers={"If-Match": '"2"'},
        ),
        201,
    )
    rec = done["record"]
    assert rec["name"] == "Globex Corporation"  # most complete (the company default)
    assert rec["name_key"] == "globex"
    assert (rec["industry"], rec["size"], rec["domain"]) == ("software", "11_50", "globex.com")
    assert ok(api.get(f"/api/v1/contacts/{contact['id']}"))["company_id"] == s["id"]
    assert ok(api.get(f"/api/v1/deals/{deal['id']}"))["company_id"] == s["id"]

    # a later import of the merged-away record's id updates the survivor
    again = api.put("/api/v1/companies/by-external-id/crm/7", json={"phone": "+1 415 555 0199"})
    assert ok(again)["id"] == s["id"]
    # a reference given as the merged id lands on the survivor
    later = create(api, "contacts", {"first_name": "Mindy", "company_id": m["id"]})
    assert later["company_id"] == s["id"]
    patched = ok(
        api.patch(
            f"/api/v1/companies/{m['id']}",
            json={"city": "Springfield"},
            headers={"If-Match": f'"{ok(again)["version"]}"'},
        )
    )
    assert patched["id"] == s["id"] and patched["city"] == "Springfield"

    listed = ok(api.get("/api/v1/merges", params={"record": m["id"]}))["data"]
    assert [x["id"] for x in listed] == [done["id"]]
    assert ok(api.get("/api/v1/merges", params={"object": "contact"}))["data"] == []


def test_most_recent_follows_field_history_not_the_record_time(
    api: TestClient, clock: FixedClock
) -> None:
    s = create(api, "contacts", {"first_name": "Jo", "job_title": "Analyst"})
    m = create(api, "contacts", {"first_name": "Jo", "job_title": "Intern", "city": "Oslo"})
    clock.advance(days=1)
    s = ok(
        api.patch(
            f"/api/v1/contacts/{s['id']}",
            json={"job_title": "Lead analyst"},
            headers={"If-Match": '"1"'},
        )
    )
    clock.advance(days=1)
    ok(
        api.patch(
            f"/api/v1/contacts/{m['id']}", json={"city": "Bergen"}, headers={"If-Match": '"1"'}
        )
    )
    plan = ok(
        api.post(
            "/api/v1/contacts/merge?preview=true",
            json={
                "survivor": s["id"],
                "merged": [m["id"]],
                "choices": {"last_name": "Nakamura", "lead_status": s["id"]},
            },
        )
    )
    fields = plan["fields"]
    assert fields["job_title"] == {
        "rule": "most_recent",
        "record_id": s["id"],
        "value": "Lead analyst",
    }
    assert fields["city"] == {"rule": "most_recent", "record_id": m["id"], "value": "Bergen"}
    assert fields["last_name"] == {"rule": "chosen", "record_id": None, "value": "Nakamura"}
    assert plan["changes"]["city"] == [None, "Bergen"]

    bad = api.post(
        "/api/v1/contacts/merge?preview=true",
        json={
            "survivor": s["id"],
            "merged": [m["id"]],
            "choices": {
                "shoe_size": s["id"],
                "lead_source": "carrier pigeon",
                "last_activity_at": "2026-01-01T00:00:00Z",
            },
        },
    )
    assert bad.status_code == 422
    errors = {e["field"]: e["rule"] for e in bad.json()["errors"]}
    assert errors == {
        "shoe_size": "merge_choice",
        "lead_source": "merge_choice:picklist",
        "last_activity_at": "merge_choice:read_only",
    }

    malformed = api.post("/api/v1/contacts/merge", json={"survivor": s["id"], "merged": [s["id"]]})
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "merged"
    unknown = api.post("/api/v1/activities/merge", json={"survivor": s["id"], "merged": [m["id"]]})
    assert unknown.status_code in (404, 405)


def test_undo_is_refused_while_a_later_merge_holds_its_records(
    api: TestClient, clock: FixedClock
) -> None:
    a, b, c = (create(api, "contacts", {"first_name": n}) for n in ("A", "B", "C"))
    first = ok(
        api.post("/api/v1/contacts/merge", json={"survivor": b["id"], "merged": [a["id"]]}), 201
    )
    clock.advance(minutes=1)
    second = ok(
        api.post("/api/v1/contacts/merge", json={"survivor": c["id"], "merged": [b["id"]]}), 201
    )
    assert ok(api.get(f"/api/v1/contacts/{a['id']}"))["id"] == c["id"]  # aliases chain

    refused = api.post(f"/api/v1/merges/{first['id']}/undo")
    assert refused.status_code == 409
    assert refused.json()["later_merges"] == [second["id"]]
    assert refused.json()["rule"] == "undo_order"
    ok(api.post(f"/api/v1/merges/{second['id']}/undo"))
    ok(api.post(f"/api/v1/merges/{first['id']}/undo"))
    for record in (a, b, c):
        assert ok(api.get(f"/api/v1/contacts/{record['id']}"))["id"] == record["id"]
    assert ok(api.get("/api/v1/audit/verify"))["ok"] is True


MERGER_ROLE = {
    "label": "Merger",
    "objects": {"*": ["view", "create", "edit", "archive", "merge"]},
    "visibility": {"contact": "owner"},
}


def test_merge_needs_the_permission_and_sight_of_every_record(
    settings: Settings, rt_with_merger: Runtime, clock: FixedClock
) -> None:
    from plumb.api.app import create_app

    tokens: dict[str, str] = {}
    with rt_with_merger.transaction(operator()) as ctx:
        for email, role in (("rep@x.io", "rep"), ("mo@x.io", "merger"), ("al@x.io", "merger")):
            user = create_user(ctx, email=email, name=email, role=role)
            tokens[email] = create_token(ctx, user, "t", ["write"]).secret
    with TestClient(create_app(rt_with_merger), raise_server_exceptions=False) as client:

        def as_(email: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[email]}"}

        mine = [
            ok(client.post("/api/v1/contacts", json={"first_name": n}, headers=as_("mo@x.io")), 201)
            for n in ("Mo", "Moe")
        ]
        theirs = ok(
            client.post("/api/v1/contacts", json={"first_name": "Al"}, headers=as_("al@x.io")), 201
        )

        body = {"survivor": mine[0]["id"], "merged": [mine[1]["id"]]}
        denied = client.post("/api/v1/contacts/merge", json=body, headers=as_("rep@x.io"))
        assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
        assert "merge" in denied.json()["detail"]

        unseen = client.post(
            "/api/v1/contacts/merge",
            json={"survivor": mine[0]["id"], "merged": [theirs["id"]]},
            headers=as_("mo@x.io"),
        )
        assert unseen.status_code == 404 and unseen.json()["record_id"] == theirs["id"]

        done = ok(client.post("/api/v1/contacts/merge", json=body, headers=as_("mo@x.io")), 201)
        # another merger who cannot see the survivor cannot see or undo the merge
        assert client.get(f"/api/v1/merges/{done['id']}", headers=as_("al@x.io")).status_code == 404
        assert client.get("/api/v1/merges", headers=as_("al@x.io")).json()["data"] == []
        refused = client.post(f"/api/v1/merges/{done['id']}/undo", headers=as_("al@x.io"))
        assert refused.status_code == 404
        ok(client.post(f"/api/v1/merges/{done['id']}/undo", headers=as_("mo@x.io")))


def test_the_merge_section_is_validated_with_lines() -> None:
    from plumb.core.errors import WorkspaceInvalid
    from plumb.workspace.loader import parse_workspace

    data = yaml.safe_load(default_text())
    data["merge"]["objects"]["contact"]["fields"]["shoe_size"] = "most_recent"
    data["merge"]["objects"]["task"] = {"default": "most_recent"}
    data["merge"]["source_priority"].append("carrier_pigeon")
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(yaml.safe_dump(data, sort_keys=False), "plumb.yaml")
    text = str(caught.value)
    assert "contact has no field 'shoe_size'" in text
    assert "'task' records cannot be merged" in text
    assert "unknown source 'carrier_pigeon'" in text
    assert "plumb.yaml:" in text.splitlines()[1]
    bad_rule = default_text().replace("first_name: most_complete", "first_name: loudest")
    with pytest.raises(WorkspaceInvalid) as caught:
        parse_workspace(bad_rule, "plumb.yaml")
    assert "merge.objects.contact.fields.first_name" in str(caught.value)
