"""Verification, decay estimate, scores and their history, quarantine and its release."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.core.clock import FixedClock
from plumb.quality.engine import run_checks
from plumb.quality.scores import slice_scores
from plumb.records import operations as ops
from plumb.records import queries
from plumb.records.rows import model_for
from plumb.runtime import Runtime
from tests.conftest import T0, Cli, ok, operator
from tests.test_checks import plant


def make(rt: Runtime, obj: str, values: dict[str, Any]) -> str:
    with rt.transaction(operator()) as ctx:
        return ops.create(ctx, obj, values).id


def failing(rt: Runtime, obj: str) -> set[tuple[str, str]]:
    with rt.reading(operator()) as ctx:
        return {(f.check, f.record_id) for f in run_checks(ctx, obj=obj, limit=None).findings}


def test_verify_makes_a_decayed_contact_fresh_and_the_estimate_follows(
    rt: Runtime, clock: FixedClock, api: TestClient
) -> None:
    clock.set(T0 - timedelta(days=730))
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    old = [make(rt, "contact", {"first_name": f"Old{i}", "company_id": acme}) for i in range(4)]
    clock.set(T0)
    fresh = make(rt, "contact", {"first_name": "New", "company_id": acme})
    assert failing(rt, "contact") == {("contact.decayed", i) for i in old}

    body = ok(api.get("/api/v1/quality/scores", params={"object": "contact"}))
    # Four contacts two years old at 25% a year: 4 * (1 - 0.75 ** ~2) = about 1.8.
    assert body["decay"]["records"] == 5
    assert body["decay"]["estimated_decayed"] == 2
    [everyone] = body["scores"]
    assert everyone["records"] == 5 and everyone["failing"] == {"freshness": 4}

    verified = ok(api.post(f"/api/v1/contacts/{old[0]}/verify"))
    assert verified["last_verified_at"].startswith("2026-03-01T09:00")
    assert failing(rt, "contact") == {("contact.decayed", i) for i in old[1:]}
    history = ok(api.get(f"/api/v1/contacts/{old[0]}/history"))["data"]
    assert history[-1]["action"] == "verify"
    assert fresh not in {r for _, r in failing(rt, "contact")}


def test_scores_by_slice_and_their_history(rt: Runtime, clock: FixedClock, cli: Cli) -> None:
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    make(
        rt,
        "contact",
        {
            "first_name": "A",
            "lifecycle_stage": "lead",
            "lead_source": "website",
            "company_id": acme,
        },
    )
    make(rt, "contact", {"first_name": "B", "lifecycle_stage": "lead", "lead_source": "website"})
    cli("check")  # a full run records the scores
    clock.advance(days=1)
    make(rt, "contact", {"first_name": "C", "lifecycle_stage": "subscriber"})
    cli("check")
    out = cli("scores", "--object", "contact", "--by", "stage", "--json").json()
    stages = {s["slice"]: s for s in out["scores"]}
    # Contacts have five indicators with checks (identity, completeness, linkage, consistency,
    # freshness): one of two leads is orphaned -> 1 - 1/10.
    assert stages["lead"]["score"] == 90.0
    assert stages["subscriber"]["score"] == 80.0
    hist = cli("scores", "--object", "contact", "--history", "--json").json()["scores"]
    assert [(h["records"], h["failing"]) for h in hist] == [
        (2, {"linkage": 1}),
        (3, {"linkage": 2}),
    ]


def test_quarantine_archives_with_the_reason_and_release_restores(
    rt: Runtime, api: TestClient
) -> None:
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    keep = make(rt, "contact", {"first_name": "Kept", "company_id": acme})
    lost = [make(rt, "contact", {"first_name": f"Lost{i}"}) for i in range(2)]
    dry = ok(
        api.post(
            "/api/v1/quarantine",
            json={"object": "contact", "check": "contact.orphan", "dry_run": True},
        )
    )
    assert dry["records"] == sorted(lost)
    done = ok(api.post("/api/v1/quarantine", json={"object": "contact", "check": "contact.orphan"}))
    with rt.reading(operator()) as ctx:
        records = {i: queries.get(ctx, "contact", i) for i in [keep, *lost]}
        ctx.session.expunge_all()
    assert not records[keep].archived
    assert all(records[i].archived for i in lost)
    assert records[lost[0]].archive_reason == "quarantine: no company"
    assert failing(rt, "contact") == set()
    ok(api.post("/api/v1/quarantine", json={"object": "contact", "release": done["run_id"]}))
    assert failing(rt, "contact") == {("contact.orphan", i) for i in lost}


def test_slice_scores_count_the_records_the_checks_find(rt: Runtime, clock: FixedClock) -> None:
    """Scores by slice agree with a full check run: per slice value and indicator, the records
    with a finding (a record failing two checks of one indicator, as a stale deal can, or
    several indicators, counts once under each)."""
    plant(rt, clock)
    with rt.reading(operator()) as ctx:
        for obj, kind in (("contact", "all"), ("contact", "stage"), ("deal", "stage")):
            model: Any = model_for(obj)
            col = model.lifecycle_stage if obj == "contact" else model.stage
            slice_of = {i: v for i, v in ctx.session.execute(select(model.id, col))}
            expected: dict[Any, dict[str, int]] = {}
            run = run_checks(ctx, obj=obj, limit=None)
            for record_id, indicator in {(f.record_id, f.indicator) for f in run.findings}:
                value = None if kind == "all" else slice_of[record_id]
                counts = expected.setdefault(value, {})
                counts[indicator] = counts.get(indicator, 0) + 1
            scores = slice_scores(ctx, obj, kind)
            assert {s["slice"]: s["failing"] for s in scores if s["failing"]} == expected
            assert sum(s["records"] for s in scores) == len(slice_of)
