"""Imports through the operations layer, on SQLite and PostgreSQL: counts, dry runs, error
files, rows refused whole, re-imports, references, resuming after kill -9, undo."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from plumb.access.users import create_user
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.context import Ctx, PendingWrite
from plumb.core.errors import PermissionDenied, PlumbError
from plumb.core.settings import Settings
from plumb.models import ChangeEntry, Company, Contact, Deal, ExternalId, ImportRun
from plumb.records import external_ids, queries
from plumb.records import operations as ops
from plumb.runtime import Runtime
from plumb.transfer.importer import Outcome, plan_import, run_import, stored_errors, write_errors
from plumb.transfer.undo import undo_import
from tests.conftest import Cli, operator


class DuplicateCandidates(PlumbError):
    code = "duplicate_candidates"
    status = 409


def refuse_dupes(ctx: Ctx, pending: list[PendingWrite]) -> None:
    """Stands in for duplicate detection: refuses contacts at dupe@example.com."""
    for p in pending:
        if p.object == "contact" and "dupe@example.com" in (p.values.get("emails") or []):
            p.error = DuplicateCandidates("looks like an existing contact", object="contact")


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def do_import(rt: Runtime, obj: str, path: Path, actor: Actor | None = None, **kw: Any) -> Outcome:
    actor = actor or operator()
    with rt.reading(actor) as ctx:
        plan = plan_import(ctx, obj, path, mapping_file=kw.pop("mapping", None))
    return run_import(rt, actor, plan, **kw)


def count(rt: Runtime, stmt: Any) -> int:
    with rt.db.read_session() as s:
        return int(s.scalar(stmt) or 0)


HEADER = ["Record ID", "First Name", "Last Name", "Email", "Job Title"]


def test_dry_run_counts_equal_the_real_run_and_errors_name_row_column_rule(
    rt: Runtime, tmp_path: Path
) -> None:
    rt.hooks.before_write.append(refuse_dupes)
    first = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [[1, "Ada", "Lovelace", "ada@example.com", ""], [2, "Bob", "Byte", "bob@example.com", ""]],
    )
    assert do_import(rt, "contact", first).counts.as_dict()["new"] == 2
    second = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [
            [1, "Ada", "Lovelace", "ada@example.com", "Countess"],  # updated
            [2, "Bob", "Byte", "bob@example.com", ""],  # unchanged
            [3, "Cy", "Clone", "cy@example.com", ""],  # new
            [4, "Di", "Bad", "not-an-email", ""],  # invalid
            [5, "Ed", "Dupe", "dupe@example.com", ""],  # duplicate
        ],
    )
    dry = do_import(rt, "contact", second, dry_run=True)
    expected = {"new": 1, "updated": 1, "unchanged": 1, "duplicate": 1, "invalid": 1}
    assert dry.counts.as_dict() == expected
    assert count(rt, select(func.count()).select_from(Contact)) == 2  # nothing written
    real = do_import(rt, "contact", second)
    assert real.counts.as_dict() == expected
    assert count(rt, select(func.count()).select_from(Contact)) == 3

    dry_file, real_file = tmp_path / "dry.csv", tmp_path / "real.csv"
    write_errors(dry_file, dry.errors)
    with rt.db.read_session() as s:
        write_errors(real_file, stored_errors(s, real.run_id))
    assert dry_file.read_text() == real_file.read_text()
    rows = list(csv.DictReader(real_file.open()))
    bad = next(r for r in rows if r["rule"] == "email")
    assert (bad["row"], bad["column"], bad["value"]) == ("5", "Email", "not-an-email")
    assert "@-sign" in bad["message"]
    dupe = next(r for r in rows if r["rule"] == "duplicate_candidates")
    assert dupe["row"] == "6"


def test_reimport_updates_and_running_it_again_does_nothing(rt: Runtime, tmp_path: Path) -> None:
    rows = [[i, f"N{i}", "Same", f"n{i}@example.com", "Engineer"] for i in range(1, 6)]
    path = write_csv(tmp_path / "a.csv", HEADER, rows)
    do_import(rt, "contact", path)
    again = do_import(rt, "contact", path)
    assert again.already_done
    rows[0][4] = "Manager"
    changed = write_csv(tmp_path / "b.csv", HEADER, rows)
    out = do_import(rt, "contact", changed)
    assert out.counts.as_dict() == {
        "new": 0,
        "updated": 1,
        "unchanged": 4,
        "duplicate": 0,
        "invalid": 0,
    }
    assert count(rt, select(func.count()).select_from(Contact)) == 5
    assert count(rt, select(func.count()).select_from(ExternalId)) == 5
    with rt.reading(operator()) as ctx:
        record = external_ids.find_by_external_id(ctx, "contact", "hubspot", "1")
        assert record is not None and record.job_title == "Manager"


def test_an_external_id_is_matched_as_stored_whatever_its_cell_looks_like(
    rt: Runtime, tmp_path: Path
) -> None:
    """An id cell that a spreadsheet export neutralised (``'\tX1``) reads back as the id
    stored the first time, so the second file updates the record instead of failing on a
    second copy of the same external id."""
    first = write_csv(tmp_path / "a.csv", HEADER, [["X1", "Ada", "Lovelace", "", "Engineer"]])
    do_import(rt, "contact", first)
    second = write_csv(tmp_path / "b.csv", HEADER, [["'\tX1", "Ada", "Lovelace", "", "Countess"]])
    out = do_import(rt, "contact", second)
    assert out.counts.as_dict() == {
        "new": 0,
        "updated": 1,
        "unchanged": 0,
        "duplicate": 0,
        "invalid": 0,
    }
    assert count(rt, select(func.count()).select_from(Contact)) == 1
    with rt.reading(operator()) as ctx:
        record = external_ids.find_by_external_id(ctx, "contact", "hubspot", "X1")
        assert record is not None and record.job_title == "Countess"


def test_a_bad_row_never_half_lands_and_references_resolve(rt: Runtime, tmp_path: Path) -> None:
    companies = write_csv(
        tmp_path / "companies.csv",
        ["Id", "Name", "Website"],
        [["001A", "Acme, Inc.", "acme.example"], ["001B", "Beta GmbH", "beta.example"]],
    )
    assert do_import(rt, "company", companies).counts.created == 2
    deals = write_csv(
        tmp_path / "opps.csv",
        ["Id", "Name", "StageName", "Amount", "AccountId"],
        [
            ["006A", "Acme renewal", "qualification", "1200", "001A"],
            ["006B", "Half deal", "no such stage", "50", "001B"],  # bad stage: nothing lands
            ["006C", "Orphan deal", "qualification", "70", "001Z"],  # unknown account
        ],
    )
    out = do_import(rt, "deal", deals)
    assert (out.counts.created, out.counts.invalid) == (1, 2)
    with rt.db.read_session() as s:
        names = set(s.scalars(select(Deal.name)))
        acme = s.scalar(select(Company.id).where(Company.name == "Acme, Inc."))
        assert names == {"Acme renewal"}
        assert s.scalar(select(Deal.company_id)) == acme
        assert set(
            s.scalars(select(ExternalId.external_id).where(ExternalId.record_type == "deal"))
        ) == {"006A"}
        assert s.scalar(select(func.count()).where(ChangeEntry.record_type == "deal")) == 1
        problems = {(p.row, p.column, p.rule) for p in stored_errors(s, out.run_id)}
    assert (3, "StageName", "stage") in problems
    assert (4, "AccountId", "reference") in problems

    contacts = write_csv(
        tmp_path / "hs.csv",
        ["Record ID", "First Name", "Email", "Associated Company"],
        [["1", "Ann", "ann@example.com", "ACME inc"], ["2", "Ben", "ben@example.com", "Nope Ltd"]],
    )
    out = do_import(rt, "contact", contacts)
    assert (out.counts.created, out.counts.invalid) == (1, 1)
    with rt.db.read_session() as s:
        assert s.scalar(select(Contact.company_id)) == acme


def test_permissions_import_needs_the_import_action(rt: Runtime, tmp_path: Path) -> None:
    with rt.transaction(operator()) as ctx:
        rep = create_user(ctx, email="rep@example.com", name="Rep", role="rep")
        boss = create_user(ctx, email="boss@example.com", name="Boss", role="manager")
    path = write_csv(tmp_path / "a.csv", HEADER, [[1, "Ada", "L", "ada@example.com", ""]])

    def user(u: Any) -> Actor:
        return Actor(ActorKind.USER, Source.CLI, u.email, u.id, u.id, u.role)

    with pytest.raises(PermissionDenied, match="may not import"):
        do_import(rt, "contact", path, actor=user(rep))
    assert do_import(rt, "contact", path, actor=user(boss)).counts.created == 1


def test_undo_archives_created_and_reverts_updated_unless_changed_since(
    rt: Runtime, tmp_path: Path
) -> None:
    first = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [[i, f"N{i}", "L", f"n{i}@example.com", "Engineer"] for i in (1, 2, 3)],
    )
    made = do_import(rt, "contact", first)
    second = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [[i, f"N{i}", "L", f"n{i}@example.com", "Director"] for i in (1, 2, 3, 4)],
    )
    changed = do_import(rt, "contact", second)
    assert (changed.counts.updated, changed.counts.created) == (3, 1)
    with rt.transaction(operator("someone")) as ctx:
        two = external_ids.find_by_external_id(ctx, "contact", "hubspot", "2")
        assert two is not None
        ops.update(ctx, "contact", two, {"last_name": "Later"})
    with rt.transaction(operator("undoer")) as ctx:
        report = undo_import(ctx, changed.run_id)
    assert (report.archived, report.reverted) == (1, 2)
    assert [s["id"] for s in report.skipped] == [two.id]
    with rt.reading(operator()) as ctx:
        titles = {}
        for ext in ("1", "2", "3", "4"):
            r = external_ids.find_by_external_id(ctx, "contact", "hubspot", ext)
            assert r is not None
            titles[ext] = (r.job_title, r.archived, r.archive_reason)
        assert queries.get(ctx, "contact", two.id).last_name == "Later"
    assert titles["1"] == ("Engineer", False, None)
    assert titles["2"] == ("Director", False, None)  # changed since: left alone, reported
    assert titles["4"][1] is True and changed.run_id in (titles["4"][2] or "")
    with rt.db.read_session() as s:
        run = s.get(ImportRun, changed.run_id)
        assert run is not None and run.status == "undone"
        reverts = s.scalar(
            select(func.count()).where(
                ChangeEntry.actor_label == "undoer", ChangeEntry.action.in_(("update", "archive"))
            )
        )
        assert reverts == 3
    with rt.transaction(operator()) as ctx, pytest.raises(PlumbError, match="already undone"):
        undo_import(ctx, changed.run_id)
    with rt.transaction(operator()) as ctx:
        report = undo_import(ctx, made.run_id)
    assert report.archived == 3
    # all three moved on after the first import (the second import, the undo, a person)
    assert two.id in report.changed_since and len(report.changed_since) == 3


def test_reimport_after_undo_restores_what_the_undo_archived(rt: Runtime, tmp_path: Path) -> None:
    rows = [[i, f"N{i}", "L", f"n{i}@example.com", "Engineer"] for i in (1, 2, 3)]
    path = write_csv(tmp_path / "a.csv", HEADER, rows)
    made = do_import(rt, "contact", path)
    with rt.transaction(operator("undoer")) as ctx:
        assert undo_import(ctx, made.run_id).archived == 3
    with rt.transaction(operator("someone")) as ctx:
        three = external_ids.find_by_external_id(ctx, "contact", "hubspot", "3")
        assert three is not None
        ops.restore(ctx, "contact", three)
        ops.archive(ctx, "contact", three, reason="left the company")

    again = do_import(rt, "contact", path)
    assert again.run_id != made.run_id and not again.already_done
    assert again.counts.as_dict() == {
        "new": 0,
        "updated": 2,  # restored: their values were already the file's
        "unchanged": 1,  # archived by a person, not by the undo: stays archived
        "duplicate": 0,
        "invalid": 0,
    }
    with rt.reading(operator()) as ctx:
        state = {}
        for ext in ("1", "2", "3"):
            r = external_ids.find_by_external_id(ctx, "contact", "hubspot", ext)
            assert r is not None
            state[ext] = (r.archived, r.archive_reason)
    assert state == {"1": (False, None), "2": (False, None), "3": (True, "left the company")}
    assert count(rt, select(func.count()).select_from(Contact)) == 3
    restores = count(
        rt,
        select(func.count()).where(
            ChangeEntry.action == "restore", ChangeEntry.correlation_id == again.run_id
        ),
    )
    assert restores == 2


def test_kill_9_mid_import_then_rerun_lands_every_valid_row_once(
    rt: Runtime, settings: Settings, tmp_path: Path
) -> None:
    total, bad = 10_000, {17, 1500, 9999}
    rows = [
        [i, f"First{i}", f"Last{i}", "broken" if i in bad else f"p{i}@example.com", ""]
        for i in range(total)
    ]
    path = write_csv(tmp_path / "big.csv", HEADER, rows)
    env = {
        **os.environ,
        "PLUMB_DATABASE_URL": settings.database_url,
        "PLUMB_WORKSPACE": str(settings.workspace),
        "PLUMB_CHAIN_LANES": str(settings.chain_lanes),
        "PLUMB_IMPORT_WORKERS": "2",
    }
    command = [str(Path(sys.executable).parent / "plumb"), "import", "contacts", str(path)]
    command += ["--batch-size", "100", "--json"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Killed once 500 rows are in and workers are up (the import does not wait for them: it
    # prepares batches itself meanwhile): descendants are the fork server, multiprocessing's
    # resource tracker and the workers.
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = count(rt, select(func.max(ImportRun.rows_done)))
        workers = _descendants(proc.pid)
        if (done or 0) >= 500 and len(workers) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    assert len(workers) >= 3, f"the import had started no standardizing workers: {workers}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived the import"
    assert 0 < count(rt, select(func.count()).select_from(Contact)) < total

    finish = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finish.returncode == 0, finish.stderr
    assert '"resumed_from_row"' in finish.stdout
    with rt.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == total - len(bad)
        ids = list(s.scalars(select(ExternalId.external_id)))
        assert len(ids) == len(set(ids)) == total - len(bad)
        run = s.scalars(select(ImportRun)).one()
        assert (run.status, run.rows_done, run.invalid) == ("done", total, len(bad))
        assert run.created == total - len(bad)
        assert s.scalar(select(func.count()).where(ChangeEntry.action == "create")) == total - len(
            bad
        )


def _descendants(pid: int) -> list[int]:
    """Processes descended from ``pid`` (from /proc): the standardizing workers are the
    children of a fork server that is the importing process's child."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    out: list[int] = []
    level = [pid]
    while level:
        level = [child for child, parent in parents.items() if parent in level]
        out += level
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_cli_import_dry_run_errors_file_and_list(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", HEADER, [[1, "Ada", "L", "ada@example.com", ""], [2, "B", "", "x", ""]]
    )
    shown = cli("import", "contacts", str(path), "--show-mapping", "--json").json()
    assert shown["preset"] == "hubspot"
    errors = tmp_path / "errors.csv"
    dry = cli("import", "contacts", str(path), "--dry-run", "--errors", str(errors), "--json")
    assert dry.json()["counts"]["new"] == 1
    assert dry.json()["counts"]["invalid"] == 1
    assert "3,Email,x,email" in errors.read_text()
    real = cli("import", "contacts", str(path), "--json").json()
    listed = cli("import", "list", "--json").json()
    assert [r["id"] for r in listed] == [real["import_id"]]
    undone = cli("import", "undo", real["import_id"], "--json").json()
    assert undone["archived"] == 1
