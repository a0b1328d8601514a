"""The change history: old -> new with actor and source, point in time, erasure, tamper evidence."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from plumb.core.clock import FixedClock
from plumb.history.verify import verify
from plumb.models import ChangeEntry
from plumb.records import operations as ops
from plumb.runtime import Runtime
from tests.conftest import ok, operator


def _contact(api: TestClient, **values: Any) -> dict[str, Any]:
    return ok(api.post("/api/v1/contacts", json=values), 201)  # type: ignore[no-any-return]


def _patch(api: TestClient, record: dict[str, Any], **values: Any) -> dict[str, Any]:
    response = api.patch(
        f"/api/v1/contacts/{record['id']}",
        json=values,
        headers={"If-Match": f'"{record["version"]}"'},
    )
    return ok(response)  # type: ignore[no-any-return]


def _verify(rt: Runtime) -> Any:
    with rt.db.read_session() as session:
        return verify(session)


def test_history_shows_old_and_new_values_actor_and_source(
    api: TestClient, rt: Runtime, clock: FixedClock
) -> None:
    contact = _contact(api, first_name="Ada", job_title="Analyst")
    clock.advance(hours=1)
    contact = _patch(api, contact, job_title="Engineer", lifecycle_stage="subscriber")
    history = ok(api.get(f"/api/v1/contacts/{contact['id']}/history"))["data"]
    assert [e["action"] for e in history] == ["create", "update"]
    create, update = history
    assert create["changes"]["first_name"] == [None, "Ada"]
    assert update["changes"] == {
        "job_title": ["Analyst", "Engineer"],
        "lifecycle_stage": [None, "subscriber"],
    }
    assert update["source"] == "api"
    assert update["actor"]["kind"] == "token"
    assert "ada@example.com" in update["actor"]["label"]
    assert update["version"] == 2
    assert update["at"] > create["at"]

    # a write from another interface carries its own source
    with rt.transaction(operator("nightly import")) as ctx:
        record = ops.queries.get(ctx, "contact", contact["id"])
        ops.update(ctx, "contact", record, {"job_title": "Staff engineer"})
    last = ok(api.get(f"/api/v1/contacts/{contact['id']}/history"))["data"][-1]
    assert last["source"] == "cli" and last["actor"]["label"] == "nightly import"


def test_as_of_returns_the_record_as_it_stood(api: TestClient, clock: FixedClock) -> None:
    contact = _contact(api, first_name="Bo", job_title="Intern", lead_source="website")
    clock.advance(days=10)
    middle = clock.now()
    clock.advance(days=10)
    contact = _patch(api, contact, job_title="Manager", lifecycle_stage="lead")
    url = f"/api/v1/contacts/{contact['id']}"

    then = ok(api.get(url, params={"as_of": middle.isoformat()}))
    assert then["job_title"] == "Intern"
    assert then["lifecycle_stage"] is None
    assert then["version"] == 1
    now = ok(api.get(url))
    assert now["job_title"] == "Manager" and now["version"] == 2
    before_it_existed = api.get(url, params={"as_of": "2020-01-01T00:00:00Z"})
    assert before_it_existed.status_code == 404
    assert api.get(url, params={"as_of": "last tuesday"}).status_code == 422


def test_erase_removes_personal_data_everywhere_and_verify_still_passes(
    api: TestClient, rt: Runtime, clock: FixedClock
) -> None:
    contact = _contact(
        api, first_name="Erin", last_name="Erasable", email="erin@example.com", job_title="CTO"
    )
    clock.advance(hours=1)
    contact = _patch(api, contact, phone="+44 20 7946 0000", city="London")
    clock.advance(hours=1)
    erased = ok(api.post(f"/api/v1/contacts/{contact['id']}/erase", json={"reason": "DSR-17"}))
    assert erased["entries_redacted"] >= 2

    record = ok(api.get(f"/api/v1/contacts/{contact['id']}"))
    assert record["first_name"] is None and record["emails"] == [] and record["city"] is None
    assert record["job_title"] == "CTO"  # not personal data

    history = ok(api.get(f"/api/v1/contacts/{contact['id']}/history"))["data"]
    dump = repr(history)
    # The number as stored (E.164) and its local digits; long enough never to occur in a hash.
    for secret in ("Erin", "Erasable", "erin@example.com", "+442079460000", "2079460000", "London"):
        assert secret not in dump
    assert history[-1]["action"] == "erase"
    with rt.db.read_session() as session:
        raw = repr(session.execute(text("SELECT changes, nonce FROM change_log")).all())
    assert "erin@example.com" not in raw and "Erasable" not in raw

    report = _verify(rt)
    assert report.ok, [str(p) for p in report.problems]
    assert ok(api.get("/api/v1/audit/verify"))["ok"] is True
    no_reason = api.post(f"/api/v1/contacts/{contact['id']}/erase", json={})
    assert no_reason.status_code == 422


def _history_with_entries(api: TestClient, clock: FixedClock) -> list[int]:
    contact = _contact(api, first_name="Tam", job_title="A")
    for title in ("B", "C", "D"):
        clock.advance(minutes=5)
        contact = _patch(api, contact, job_title=title)
    entries = ok(api.get(f"/api/v1/contacts/{contact['id']}/history"))["data"]
    return [e["id"] for e in entries]


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        ("UPDATE change_log SET changes = :changes WHERE id = :id", "altered"),
        ("UPDATE change_log SET actor_label = 'someone else' WHERE id = :id", "altered"),
        ("UPDATE change_log SET at = :at WHERE id = :id", "altered"),
        ("DELETE FROM change_log WHERE id = :id", "removed"),
    ],
)
def test_verify_reports_an_edited_or_deleted_entry(
    api: TestClient, rt: Runtime, clock: FixedClock, tamper: str, kind: str
) -> None:
    ids = _history_with_entries(api, clock)
    assert _verify(rt).ok
    victim = ids[2]
    params: dict[str, Any] = {"id": victim}
    if ":changes" in tamper:
        params["changes"] = '{"job_title": ["B", "Z"]}'
    if ":at" in tamper:
        params["at"] = clock.now().replace(year=2025)
    with rt.db.engine.begin() as conn:
        changed = conn.execute(text(tamper), params).rowcount
    assert changed == 1
    report = _verify(rt)
    assert not report.ok
    first = report.first
    assert first is not None and first.kind == kind
    if kind == "altered":
        assert first.entry_id == victim
    assert not ok(api.get("/api/v1/audit/verify"))["ok"]


def test_verify_reports_an_inserted_entry(api: TestClient, rt: Runtime, clock: FixedClock) -> None:
    ids = _history_with_entries(api, clock)
    with rt.db.engine.begin() as conn:
        row = (
            conn.execute(select(ChangeEntry.__table__).where(ChangeEntry.id == ids[1]))
            .mappings()
            .one()
        )
        forged = {k: v for k, v in row.items() if k != "id"}
        # shift the later entries up by one and slip a forged copy in between
        top = conn.execute(
            select(func.max(ChangeEntry.seq)).where(ChangeEntry.lane == row["lane"])
        ).scalar_one()
        for seq in range(top, row["seq"], -1):
            conn.execute(
                text("UPDATE change_log SET seq = :new WHERE lane = :lane AND seq = :old"),
                {"new": seq + 1, "old": seq, "lane": row["lane"]},
            )
        forged["seq"] = row["seq"] + 1
        forged["changes"] = {"job_title": ["B", "forged"]}
        conn.execute(ChangeEntry.__table__.insert().values(**forged))
    report = _verify(rt)
    assert not report.ok
    assert report.first is not None and report.first.kind in ("inserted", "altered")
    assert report.first.seq == row["seq"] + 1


def test_verify_reports_an_entry_appended_past_the_head(
    api: TestClient, rt: Runtime, clock: FixedClock
) -> None:
    ids = _history_with_entries(api, clock)
    with rt.db.engine.begin() as conn:
        row = (
            conn.execute(select(ChangeEntry.__table__).where(ChangeEntry.id == ids[-1]))
            .mappings()
            .one()
        )
        forged = {k: v for k, v in row.items() if k != "id"}
        forged["seq"] = row["seq"] + 1
        conn.execute(ChangeEntry.__table__.insert().values(**forged))
    report = _verify(rt)
    assert not report.ok
    assert report.first is not None and report.first.kind == "inserted"


def test_concurrent_writers_use_separate_lanes_and_the_chain_verifies(rt: Runtime) -> None:
    """On PostgreSQL writers take different lanes instead of queueing on one lock."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with rt.transaction(operator(f"writer {n}")) as ctx:
                    ops.create(ctx, "contact", {"first_name": f"W{n}", "last_name": str(i)})
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify(rt)
    assert report.ok, [str(p) for p in report.problems]
    with rt.db.read_session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(ChangeEntry)
            .where(ChangeEntry.record_type == "contact")
        )
        lanes = session.scalar(select(func.count(func.distinct(ChangeEntry.lane))))
    assert count == 40
    if rt.db.dialect == "postgresql":
        assert lanes is not None and lanes > 1
