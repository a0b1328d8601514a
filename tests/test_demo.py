"""The demo workspace: the same seed gives the same data, in any process; its contacts move
through the lifecycle stages, so the funnel and status-usage reports have something to show."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import select

from plumb.core.context import Ctx
from plumb.demo.generator import WEEKS, load_demo
from plumb.models import ChangeEntry, DealContact
from plumb.reports.registry import run_report
from plumb.runtime import Runtime
from tests.conftest import operator


def _demo_people(template: Path, tmp_path: Path, hash_seed: str) -> list[tuple[str, ...]]:
    path = tmp_path / f"demo-{hash_seed}.db"
    shutil.copy(template, path)
    env = {
        **os.environ,
        "PLUMB_DATABASE_URL": f"sqlite:///{path}",
        "PLUMB_WORKSPACE": str(tmp_path / "plumb.yaml"),
        "PYTHONHASHSEED": hash_seed,
    }
    command = [str(Path(sys.executable).parent / "plumb"), "demo", "--contacts", "40"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT first_name, last_name, lifecycle_stage, lead_source, phones FROM contacts"
        ).fetchall()
    return sorted(tuple(str(v) for v in row) for row in rows)


def test_same_seed_same_data_in_another_process(sqlite_template: Path, tmp_path: Path) -> None:
    # String hashing differs between the two processes: nothing the generator makes may depend
    # on it (the order of a set of locales once decided which Faker got which seed).
    one = _demo_people(sqlite_template, tmp_path, "1")
    two = _demo_people(sqlite_template, tmp_path, "2")
    assert len(one) >= 40
    assert one == two


def _changes_of(ctx: Ctx, obj: str, name: str) -> list[tuple[str, datetime, str, Any, Any]]:
    """(record id, at, action, old value, new value) of every change of field ``name`` of
    ``obj`` records, in the log's order."""
    found = ctx.session.execute(
        select(ChangeEntry.record_id, ChangeEntry.at, ChangeEntry.action, ChangeEntry.changes)
        .where(ChangeEntry.record_type == obj)
        .order_by(ChangeEntry.at, ChangeEntry.id)
    )
    return [(rid, at, action, *ch[name]) for rid, at, action, ch in found if name in ch]


def test_demo_funnel_rests_on_lifecycle_moves_in_the_change_log(rt: Runtime) -> None:
    summary = load_demo(rt, contacts=150, seed=7)
    assert summary is not None
    end = rt.clock.now()
    start = end - timedelta(weeks=WEEKS)
    order = [s.key for s in rt.loaded.workspace.lifecycle_stages]
    steps = [s.key for s in rt.loaded.workspace.lifecycle_stages if s.in_funnel]
    rank = {key: i for i, key in enumerate(steps)}
    with rt.reading(operator()) as ctx:
        entries = _changes_of(ctx, "contact", "lifecycle_stage")
        deal_stages = _changes_of(ctx, "deal", "stage")
        created = dict(
            ctx.session.execute(
                select(ChangeEntry.record_id, ChangeEntry.at).where(
                    ChangeEntry.record_type == "contact", ChangeEntry.action == "create"
                )
            ).all()
        )
        linked = list(ctx.session.execute(select(DealContact.deal_id, DealContact.contact_id)))
        funnel = {r["from_stage"]: r for r in run_report(ctx, "funnel", start=start).rows}
        usage = {
            r["value"]: r
            for r in run_report(ctx, "status_usage", start=start).rows
            if r["field"] == "lifecycle_stage"
        }

    # The moves are in the change log, made at simulated times within the weeks the demo
    # replays, each after the contact was created; as many as the summary says.
    moves = [e for e in entries if e[2] == "update"]
    assert len(moves) == sum(summary.lifecycle_moves.values()) > 0
    assert Counter(new for *_, new in moves) == summary.lifecycle_moves
    assert all(start <= at <= end and at > created[rid] for rid, at, *_ in moves)
    weeks = {(at - start) // timedelta(weeks=1) for _, at, *_ in moves}
    assert len(weeks) > WEEKS // 2  # spread over the year, not made on one day

    # The funnel, worked out again from the log: for each stage, the contacts that entered it
    # in the period, and how many of them reached a later stage afterwards.
    history: dict[str, list[tuple[datetime, str]]] = {}
    for rid, at, _, _, stage in entries:
        history.setdefault(rid, []).append((at, stage))
    for here, _ in pairwise(steps):
        entered = reached = 0
        for visits in history.values():
            times = [at for at, stage in visits if stage == here and start <= at < end]
            if times:
                entered += 1
                reached += any(
                    at >= min(times) and rank.get(stage, -1) > rank[here] for at, stage in visits
                )
        assert (funnel[here]["entered"], funnel[here]["reached"]) == (entered, reached), here
    for here in ("subscriber", "lead", "mql", "sql", "opportunity"):
        assert funnel[here]["reached"] > 0, f"nobody went on from {here}"
    # Status usage: the moves into and out of each stage are the log's, in the period.
    in_period = [e for e in entries if start <= e[1] < end]
    for stage in order:
        assert usage[stage]["moved_in"] == sum(1 for *_, new in in_period if new == stage)
        assert usage[stage]["moved_out"] == sum(1 for *_, old, _ in in_period if old == stage)

    # A contact on a deal becomes an opportunity within days of the deal being opened, and a
    # customer within days of it being won (but for the demo's last days).
    def reached_by(contact: str, when: datetime) -> int:
        visits = history.get(contact, [])
        return max((rank.get(stage, -1) for at, stage in visits if at <= when), default=-1)

    opened = {rid: at for rid, at, action, _, _ in deal_stages if action == "create"}
    won = {rid: at for rid, at, _, _, stage in deal_stages if stage == "closed_won"}
    soon = timedelta(days=3)
    outside = {s.key for s in rt.loaded.workspace.lifecycle_stages if not s.in_funnel}
    for deal, contact in linked:
        stages = {stage for _, stage in history.get(contact, [])}
        if stages and stages <= outside:
            continue  # a partner or the like ("other") is on the deal but not a step along
        if opened[deal] < end - soon:
            assert reached_by(contact, opened[deal] + soon) >= rank["opportunity"]
        if deal in won and won[deal] < end - soon:
            assert reached_by(contact, won[deal] + soon) >= rank["customer"]
    assert any(deal in won for deal, _ in linked)
