"""``plumb merge``, ``plumb merges`` and ``plumb undo``: the same merge as the API."""

from __future__ import annotations

from plumb.core.clock import FixedClock
from tests.conftest import Cli


def test_merge_preview_list_undo_through_the_cli(cli: Cli, clock: FixedClock) -> None:
    s = cli("deals", "create", "--set", "name=Renewal", "--set", "amount=1000", "--json").json()
    clock.advance(hours=1)
    m = cli(
        "deals", "create", "--set", "name=Renewal 2027", "--set", "competitor=Initech", "--json"
    ).json()
    contact = cli("contacts", "create", "--set", "first_name=Pat", "--json").json()
    task = cli(
        "tasks",
        "create",
        "--set",
        "title=Send quote",
        "--set",
        f'record:={{"type": "deal", "id": "{m["id"]}"}}',
        "--json",
    ).json()
    cli(
        "deals",
        "update",
        m["id"],
        "--set",
        f'contacts:=[{{"contact_id": "{contact["id"]}", "role": "champion"}}]',
    )
    before_s = cli("deals", "get", s["id"], "--json").json()

    preview = cli(
        "merge", "deal", s["id"], m["id"], "--choose", f"name={s['id']}", "--preview", "--json"
    ).json()
    assert preview["fields"]["name"] == {"rule": "chosen", "record_id": s["id"], "value": "Renewal"}
    assert preview["fields"]["competitor"]["value"] == "Initech"
    human = cli("merge", "deals", s["id"], m["id"], "--preview").stdout
    assert "competitor" in human and "most_recent" in human

    stale = cli("merge", "deal", s["id"], m["id"], "--version", f"{m['id']}=1", "--json", expect=1)
    assert stale.json()["code"] == "version_conflict" and stale.json()["record_id"] == m["id"]

    done = cli(
        "merge",
        "deal",
        s["id"],
        m["id"],
        "--choose",
        f"name={s['id']}",
        "--version",
        f"{s['id']}=1",
        "--json",
    ).json()
    assert done["record"]["competitor"] == "Initech"
    assert done["record"]["contacts"] == [{"contact_id": contact["id"], "role": "champion"}]
    assert cli("tasks", "get", task["id"], "--json").json()["record"]["id"] == s["id"]
    assert cli("deals", "get", m["id"], "--json").json()["id"] == s["id"]
    own = cli("history", "deal", m["id"], "--json").json()
    assert own[0]["action"] == "create" and own[-1]["action"] == "archive"

    listed = cli("merges", "list", "--object", "deals", "--json").json()["data"]
    assert [x["id"] for x in listed] == [done["id"]]
    assert done["id"] in cli("merges", "list").stdout
    assert cli("merges", "show", done["id"], "--json").json()["before"][m["id"]]["name"] == (
        "Renewal 2027"
    )

    shown = cli("merges", "show", done["id"]).stdout
    assert "competitor" in shown and "Initech" in shown and "most_recent" in shown

    again = cli("merge", "deal", s["id"], m["id"], "--json", expect=1).json()
    assert again["code"] == "validation_failed" and again["record_id"] == m["id"]
    assert again["errors"][0]["rule"] == "merge"

    out = cli("undo", done["id"]).stdout
    assert "undid merge" in out
    restored = cli("deals", "get", s["id"], "--json").json()
    assert {k: v for k, v in restored.items() if k not in ("version", "updated_at")} == {
        k: v for k, v in before_s.items() if k not in ("version", "updated_at")
    }
    assert cli("tasks", "get", task["id"], "--json").json()["record"]["id"] == m["id"]
    twice = cli("undo", done["id"], "--json", expect=1).json()
    assert twice["code"] == "conflict" and "already undone" in twice["detail"]
    assert "ok" in cli("audit", "verify").stdout

    refused = cli("merge", "task", task["id"], s["id"], expect=1)
    assert "cannot be merged" in refused.stderr
