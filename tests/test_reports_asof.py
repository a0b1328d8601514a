"""Reports as they stood on past days: stale deals judged then, and records archived since."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from plumb.core.clock import FixedClock
from plumb.records import operations as ops
from plumb.records import queries
from plumb.reports.registry import run_report
from plumb.runtime import Runtime
from tests.conftest import T0, operator


def make(rt: Runtime, obj: str, values: dict[str, Any]) -> str:
    with rt.transaction(operator()) as ctx:
        return ops.create(ctx, obj, values).id


def change(rt: Runtime, record_id: str, patch: dict[str, Any]) -> None:
    with rt.transaction(operator()) as ctx:
        ops.update(ctx, "deal", queries.get(ctx, "deal", record_id), patch)


def day(n: int) -> str:
    return (T0 + timedelta(days=n)).date().isoformat()


def stale(rt: Runtime, **kwargs: Any) -> list[tuple[str, str, str, Decimal | None, str]]:
    with rt.reading(operator()) as ctx:
        rows = run_report(ctx, "stale_deals", **kwargs).rows
    return sorted((r["deal_id"], r["name"], r["stage"], r["amount"], r["reason"]) for r in rows)


PAST = "close date is in the past on an open deal"
STILL = "amount and close date unchanged for 30 days on an open deal"


def test_stale_deals_as_of_each_past_day_is_what_the_report_said_that_day(
    rt: Runtime, clock: FixedClock
) -> None:
    clock.set(T0 - timedelta(days=80))
    acme = make(rt, "company", {"name": "Acme Inc", "domain": "acme.com"})
    deal = {"pipeline": "sales", "company_id": acme}
    a = make(rt, "deal", {**deal, "name": "A", "stage": "discovery", "close_date": day(-50)})
    b = make(
        rt,
        "deal",
        {**deal, "name": "B", "stage": "proposal_sent", "amount": "500", "close_date": day(30)},
    )
    seen: dict[int, list[Any]] = {-80: stale(rt)}
    clock.set(T0 - timedelta(days=45))
    seen[-45] = stale(rt)  # A's close date passed; A and B are 35 days without a change
    clock.set(T0 - timedelta(days=40))
    change(rt, b, {"amount": "700"})
    c = make(rt, "deal", {**deal, "name": "C", "stage": "qualification"})
    seen[-40] = stale(rt)  # B revised: fresh again
    clock.set(T0 - timedelta(days=20))
    change(rt, a, {"stage": "closed_lost"})
    change(rt, b, {"stage": "negotiation"})
    seen[-20] = stale(rt)
    clock.set(T0)
    with rt.transaction(operator()) as ctx:
        ops.archive(ctx, "deal", queries.get(ctx, "deal", c), reason="gone cold")
    seen[0] = stale(rt)

    assert seen[-80] == []
    assert seen[-45] == [
        (a, "A", "discovery", None, STILL),
        (a, "A", "discovery", None, PAST),
        (b, "B", "proposal_sent", Decimal("500.00"), STILL),
    ]
    assert seen[-40] == [(a, "A", "discovery", None, STILL), (a, "A", "discovery", None, PAST)]
    assert seen[-20] == []
    assert seen[0] == [(b, "B", "negotiation", Decimal("700.00"), STILL)]
    for n, expected in seen.items():
        assert stale(rt, as_of=T0 + timedelta(days=n)) == expected, f"day {n}"
    # C, archived today, was an open deal 30 days unchanged the day before.
    then = stale(rt, as_of=T0 - timedelta(seconds=1))
    assert (c, "C", "qualification", None, STILL) in then


def test_pipeline_as_of_counts_a_deal_archived_since(rt: Runtime, clock: FixedClock) -> None:
    gone = make(rt, "deal", {"name": "Gone", "pipeline": "sales", "stage": "qualification"})
    clock.advance(days=1)
    with rt.transaction(operator()) as ctx:
        ops.archive(ctx, "deal", queries.get(ctx, "deal", gone), reason="duplicate")
    with rt.reading(operator()) as ctx:
        now = run_report(ctx, "pipeline").rows
        then = run_report(ctx, "pipeline", as_of=T0 + timedelta(hours=1)).rows
    assert sum(r["count"] for r in now) == 0
    assert [(r["stage"], r["count"]) for r in then if r["count"]] == [("qualification", 1)]
