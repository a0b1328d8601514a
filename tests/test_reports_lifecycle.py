"""Funnel conversion and status usage, from planted lifecycle histories; now and as of a past day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plumb.core.clock import FixedClock
from plumb.records import operations as ops
from plumb.records import queries
from plumb.reports.registry import run_report
from plumb.runtime import Runtime
from tests.conftest import T0, Cli, ok, operator


def at(days: int) -> Any:
    return T0 - timedelta(days=days)


def make(rt: Runtime, obj: str, values: dict[str, Any]) -> str:
    with rt.transaction(operator()) as ctx:
        return ops.create(ctx, obj, values).id


def change(rt: Runtime, record_id: str, patch: dict[str, Any]) -> None:
    with rt.transaction(operator()) as ctx:
        ops.update(ctx, "contact", queries.get(ctx, "contact", record_id), patch)


def person(name: str, stage: str, **more: Any) -> dict[str, Any]:
    first, last = name.split()
    return {
        "first_name": first,
        "last_name": last,
        "emails": [f"{first.lower()}@{last.lower()}.example"],
        "lifecycle_stage": stage,
        "lead_source": "website",
        **more,
    }


@pytest.fixture
def lives(rt: Runtime, clock: FixedClock) -> dict[str, str]:
    """Five contacts whose lifecycle stages and lead statuses move over 100 days up to T0."""
    ids: dict[str, str] = {}
    clock.set(at(100))
    ids["old"] = make(rt, "contact", person("Olga Old", "lead"))
    clock.set(at(50))
    change(rt, ids["old"], {"lifecycle_stage": "mql"})
    clock.set(at(30))
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    ids["c1"] = make(
        rt,
        "contact",
        person("Cy One", "subscriber", lead_status="new", phones=["+1 415 555 0101"]),
    )
    ids["c2"] = make(
        rt, "contact", person("Di Two", "lead", lead_status="attempting", company_id=acme)
    )
    clock.set(at(25))
    ids["c3"] = make(rt, "contact", person("Ed Three", "lead"))
    clock.set(at(20))
    change(rt, ids["c1"], {"lifecycle_stage": "lead"})
    ids["c4"] = make(rt, "contact", person("Flo Four", "lead"))
    clock.set(at(10))
    change(rt, ids["c1"], {"lifecycle_stage": "sql"})
    clock.set(at(5))
    change(rt, ids["c3"], {"lifecycle_stage": "subscriber"})
    clock.set(at(3))
    make(
        rt,
        "activity",
        {
            "type": "call",
            "occurred_at": clock.now().isoformat(),
            "links": [{"type": "contact", "id": ids["c2"]}],
        },
    )
    clock.set(at(2))
    change(rt, ids["c2"], {"lead_status": "connected"})
    clock.set(T0)
    with rt.transaction(operator()) as ctx:
        ops.archive(ctx, "contact", queries.get(ctx, "contact", ids["c4"]), reason="test")
    return ids


def rows(rt: Runtime, name: str, key: tuple[str, ...], **kwargs: Any) -> dict[Any, Any]:
    with rt.reading(operator()) as ctx:
        report = run_report(ctx, name, **kwargs)
    return {tuple(r[k] for k in key): r for r in report.rows}


def funnel_figures(rt: Runtime, **kwargs: Any) -> dict[str, tuple[int, int, float | None]]:
    found = rows(rt, "funnel", ("from_stage",), **kwargs)
    return {k[0]: (r["entered"], r["reached"], r["rate"]) for k, r in found.items()}


def test_funnel_counts_entries_in_the_period_and_who_went_on(
    rt: Runtime, lives: dict[str, str]
) -> None:
    assert funnel_figures(rt) == {
        "subscriber": (2, 1, 0.5),  # c1 went on to lead; c3 fell back to subscriber
        "lead": (3, 1, 0.333),  # c1 skipped mql to sql (later counts); c2 stayed; c4 archived
        "mql": (1, 0, 0.0),  # old entered mql in the period, its lead entry was before it
        "sql": (1, 0, 0.0),
        "opportunity": (0, 0, None),
        "customer": (0, 0, None),  # customer -> evangelist, the last step ("other" is none)
    }
    # The period is [from, to): entries at the start count, at the end do not.
    assert funnel_figures(rt, start=at(30), stop=at(20)) == {
        **{k: (0, 0, None) for k in ("mql", "sql", "opportunity", "customer")},
        "subscriber": (1, 1, 1.0),
        "lead": (2, 0, 0.0),  # c2 and c3, neither went on; c1 and c4 entered at the end
    }
    lead = rows(rt, "funnel", ("from_stage",))[("lead",)]
    # c1 and c3 have no company; c2 has one.
    assert lead["integrity"]["orphaned"]["count"] == 2
    assert lead["integrity"]["orphaned"]["ids"] == sorted([lives["c1"], lives["c3"]])
    assert lead["integrity"]["any"]["count"] == 2


def test_a_move_to_a_stage_outside_the_funnel_is_not_going_on(
    rt: Runtime, clock: FixedClock
) -> None:
    clock.set(at(10))
    partner = make(rt, "contact", person("Pat Partner", "lead"))
    went_on = make(rt, "contact", person("Mo Mover", "lead"))
    clock.set(at(5))
    change(rt, partner, {"lifecycle_stage": "other"})
    change(rt, went_on, {"lifecycle_stage": "mql"})
    clock.set(T0)
    found = rows(rt, "funnel", ("from_stage", "to_stage"))
    assert found[("lead", "mql")]["entered"] == 2
    assert found[("lead", "mql")]["reached"] == 1  # Mo; Pat's move to "other" is not one
    assert not [k for k in found if "other" in k]
    assert list(found)[-1] == ("customer", "evangelist")


def test_funnel_as_of_a_past_day_reads_only_what_was_known(
    rt: Runtime, lives: dict[str, str]
) -> None:
    then = funnel_figures(rt, as_of=at(15))
    assert then["subscriber"] == (1, 1, 1.0)  # c1 had become a lead by then
    assert then["lead"] == (5, 1, 0.2)  # old, c1, c2, c3, c4 (archived only later); old -> mql
    assert then["mql"] == (1, 0, 0.0)
    assert then["sql"] == (0, 0, None)  # c1 reached sql five days later


def test_status_usage_holders_moves_medians_and_idle(rt: Runtime, lives: dict[str, str]) -> None:
    found = rows(rt, "status_usage", ("field", "value"))
    figures = {
        k: tuple(r[c] for c in COLUMNS) for k, r in found.items() if r["holding"] or r["moved_in"]
    }
    assert figures == {
        ("lifecycle_stage", "subscriber"): (1, 2, 1, 7.5, 1),
        ("lifecycle_stage", "lead"): (1, 3, 3, 25.0, 0),  # 50, 10, 30, 20 days; c2 had a call
        ("lifecycle_stage", "mql"): (1, 1, 0, 50.0, 1),
        ("lifecycle_stage", "sql"): (1, 1, 0, 10.0, 1),
        ("lead_status", "new"): (1, 1, 0, 30.0, 1),
        ("lead_status", "attempting"): (0, 1, 1, 28.0, 0),
        ("lead_status", "connected"): (1, 1, 0, 2.0, 0),
    }
    # Defined values in the picklist's order, held or not.
    assert [v for f, v in found if f == "lead_status"][:3] == ["new", "attempting", "connected"]
    assert found[("lifecycle_stage", "customer")]["holding"] == 0
    mql = found[("lifecycle_stage", "mql")]["integrity"]
    assert mql["orphaned"]["ids"] == [lives["old"]]
    assert found[("lifecycle_stage", "lead")]["integrity"]["any"]["count"] == 0
    assert "lifecycle_stage+%3D%3D+%27mql%27" in mql["orphaned"]["link"]


def test_status_usage_as_of_a_past_day(rt: Runtime, lives: dict[str, str]) -> None:
    found = rows(rt, "status_usage", ("field", "value"), as_of=at(15))
    lifecycle = {
        k[1]: tuple(r[c] for c in COLUMNS)
        for k, r in found.items()
        if k[0] == "lifecycle_stage" and (r["holding"] or r["moved_in"])
    }
    assert lifecycle == {
        "subscriber": (0, 1, 1, 10.0, 0),
        "lead": (4, 5, 1, 10.0, 4),  # visits of 50, 5, 15, 10, 5 days; the call came later
        "mql": (1, 1, 0, 35.0, 1),
    }


COLUMNS = ("holding", "moved_in", "moved_out", "median_days", "idle")


def test_lifecycle_reports_through_api_cli_and_export(
    rt: Runtime, lives: dict[str, str], api: TestClient, cli: Cli
) -> None:
    body = ok(api.get("/api/v1/reports/funnel", params={"from": at(30).date().isoformat()}))
    lead = next(r for r in body["rows"] if r["from_stage"] == "lead")
    assert (lead["entered"], lead["reached"], lead["rate"]) == (3, 1, 0.333)
    text = api.get("/api/v1/reports/status_usage", params={"format": "csv"}).text
    header = text.splitlines()[0]
    assert header.startswith("field,value,holding,moved_in,moved_out,median_days,idle,any_count")
    assert "lifecycle_stage,lead,1,3,3,25.0,0,0," in text
    bad = api.get("/api/v1/reports/pipeline", params={"from": "2026-01-01"})
    assert bad.status_code == 400 and "takes no period" in bad.text
    empty = api.get("/api/v1/reports/funnel", params={"from": "2026-03-01", "to": "2026-02-01"})
    assert empty.status_code == 400 and "is empty" in empty.text
    assert "from 2026-03-01 00:00:00 UTC to 2026-02-01 00:00:00 UTC" in empty.text

    out = cli(
        "report", "funnel", "--from", "2026-01-30", "--to", "2026-02-09", "--json"
    ).json()  # [T0-30 days, T0-20 days), as dates
    assert {r["from_stage"]: r["entered"] for r in out["rows"]}["lead"] == 2
    assert "from 2026-01-30 00:00:00 UTC to 2026-02-09 00:00:00 UTC" in out["notes"][0]
    usage = cli("report", "status-usage", "--as-of", at(15).date().isoformat(), "--json").json()
    lead_then = next(r for r in usage["rows"] if r["value"] == "lead")
    assert (lead_then["holding"], lead_then["moved_in"]) == (4, 5)
    cli("report", "nope", expect=1)


def test_cli_decay_estimate_runs_on_the_context_clock(
    rt: Runtime, clock: FixedClock, cli: Cli
) -> None:
    """Contacts last touched two years before the clock: the estimate follows the clock, not
    the wall clock, so the figure is the same whatever day the test runs."""
    clock.set(T0 - timedelta(days=730))
    for name in ("Al Bee", "Cee Dee"):
        make(rt, "contact", person(name, "subscriber"))
    clock.set(T0)
    decay = cli("scores", "--object", "contact", "--json").json()["decay"]
    assert decay["records"] == 2
    # Two years old at a yearly rate of 20-30%: 0.36-0.51 each, about one of the two.
    assert decay["estimated_decayed"] == 1
    clock.set(T0 - timedelta(days=729))
    assert cli("scores", "--object", "contact", "--json").json()["decay"]["estimated_decayed"] == 0
