"""Duplicate detection on both backends: at entry, in bulk, learning, decisions, visibility."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.api.app import create_app
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.context import Hooks
from plumb.core.settings import Settings
from plumb.demo.synthetic import synthetic_contacts
from plumb.identity import entry, scan
from plumb.identity.plan import plan_for
from plumb.identity.queue import mark_distinct
from plumb.models import MatchKey
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime
from plumb.workspace.loader import default_text
from tests.conftest import Admin, Cli, ok, operator

ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
IMPORTER = Actor(kind=ActorKind.IMPORT, source=Source.IMPORT, label="import job")


def _write_workspace(settings: Settings, change: Any) -> Settings:
    content = yaml.safe_load(default_text())
    change(content)
    settings.workspace.write_text(yaml.safe_dump(content, sort_keys=False))
    return settings


def _load(rt: Runtime, items: list[dict[str, Any]]) -> list[str]:
    with rt.transaction(IMPORTER) as ctx:
        results = ops.create_many(ctx, "contact", items)
    assert not [r.error for r in results if r.error]
    return [r.record_id or "" for r in results]


def _queue(api: TestClient, obj: str = "contact") -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = ok(api.get(f"/api/v1/duplicates/{obj}"))["data"]
    return data


def _pairs(rows: list[dict[str, Any]]) -> set[frozenset[str]]:
    return {frozenset((r["record_a"], r["record_b"])) for r in rows}


# -- at entry -------------------------------------------------------------------------------------


@pytest.fixture
def api_blocks(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["matching"]["contact"]["on_entry"]["api"] = "block"

    return _write_workspace(settings, change)


def test_api_create_is_blocked_listing_the_candidate_and_can_be_overridden(
    api_blocks: Settings, api: TestClient
) -> None:
    first = ok(api.post("/api/v1/contacts", json={**ADA, "phone": "+1 415 555 0100"}), 201)
    again = api.post(
        "/api/v1/contacts",
        json={"name": "LOVELACE, ADA", "email": "ADA@Example.com", "city": "London"},
    )
    assert again.status_code == 409, again.text
    problem = again.json()
    assert problem["code"] == "duplicate_candidates"
    [candidate] = problem["candidates"]
    assert candidate["id"] == first["id"]
    explained = {e["field"]: e for e in candidate["explanation"]}
    assert explained["emails"]["level"] == "exact"
    assert explained["emails"]["b"] == ["ada@example.com"]
    assert explained["first_name"]["a"] == "Ada" and explained["first_name"]["level"] == "exact"
    assert explained["phones"]["level"] == "missing" and explained["phones"]["weight"] == 0
    assert candidate["score"] == pytest.approx(
        sum(e["weight"] for e in candidate["explanation"]), abs=0.05
    )
    assert ok(api.get("/api/v1/contacts?count=true"))["total"] == 1  # nothing half-written

    made = ok(
        api.post(
            "/api/v1/contacts?allow_duplicate=true",
            json={"name": "Ada Lovelace", "email": "ada@example.com"},
        ),
        201,
    )
    [entry] = ok(api.get(f"/api/v1/contacts/{made['id']}/history"))["data"]
    note = entry["context"]["duplicates"]
    assert note["policy"] == "block" and note["decision"] == "allowed by the caller"
    assert note["candidates"][0]["id"] == first["id"]
    assert _pairs(_queue(api)) == {frozenset((first["id"], made["id"]))}


def test_an_update_that_makes_a_duplicate_is_blocked(api_blocks: Settings, api: TestClient) -> None:
    ada = ok(api.post("/api/v1/contacts", json=ADA), 201)
    other = ok(api.post("/api/v1/contacts", json={"first_name": "Grace"}), 201)
    url = f"/api/v1/contacts/{other['id']}"
    refused = api.patch(url, json=ADA, headers={"If-Match": '"1"'})
    assert refused.status_code == 409
    assert refused.json()["record_id"] == other["id"]
    assert refused.json()["candidates"][0]["id"] == ada["id"]
    # An edit that touches no evidence field is not checked again.
    ok(
        api.patch(
            f"/api/v1/contacts/{ada['id']}", json={"job_title": "CTO"}, headers={"If-Match": '"1"'}
        )
    )


def test_cli_create_is_blocked_and_allow_duplicate_is_recorded(cli: Cli) -> None:
    first = cli(
        "contacts",
        "create",
        "--data",
        '{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}',
        "--json",
    ).json()
    refused = cli(
        "contacts",
        "create",
        "--set",
        "name=Ada Lovelace",
        "--set",
        "email=ada@example.com",
        "--json",
        expect=1,
    ).json()
    assert refused["code"] == "duplicate_candidates"
    assert refused["candidates"][0]["id"] == first["id"]
    plain = cli(
        "contacts",
        "create",
        "--set",
        "name=Ada Lovelace",
        "--set",
        "email=ada@example.com",
        expect=1,
    )
    assert "look" in plain.stderr and "allow_duplicate" in plain.stderr
    made = cli(
        "--allow-duplicate",
        "contacts",
        "create",
        "--set",
        "name=Ada Lovelace",
        "--set",
        "email=ada@example.com",
        "--json",
    ).json()
    shown = cli("history", "contacts", made["id"], "--json").json()
    assert shown[-1]["context"]["duplicates"]["decision"] == "allowed by the caller"


def test_flag_policy_writes_and_queues_the_pair(rt: Runtime, api: TestClient) -> None:
    ada = ok(api.post("/api/v1/contacts", json=ADA), 201)
    [imported] = _load(
        rt, [{"first_name": "Ada", "last_name": "Lovelace", "email": "ADA@example.com"}]
    )
    [row] = _queue(api)
    assert {row["record_a"], row["record_b"]} == {ada["id"], imported}
    assert row["origin"] == "entry"
    assert row["score"] >= rt.loaded.workspace.matching["contact"].threshold
    history = ok(api.get(f"/api/v1/contacts/{imported}/history"))["data"]
    assert history[0]["context"]["duplicates"]["decision"] == "flagged for review"
    found = ok(api.get(f"/api/v1/duplicates/contact/candidates/{imported}"))["data"]
    assert [c["id"] for c in found] == [ada["id"]]

    # Two alike records in one import: neither exists yet, the pair is flagged.
    grace = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.mil"}
    one, two, _ = _load(rt, [grace, {**grace, "email": "GRACE@navy.mil"}, {"first_name": "Alan"}])
    assert frozenset((one, two)) in _pairs(_queue(api))
    history = ok(api.get(f"/api/v1/contacts/{two}/history"))["data"]
    assert history[0]["context"]["duplicates"]["same_batch"][0]["index"] == 0


def test_in_a_mixed_batch_each_candidate_lands_on_its_own_row(rt: Runtime, api: TestClient) -> None:
    """Only the rows of a batch that have a pair are compared: the candidates and same-batch
    pairs must still be reported on the right rows, with the rows between them left clean."""
    ada = ok(api.post("/api/v1/contacts", json=ADA), 201)
    alan = ok(
        api.post(
            "/api/v1/contacts",
            json={"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.uk"},
        ),
        201,
    )
    grace = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.mil"}
    ids = _load(
        rt,
        [
            {"first_name": "Edsger", "last_name": "Dijkstra", "email": "ewd@utexas.edu"},
            {"first_name": "Alan", "last_name": "Turing", "email": "ALAN@bletchley.uk"},
            {"first_name": "Barbara", "last_name": "Liskov", "email": "liskov@mit.edu"},
            grace,
            {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"},
            {**grace, "email": "GRACE@navy.mil"},
            {"first_name": "Donald", "last_name": "Knuth", "email": "knuth@stanford.edu"},
        ],
    )
    assert _pairs(_queue(api)) == {
        frozenset((alan["id"], ids[1])),
        frozenset((ada["id"], ids[4])),
        frozenset((ids[3], ids[5])),
    }
    for n in (1, 4):
        found = ok(api.get(f"/api/v1/duplicates/contact/candidates/{ids[n]}"))["data"]
        assert [c["id"] for c in found] == [alan["id"] if n == 1 else ada["id"]]
        agreed = {e["field"] for e in found[0]["explanation"] if e["weight"] > 0}
        assert {"first_name", "last_name", "emails"} <= agreed
    contexts = [ok(api.get(f"/api/v1/contacts/{i}/history"))["data"][0]["context"] for i in ids]
    assert [("duplicates" in c) for c in contexts] == [False, True, False, False, True, True, False]
    assert contexts[5]["duplicates"]["same_batch"][0]["index"] == 3


@pytest.fixture
def small_blocks(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["matching"]["contact"]["max_block"] = 3

    return _write_workspace(settings, change)


def test_a_key_held_by_more_than_max_block_records_is_not_paired_on(
    small_blocks: Settings, rt: Runtime, api: TestClient
) -> None:
    # Same name and phone, e-mails apart: name and phone keys are their only shared keys.
    alike = [
        {"first_name": "Ada", "last_name": "Lovelace", "phone": "+1 415 555 0134",
         "email": f"ada{n}@example.{tld}"}
        for n, tld in enumerate(("com", "org", "net", "io"))
    ]  # fmt: skip
    first = _load(rt, alike[:3])
    # Three holders (max_block): still paired on.
    found = ok(api.get(f"/api/v1/duplicates/contact/candidates/{first[0]}"))["data"]
    assert {c["id"] for c in found} == set(first[1:])

    [fourth] = _load(rt, alike[3:])
    # Four holders: every key they share is too common, so nobody is a candidate by them...
    for record_id in [*first, fourth]:
        assert ok(api.get(f"/api/v1/duplicates/contact/candidates/{record_id}"))["data"] == []
    # ...while a key held by few still pairs: the same e-mail as the first record.
    [again] = _load(rt, [{**alike[0], "first_name": "Ada"}])
    found = ok(api.get(f"/api/v1/duplicates/contact/candidates/{again}"))["data"]
    assert [c["id"] for c in found] == [first[0]]


@pytest.fixture
def merge_settings(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["matching"]["contact"]["on_entry"] = {"default": "flag", "import": "merge"}

    return _write_workspace(settings, change)


def test_merge_policy_merges_the_imported_record_into_the_existing_one(
    merge_settings: Settings, rt: Runtime, api: TestClient
) -> None:
    ada = ok(api.post("/api/v1/contacts", json={**ADA, "phone": "+14155550100"}), 201)
    [imported] = _load(rt, [{**ADA, "phone": "+14155550100", "city": "London"}])
    history = ok(api.get(f"/api/v1/contacts/{imported}/history"))["data"]
    assert history[0]["context"]["duplicates"]["decision"] == "merged into an existing record"
    assert history[-1]["action"] == "archive"
    # the imported id resolves to the survivor, which took the newer city
    response = api.get(f"/api/v1/contacts/{imported}")
    assert response.headers["plumb-resolved-from"] == imported
    assert ok(response)["id"] == ada["id"]
    assert ok(response)["city"] == "London"
    [merge] = ok(api.get("/api/v1/merges", params={"record": imported}))["data"]
    assert (merge["survivor"], merge["merged"]) == (ada["id"], [imported])
    assert _queue(api) == []
    # and it can be undone like any merge
    ok(api.post(f"/api/v1/merges/{merge['id']}/undo"))
    assert ok(api.get(f"/api/v1/contacts/{imported}"))["id"] == imported


def test_merge_policy_without_a_merge_operation_flags_and_says_so(
    merge_settings: Settings, rt: Runtime, api: TestClient
) -> None:
    before, after = entry.hooks(merge=None)
    rt.hooks = Hooks(before_write=[before], after_write=[after])
    ada = ok(api.post("/api/v1/contacts", json={**ADA, "phone": "+14155550100"}), 201)
    [imported] = _load(rt, [{**ADA, "phone": "+14155550100", "city": "London"}])
    history = ok(api.get(f"/api/v1/contacts/{imported}/history"))["data"]
    assert history[0]["context"]["duplicates"]["decision"] == (
        "flagged for review (merge is not available)"
    )
    assert _pairs(_queue(api)) == {frozenset((ada["id"], imported))}


def test_merge_policy_calls_the_merge_boundary(merge_settings: Settings, rt: Runtime) -> None:
    merged: list[tuple[str, str, list[str]]] = []

    def merge(ctx: Any, obj: str, survivor: str, ids: list[str]) -> None:
        merged.append((obj, survivor, ids))

    before, after = entry.hooks(merge=merge)
    rt.hooks = Hooks(before_write=[before], after_write=[after])
    [ada] = _load(rt, [{**ADA, "phone": "+14155550100"}])
    [again, _below_merge] = _load(
        rt,
        [{**ADA, "phone": "+14155550100"}, {"first_name": "Ada", "last_name": "Lovelace"}],
    )
    assert merged == [("contact", ada, [again])]


# -- visibility -----------------------------------------------------------------------------------


@pytest.fixture
def owner_only_settings(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["roles"]["rep"]["visibility"] = {"contact": "owner"}
        content["matching"]["contact"]["on_entry"]["api"] = "block"
        content["roles"]["rep"]["objects"] = {"*": ["view", "create", "edit", "archive", "merge"]}

    return _write_workspace(settings, change)


@pytest.fixture
def reps(owner_only_settings: Settings, rt: Runtime) -> dict[str, tuple[str, str]]:
    out = {}
    with rt.transaction(operator()) as ctx:
        for key in ("east", "west"):
            user = create_user(ctx, email=f"{key}@example.com", name=key, role="rep")
            out[key] = (user.id, create_token(ctx, user, "tests", ["read", "write"]).secret)
    return out


@pytest.fixture
def plain_client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield client


def test_a_candidate_the_actor_may_not_see_is_never_revealed(
    reps: dict[str, tuple[str, str]], plain_client: TestClient, api: TestClient
) -> None:
    west_id, west_token = reps["west"]
    _, east_token = reps["east"]
    west = {"Authorization": f"Bearer {west_token}"}
    east = {"Authorization": f"Bearer {east_token}"}
    hidden = ok(plain_client.post("/api/v1/contacts", json=ADA, headers=west), 201)
    # East cannot see West's Ada: the write is not refused (that would reveal her), it is flagged.
    mine = ok(plain_client.post("/api/v1/contacts", json=ADA, headers=east), 201)
    assert hidden["id"] not in str(mine)
    history = ok(plain_client.get(f"/api/v1/contacts/{mine['id']}/history", headers=east))["data"]
    note = history[0]["context"]["duplicates"]
    assert note["candidates"] == [] and note["not_visible"] == 1
    assert hidden["id"] not in str(history)
    assert ok(plain_client.get("/api/v1/duplicates/contact", headers=east)) == {
        "data": [],
        "total": 0,
    }
    assert (
        ok(plain_client.get(f"/api/v1/duplicates/contact/candidates/{mine['id']}", headers=east))[
            "data"
        ]
        == []
    )
    # Someone who sees both finds the pair in the queue.
    assert _pairs(_queue(api)) == {frozenset((hidden["id"], mine["id"]))}
    # West sees her own record but not East's.
    assert _queue_as(plain_client, west) == []
    assert west_id


def _queue_as(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(client.get("/api/v1/duplicates/contact", headers=headers))[
        "data"
    ]
    return rows


# -- learning and explanation ---------------------------------------------------------------------


def test_em_learns_sensible_weights_and_decisions_shift_them(rt: Runtime) -> None:
    data = synthetic_contacts(600, seed=5)
    ids = _load(rt, data.items)
    plan = plan_for(rt.loaded.workspace, "contact")
    assert plan is not None
    with rt.transaction(operator()) as ctx:
        estimation, row = scan.estimate_only(ctx, plan)
    weights = row.weights
    assert estimation.pairs > 0 and estimation.random_pairs > 0
    assert 0 < estimation.match_share < 1
    assert weights["emails"]["exact"]["weight"] > weights["first_name"]["exact"]["weight"]
    assert weights["emails"]["exact"]["weight"] > 5
    for field in ("emails", "phones", "first_name", "last_name"):
        assert weights[field]["disagree"]["weight"] < 0
        assert weights[field]["exact"]["m"] > weights[field]["exact"]["u"]

    # People say some pairs sharing only a last name are different: last-name agreement then
    # counts for less.
    shared: dict[str, list[int]] = {}
    for i, item in enumerate(data.items):
        if item.get("last_name"):
            shared.setdefault(item["last_name"], []).append(i)
    pairs = [
        (g[0], j) for g in shared.values() for j in g[1:] if data.entity[g[0]] != data.entity[j]
    ][:15]
    assert len(pairs) >= 5
    with rt.transaction(operator()) as ctx:
        for a, b in pairs:
            mark_distinct(ctx, plan, ids[a], ids[b], note="different people")
        again, row2 = scan.estimate_only(ctx, plan)
    assert again.labelled == len(pairs)
    assert row2.weights["last_name"]["exact"]["weight"] < weights["last_name"]["exact"]["weight"]
    listed = ok_weights(rt)
    assert listed["weights_id"] == row2.id


def ok_weights(rt: Runtime) -> dict[str, Any]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        with rt.transaction(operator()) as ctx:
            user = create_user(ctx, email="w@example.com", name="W", role="admin")
            token = create_token(ctx, user, "t", ["admin"]).secret
        body: dict[str, Any] = ok(
            client.get(
                "/api/v1/duplicates/contact/weights", headers={"Authorization": f"Bearer {token}"}
            )
        )
        return body


def test_estimate_through_the_api_and_cli(rt: Runtime, api: TestClient, cli: Cli) -> None:
    _load(rt, synthetic_contacts(120, seed=2).items)
    made = ok(api.post("/api/v1/duplicates/contact/estimate"), 201)
    assert made["pairs"] > 0 and made["weights"]["emails"]["exact"]["weight"] > 0
    assert ok(api.get("/api/v1/duplicates/contact/weights"))["weights_id"] == made["weights_id"]
    out = cli("dedupe", "estimate", "--object", "contact", "--json").json()
    assert out["weights_id"] != made["weights_id"]
    assert "emails" in cli("dedupe", "estimate", "--object", "contact").stdout


# -- batch ----------------------------------------------------------------------------------------


@pytest.fixture
def quiet_entry(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["matching"]["contact"]["on_entry"] = {"default": "off"}

    return _write_workspace(settings, change)


def test_batch_dedupe_finds_the_planted_clusters(
    quiet_entry: Settings, rt: Runtime, cli: Cli, tmp_path: Path
) -> None:
    data = synthetic_contacts(400, seed=9)
    ids = _load(rt, data.items)
    export = tmp_path / "pairs.csv"
    summary = cli(
        "dedupe", "--object", "contact", "--estimate", "--export", str(export), "--json"
    ).json()
    assert summary["records"] == 400 and summary["estimated_weights"] is True
    position = {rid: i for i, rid in enumerate(ids)}
    with export.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == summary["likely_duplicate_pairs"]
    clusters: dict[str, set[int]] = {}
    for row in rows:
        clusters.setdefault(row["cluster"], set()).update(
            (position[row["record_a"]], position[row["record_b"]])
        )
    predicted = {(a, b) for c in clusters.values() for a in c for b in c if a < b}
    truth = data.true_pairs()
    precision = len(predicted & truth) / len(predicted)
    recall = len(predicted & truth) / len(truth)
    assert precision > 0.9 and recall > 0.9, (precision, recall)
    # Nothing absurd: no giant cluster, every pair above the threshold and explained.
    assert summary["largest_cluster"] <= 4
    assert all(float(r["score"]) >= summary["threshold"] for r in rows)
    queue = cli("dedupe", "queue", "--limit", "5", "--json").json()
    assert queue["total"] == len(rows)
    assert queue["data"][0]["explanation"][0]["field"] == "emails"
    assert "open pairs" in cli("dedupe", "queue").stdout
    shown = cli("dedupe").stdout
    assert "contact: 400 records" in shown and "company: 0 records" in shown


def test_distinct_pairs_are_never_proposed_again(
    quiet_entry: Settings, rt: Runtime, api: TestClient, cli: Cli
) -> None:
    ids = _load(
        rt,
        [
            ADA,
            {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
            {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.mil"},
            {"first_name": "Grace", "last_name": "Hopper", "email": "GRACE@navy.mil"},
        ],
    )
    cli("dedupe", "--json")
    assert _pairs(_queue(api)) == {frozenset(ids[:2]), frozenset(ids[2:])}
    decided = ok(
        api.post(
            "/api/v1/duplicates/contact/distinct",
            json={"record_a": ids[1], "record_b": ids[0], "note": "twins"},
        ),
        201,
    )
    assert decided["decision"] == "distinct" and decided["comparison"]["emails"] == "exact"
    assert _pairs(_queue(api)) == {frozenset(ids[2:])}
    for mine, other in ((ids[0], ids[1]), (ids[1], ids[0])):
        history = ok(api.get(f"/api/v1/contacts/{mine}/history"))["data"]
        [entry] = [e for e in history if e["action"] == "not_duplicate"]
        assert entry["context"]["of"] == other and entry["note"] == "twins"
        assert entry["context"]["decision_id"] == decided["id"]
    cli("dedupe", "distinct", "contact", ids[3], ids[2])
    assert _queue(api) == []
    rescan = cli("dedupe", "--object", "contact", "--json").json()
    assert rescan["likely_duplicate_pairs"] == 0 and _queue(api) == []
    assert ok(api.get(f"/api/v1/duplicates/contact/candidates/{ids[0]}"))["data"] == []
    # Records archived leave the queue and the blocking index.
    with rt.transaction(operator()) as ctx:
        record = queries.get(ctx, "contact", ids[0])
        ops.archive(ctx, "contact", record)
        keys = ctx.session.scalar(
            select(func.count()).select_from(MatchKey).where(MatchKey.record_id == ids[0])
        )
    assert keys == 0
    bad = api.post(
        "/api/v1/duplicates/contact/distinct",
        json={"record_a": ids[2], "record_b": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"},
    )
    assert bad.status_code == 404


def test_reindex_rebuilds_the_keys(rt: Runtime, cli: Cli) -> None:
    _load(rt, [ADA, {"first_name": "Grace", "last_name": "Hopper"}])
    with rt.transaction(operator()) as ctx:
        before = sorted(ctx.session.scalars(select(MatchKey.key)))
        ctx.session.execute(MatchKey.__table__.delete())
    out = cli("dedupe", "reindex", "--object", "contact", "--json").json()
    assert out["contact"] == {"records": 2, "keys": len(before)}
    with rt.transaction(operator()) as ctx:
        assert sorted(ctx.session.scalars(select(MatchKey.key))) == before


def test_keys_are_rebuilt_only_when_a_blocking_field_changes(rt: Runtime) -> None:
    [ada] = _load(rt, [{**ADA, "lead_source": "website"}])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def keys() -> list[str]:
        with rt.reading(operator()) as ctx:
            return sorted(ctx.session.scalars(select(MatchKey.key)))

    before = keys()
    event.listen(rt.db.engine, "before_cursor_execute", seen)
    try:
        with rt.transaction(IMPORTER) as ctx:  # a stage move: no blocking field changes
            ops.move_stage(ctx, "contact", queries.get(ctx, "contact", ada), "mql")
        untouched = [s for s in statements if "match_keys" in s]
        with rt.transaction(IMPORTER) as ctx:
            record = queries.get(ctx, "contact", ada)
            ops.update(ctx, "contact", record, {"emails": ["ada@analytical.example"]})
        rebuilt = [s for s in statements if "match_keys" in s]
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", seen)
    assert untouched == []
    assert any(s.lstrip().upper().startswith("DELETE") for s in rebuilt)
    assert set(before) ^ set(keys()) == {"emails=adaexamplecom", "emails=adaanalyticalexample"}


# -- custom evidence ------------------------------------------------------------------------------


@pytest.fixture
def dob_settings(settings: Settings) -> Settings:
    def change(content: dict[str, Any]) -> None:
        content["objects"]["contact"]["fields"].append(
            {"name": "date_of_birth", "type": "date", "personal": True}
        )
        contact = content["matching"]["contact"]
        contact["fields"].append({"field": "date_of_birth", "compare": "date"})
        contact["blocking"].append(["last_name:phonetic", "date_of_birth:year"])

    return _write_workspace(settings, change)


def test_a_custom_date_of_birth_is_evidence(dob_settings: Settings, api: TestClient) -> None:
    base = {"first_name": "Ada", "last_name": "Lovelace", "city": "London"}
    ada = ok(api.post("/api/v1/contacts", json={**base, "date_of_birth": "1815-12-10"}), 201)
    swapped = ok(
        api.post(
            "/api/v1/contacts?allow_duplicate=true",
            json={"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1815-10-12"},
        ),
        201,
    )
    other = ok(
        api.post(
            "/api/v1/contacts?allow_duplicate=true",
            json={**base, "date_of_birth": "1990-04-02"},
        ),
        201,
    )
    found = ok(api.get(f"/api/v1/duplicates/contact/candidates/{ada['id']}?threshold=-100"))["data"]
    by_id = {c["id"]: c for c in found}
    level = {
        k: next(e for e in c["explanation"] if e["field"] == "date_of_birth")
        for k, c in by_id.items()
    }
    assert level[swapped["id"]]["level"] == "transposed"
    assert level[swapped["id"]]["a"] == "1815-12-10" and level[swapped["id"]]["b"] == "1815-10-12"
    assert level[swapped["id"]]["weight"] > 0
    assert level[other["id"]]["level"] == "disagree" and level[other["id"]]["weight"] < 0
    assert by_id[swapped["id"]]["score"] > by_id[other["id"]]["score"]


def test_unknown_object_for_duplicates_is_404(api: TestClient, admin: Admin) -> None:
    assert api.get("/api/v1/duplicates/deal").status_code == 404
    assert admin.token
