"""Standardizing an import's rows in worker processes, on SQLite and PostgreSQL: the records,
the change log, the blocking keys and the error file are those of the in-process path, byte
for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from plumb.core.migrate import seed
from plumb.models import Base, ChangeEntry, ExternalId, MatchKey
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.transfer.importer import plan_import, stored_errors, write_errors
from plumb.transfer.standardizing import RowPipeline
from tests.conftest import operator
from tests.test_import import do_import, write_csv

HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Country/Region",
    "Job Title",
]
MESSY = [
    ["  Ada ", "LOVELACE", "Ada.L@Example.COM", "(415) 555-0134", "U.S.A.", "  Countess  "],
    ["Bob", "Byte", "mailto:bob@EXAMPLE.org", "+44 20 7946 0958", "united kingdom", ""],
    ["Cy", "Clone", "not-an-email", "+1 415 555 0199", "Deutschland", ""],
    ["Di", "Dial", "di@example.com", "call me maybe", "FR", ""],
    ["Ed", "Edge", "Ed <ed@example.net>", "123", "Narnia", ""],
    ["Flo", "Flow", "flo@example.com", "tel:+1-415-555-0100;ext=12", "usa", "Eng"],
    ["Gus", "", "gus@@example.com", "", "", ""],
    ["Hal", "Hue", "hal@bücher.example", "+49 30 1234567", "GERMANY", ""],
]


def _rows(n: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    for i in range(n):
        first, last, email, phone, country, title = MESSY[i % len(MESSY)]
        if "@" in email and not email.startswith(("not", "gus")):
            local, _, domain = email.rpartition("@")
            email = f"{local}{i}@{domain}"
        out.append([i, first, last, email, phone, country, title])
    return out


def _empty(rt: Runtime) -> None:
    """Back to an empty database (to import the same file again from scratch)."""
    with rt.db.write_session() as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
    seed(rt.db.engine, lanes=rt.settings.chain_lanes)
    rt.start()


def _state(rt: Runtime, run_id: str, errors: Path) -> str:
    """Every imported contact and its change-log entries, keyed by external id, with record
    and run ids (new in each run) written as the external id and ``RUN``."""
    with rt.db.read_session() as s:
        write_errors(errors, stored_errors(s, run_id))
        ext = dict(s.execute(select(ExternalId.record_id, ExternalId.external_id)).all())
        entries = {
            ext[e.record_id]: (e.action, e.changes, e.context)
            for e in s.scalars(select(ChangeEntry).where(ChangeEntry.record_type == "contact"))
        }
        keys: dict[str, list[str]] = {}
        for key, record_id in s.execute(
            select(MatchKey.key, MatchKey.record_id).order_by(MatchKey.key)
        ):
            keys.setdefault(ext[record_id], []).append(key)
    with rt.reading(operator()) as ctx:
        records = {}
        for record_id, external_id in ext.items():
            snap = queries.get_snapshot(ctx, "contact", queries.get(ctx, "contact", record_id))
            snap.pop("id")
            records[external_id] = snap
    out = json.dumps(
        {"records": records, "entries": entries, "keys": keys}, sort_keys=True
    ).replace(run_id, "RUN")
    for record_id, external_id in ext.items():
        out = out.replace(record_id, f"ext:{external_id}")
    return out


def test_worker_processes_standardize_exactly_as_the_importing_process(
    rt: Runtime, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "messy.csv", HEADER, _rows(48))
    # The import prepares batches itself until its workers are up, so which batches they
    # prepared varies from run to run; the next test awaits them. In-process first: the keys
    # the workers compute then replace those this process remembers, so the keys the
    # parallel import writes are the workers' own.
    alone = do_import(rt, "contact", path, batch_size=5, workers=1)
    in_process = _state(rt, alone.run_id, tmp_path / "alone.csv")
    _empty(rt)
    parallel = do_import(rt, "contact", path, batch_size=5, workers=2)
    in_pool = _state(rt, parallel.run_id, tmp_path / "parallel.csv")

    assert parallel.counts.as_dict() == alone.counts.as_dict()
    assert alone.counts.invalid > 0 and alone.counts.created > 0
    assert in_pool == in_process
    assert (tmp_path / "parallel.csv").read_bytes() == (tmp_path / "alone.csv").read_bytes()
    # standardized, not merely copied: E.164 phones, ISO countries, tidied text
    records = json.loads(in_process)["records"]
    assert any(k.startswith("emails=") for k in json.loads(in_process)["keys"]["0"])
    ada = records["0"]
    assert (ada["phones"], ada["country"], ada["first_name"]) == (["+14155550134"], "US", "Ada")
    bob = records["1"]
    assert (bob["emails"], bob["phones"], bob["country"]) == (
        ["bob1@example.org"],
        ["+442079460958"],
        "GB",
    )
    rules = {line.split(",")[3] for line in (tmp_path / "alone.csv").read_text().splitlines()[1:]}
    assert {"email", "phone", "country"} <= rules


def test_rows_prepared_by_the_workers_equal_those_prepared_in_process(
    rt: Runtime, tmp_path: Path
) -> None:
    """The pipeline itself, its workers awaited: every batch after the first is prepared by
    them (the import does not wait for them and prepares batches itself until they are up,
    so the test above may never reach them)."""
    path = write_csv(tmp_path / "messy.csv", HEADER, _rows(48))
    with rt.reading(operator()) as ctx:
        plan = plan_import(ctx, "contact", path)
    rows = [(n + 2, [str(c) for c in cells]) for n, cells in enumerate(_rows(48))]
    batches = [rows[i : i + 5] for i in range(0, len(rows), 5)]
    prepared = {}
    for workers in (1, 2):
        with RowPipeline(rt.loaded.workspace, plan.mapping, plan.header, workers) as pipeline:
            pipeline.wait_for_workers()
            prepared[workers] = list(pipeline.prepared(iter(batches)))
            assert pipeline.rows_to_workers == (0 if workers == 1 else 48 - 5)
    assert prepared[2] == prepared[1]
    issues = [c.issues for _, batch in prepared[1] for _, c in batch if c is not None and c.issues]
    assert issues  # the rows' problems are part of what is compared, not only clean values
