"""A deal's ``figures_changed_at`` (what the stale check reads) moves with its amount and close
date, written by the operations layer in the same write, and with nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.core.clock import FixedClock, ensure_utc
from plumb.models import Deal
from plumb.quality.engine import run_checks
from plumb.runtime import Runtime
from tests.conftest import T0, ok, operator

UNCHANGED = "amount and close date unchanged for 30 days on an open deal"


def figures_changed_at(rt: Runtime, deal_id: str) -> datetime:
    with rt.reading(operator()) as ctx:
        at = ctx.session.scalar(select(Deal.figures_changed_at).where(Deal.id == deal_id))
    assert at is not None
    return ensure_utc(at)


def stale(rt: Runtime) -> set[str]:
    with rt.reading(operator()) as ctx:
        run = run_checks(ctx, obj="deal", names=["deal.stale"], limit=None)
    return {f.record_id for f in run.findings if f.reason == UNCHANGED}


def test_figures_changed_at_moves_with_amount_and_close_date_only(
    api: TestClient, rt: Runtime, clock: FixedClock
) -> None:
    created = T0 - timedelta(days=90)
    clock.set(created)
    deal = ok(
        api.post(
            "/api/v1/deals",
            json={"name": "Renewal", "pipeline": "sales", "stage": "qualification"},
        ),
        201,
    )
    url = f"/api/v1/deals/{deal['id']}"
    assert figures_changed_at(rt, deal["id"]) == created

    # Other fields leave it where it was.
    clock.set(T0 - timedelta(days=60))
    ok(api.patch(url, json={"name": "Renewal 2027"}, headers={"If-Match": '"1"'}))
    ok(api.patch(url, json={"currency": "EUR"}, headers={"If-Match": '"2"'}))
    assert figures_changed_at(rt, deal["id"]) == created

    clock.set(T0 - timedelta(days=50))
    ok(api.patch(url, json={"amount": "5000"}, headers={"If-Match": '"3"'}))
    assert figures_changed_at(rt, deal["id"]) == T0 - timedelta(days=50)

    clock.set(T0)
    assert stale(rt) == {deal["id"]}

    clock.set(T0 - timedelta(days=10))
    ok(api.patch(url, json={"close_date": "2026-09-30"}, headers={"If-Match": '"4"'}))
    assert figures_changed_at(rt, deal["id"]) == T0 - timedelta(days=10)
    clock.set(T0)
    assert stale(rt) == set()

    # A patch that writes the same amount changes nothing, so the time stays.
    ok(api.patch(url, json={"amount": "5000.00", "name": "Renewal"}, headers={"If-Match": '"5"'}))
    assert figures_changed_at(rt, deal["id"]) == T0 - timedelta(days=10)
