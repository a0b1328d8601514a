"""Reports: figures, their integrity annotations, and the pipeline as it stood on past days."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from plumb.core.clock import FixedClock
from plumb.records import operations as ops
from plumb.records import queries
from plumb.reports.integrity import ID_LIMIT
from plumb.reports.registry import run_report
from plumb.runtime import Runtime
from tests.conftest import T0, Cli, ok, operator


def make(rt: Runtime, obj: str, values: dict[str, Any]) -> str:
    with rt.transaction(operator()) as ctx:
        return ops.create(ctx, obj, values).id


def change(rt: Runtime, obj: str, record_id: str, patch: dict[str, Any]) -> None:
    with rt.transaction(operator()) as ctx:
        ops.update(ctx, obj, queries.get(ctx, obj, record_id), patch)


def figures(rt: Runtime, **kwargs: Any) -> dict[str, tuple[int, Decimal]]:
    with rt.reading(operator()) as ctx:
        report = run_report(ctx, "pipeline", **kwargs)
    return {r["stage"]: (r["count"], r["amount"]) for r in report.rows if r["count"]}


def day(n: int) -> str:
    return (T0 + timedelta(days=n)).date().isoformat()


def test_pipeline_as_of_each_past_day_matches_what_was_true_then(
    rt: Runtime, clock: FixedClock
) -> None:
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    a = make(
        rt,
        "deal",
        {
            "name": "A",
            "pipeline": "sales",
            "stage": "qualification",
            "amount": "1000",
            "company_id": acme,
        },
    )
    b = make(
        rt,
        "deal",
        {
            "name": "B",
            "pipeline": "sales",
            "stage": "discovery",
            "amount": "5000",
            "company_id": acme,
        },
    )
    truth = {0: {"qualification": (1, Decimal("1000.00")), "discovery": (1, Decimal("5000.00"))}}

    clock.advance(days=1)
    change(rt, "deal", a, {"stage": "proposal_sent", "amount": "2000.50", "close_date": day(20)})
    c = make(
        rt,
        "deal",
        {
            "name": "C",
            "pipeline": "sales",
            "stage": "negotiation",
            "amount": "300",
            "close_date": day(9),
            "company_id": acme,
        },
    )
    truth[1] = {
        "proposal_sent": (1, Decimal("2000.50")),
        "discovery": (1, Decimal("5000.00")),
        "negotiation": (1, Decimal("300.00")),
    }

    clock.advance(days=1)
    change(rt, "deal", b, {"amount": "7000"})
    with rt.transaction(operator()) as ctx:
        ops.archive(ctx, "deal", queries.get(ctx, "deal", a), reason="lost track")
    truth[2] = {"discovery": (1, Decimal("7000.00")), "negotiation": (1, Decimal("300.00"))}

    clock.advance(days=1)
    change(rt, "deal", c, {"stage": "closed_won"})
    with rt.transaction(operator()) as ctx:
        ops.restore(ctx, "deal", queries.get(ctx, "deal", a))
    truth[3] = {
        "discovery": (1, Decimal("7000.00")),
        "closed_won": (1, Decimal("300.00")),
        "proposal_sent": (1, Decimal("2000.50")),
    }

    assert figures(rt) == truth[3]
    for n, expected in truth.items():
        at = T0 + timedelta(days=n, hours=12)
        assert figures(rt, as_of=at) == expected, f"day {n}"
    assert figures(rt, as_of=T0 - timedelta(days=1)) == {}


def test_each_figure_says_how_much_rests_on_flagged_deals(rt: Runtime, clock: FixedClock) -> None:
    clock.set(T0 - timedelta(days=45))
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    stale = make(
        rt,
        "deal",
        {
            "name": "Old",
            "pipeline": "sales",
            "stage": "proposal_sent",
            "amount": "4000",
            "close_date": day(30),
            "company_id": acme,
        },
    )
    clock.set(T0)
    fresh = make(
        rt,
        "deal",
        {
            "name": "New",
            "pipeline": "sales",
            "stage": "proposal_sent",
            "amount": "1000",
            "close_date": day(30),
            "company_id": acme,
        },
    )
    orphan = make(
        rt,
        "deal",
        {"name": "Lonely", "pipeline": "sales", "stage": "qualification", "amount": "250"},
    )
    with rt.reading(operator()) as ctx:
        report = run_report(ctx, "pipeline")
    rows = {r["stage"]: r for r in report.rows}
    proposal = rows["proposal_sent"]
    assert (proposal["count"], proposal["amount"]) == (2, Decimal("5000.00"))
    assert proposal["weighted"] == Decimal("2500.00")
    assert proposal["integrity"]["stale"]["count"] == 1
    assert proposal["integrity"]["stale"]["amount"] == Decimal("4000.00")
    assert proposal["integrity"]["stale"]["ids"] == [stale]
    assert proposal["integrity"]["any"] == {"count": 1, "amount": Decimal("4000.00")}
    assert "indicator=freshness" in proposal["integrity"]["stale"]["link"]
    assert fresh not in proposal["integrity"]["stale"]["ids"]
    qual = rows["qualification"]["integrity"]
    assert set(qual) == {"orphaned", "any"}
    assert qual["orphaned"]["ids"] == [orphan]
    assert rows["negotiation"]["integrity"] == {"any": {"count": 0, "amount": Decimal("0.00")}}


def test_notes_list_the_smallest_ids_across_masks_stages_and_months(rt: Runtime) -> None:
    """More flagged deals than a note lists, failing different sets of checks (masks): a
    note's ids are the ``ID_LIMIT`` smallest of every deal failing its indicator, in the
    pipeline (by stage) and in the forecast (by month, across stages), with counts to match."""
    deals: list[tuple[str, str, bool]] = []  # (id, stage, stale)
    for i in range(33):
        stage = "proposal_sent" if i % 5 == 0 else "qualification"
        stale = i % 3 == 0  # a close date in the past; every deal is orphaned (no company)
        values = {"name": f"D{i}", "pipeline": "sales", "stage": stage, "amount": "100"}
        values["close_date"] = day(-2 if stale else 10)
        deals.append((make(rt, "deal", values), stage, stale))
    with rt.reading(operator()) as ctx:
        pipeline = {r["stage"]: r["integrity"] for r in run_report(ctx, "pipeline").rows}
        forecast = {r["close_month"]: r for r in run_report(ctx, "forecast").rows}
    qual = [d for d in deals if d[1] == "qualification"]
    assert len(qual) > ID_LIMIT
    notes = pipeline["qualification"]
    assert notes["orphaned"]["count"] == len(qual)
    assert notes["orphaned"]["ids"] == sorted(d[0] for d in qual)[:ID_LIMIT]
    assert notes["stale"]["ids"] == sorted(d[0] for d in qual if d[2])
    assert notes["any"]["count"] == len(qual)
    sent = [d for d in deals if d[1] == "proposal_sent"]
    assert pipeline["proposal_sent"]["orphaned"]["ids"] == sorted(d[0] for d in sent)
    later = [d for d in deals if not d[2]]
    month = day(10)[:7]
    assert forecast[month]["count"] == len(later) > ID_LIMIT
    assert forecast[month]["amount"] == Decimal(100 * len(later)).quantize(Decimal("0.01"))
    noted = forecast[month]["integrity"]
    assert noted["orphaned"]["ids"] == sorted(d[0] for d in later)[:ID_LIMIT]
    assert noted["orphaned"]["count"] == noted["any"]["count"] == len(later)
    assert "stale" not in noted
    past = [d for d in deals if d[2]]
    assert forecast[day(-2)[:7]]["integrity"]["stale"]["ids"] == sorted(d[0] for d in past)


def test_report_api_cli_and_exports(
    rt: Runtime, clock: FixedClock, api: TestClient, cli: Cli
) -> None:
    make(
        rt,
        "deal",
        {
            "name": "Lonely",
            "pipeline": "sales",
            "stage": "qualification",
            "amount": "250",
            "close_date": day(40),
        },
    )
    body = ok(api.get("/api/v1/reports/pipeline"))
    row = next(r for r in body["rows"] if r["stage"] == "qualification")
    assert (row["count"], row["amount"]) == (1, "250.00")
    assert row["integrity"]["orphaned"]["count"] == 1
    past = ok(api.get("/api/v1/reports/pipeline", params={"as_of": "2026-02-01"}))
    assert all(r["count"] == 0 for r in past["rows"])
    forecast = ok(api.get("/api/v1/reports/forecast"))
    assert [(r["close_month"], r["count"]) for r in forecast["rows"]] == [("2026-04", 1)]
    text = api.get("/api/v1/reports/pipeline", params={"format": "csv"}).text
    assert text.splitlines()[0].startswith(
        "pipeline,stage,probability,count,amount,weighted,any_count"
    )
    xlsx = api.get("/api/v1/reports/pipeline", params={"format": "xlsx"})
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.cell(2, 2).value == "qualification"
    assert api.get("/api/v1/reports/nope").status_code == 400
    out = cli("report", "pipeline", "--as-of", "2026-03-01", "--json").json()
    assert out["as_of"].startswith("2026-03-01T23:59:59")
    assert next(r for r in out["rows"] if r["stage"] == "qualification")["count"] == 1


def report_rows(rt: Runtime, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    with rt.reading(operator()) as ctx:
        return run_report(ctx, name, **kwargs).rows


def test_time_in_stage_stale_deals_and_activity_by_owner(rt: Runtime, clock: FixedClock) -> None:
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    a = make(
        rt, "deal", {"name": "A", "pipeline": "sales", "stage": "qualification", "company_id": acme}
    )
    b = make(
        rt,
        "deal",
        {
            "name": "B",
            "pipeline": "sales",
            "stage": "qualification",
            "company_id": acme,
            "close_date": day(5),
        },
    )
    clock.advance(days=4)
    change(rt, "deal", a, {"stage": "discovery"})
    clock.advance(days=6)  # b's close date has passed; a has been in discovery 6 days
    rows = {r["stage"]: r for r in report_rows(rt, "time_in_stage")}
    assert rows["qualification"]["visits"] == 2
    assert rows["qualification"]["median_days"] == 7.0  # 4 days (a) and 10 days (b, still there)
    assert rows["qualification"]["in_stage_now"] == 1
    assert (rows["discovery"]["visits"], rows["discovery"]["median_days"]) == (1, 6.0)
    as_then = {
        r["stage"]: r for r in report_rows(rt, "time_in_stage", as_of=T0 + timedelta(days=2))
    }
    assert (as_then["qualification"]["visits"], as_then["qualification"]["median_days"]) == (2, 2.0)

    stale = report_rows(rt, "stale_deals")
    assert [(r["deal_id"], r["reason"]) for r in stale] == [
        (b, "close date is in the past on an open deal")
    ]

    contact = make(rt, "contact", {"first_name": "Ann", "last_name": "Lee", "company_id": acme})
    make(
        rt,
        "activity",
        {
            "type": "call",
            "occurred_at": clock.now().isoformat(),
            "links": [{"type": "contact", "id": contact}],
        },
    )
    loose = make(rt, "activity", {"type": "note", "occurred_at": clock.now().isoformat()})
    rows2 = {(r["owner"], r["type"]): r for r in report_rows(rt, "activity_by_owner")}
    assert rows2[("(no owner)", "call")]["count"] == 1
    assert rows2[("(no owner)", "note")]["integrity"]["orphaned"]["ids"] == [loose]


def test_svg_bar_chart_marks_the_flagged_part() -> None:
    from xml.etree import ElementTree

    from plumb.reports.svg import bar_chart

    svg = bar_chart("Pipeline <sales>", ["qualification", "proposal"], [100, 50], [0, 25])
    root = ElementTree.fromstring(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert [r.get("width") for r in rects] == ["390.0", "195.0", "97.5"]
    assert "Pipeline &lt;sales&gt;" in svg
