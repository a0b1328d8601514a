"""The worker against real receivers: an SMTP server and HTTP servers that verify signatures,
fail, hang, and recover. Time moves by the FixedClock, never by waiting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.api.app import create_app
from plumb.core.clock import FixedClock
from plumb.core.settings import Settings
from plumb.models.outbox import OutboxMessage
from plumb.outbox import enqueue
from plumb.runtime import Runtime
from plumb.worker.runner import Worker, WorkerThread
from plumb.workspace.loader import default_text
from tests.conftest import Admin, Cli, ok, operator
from tests.worker_receivers import SECRET, SmtpServer, WebhookReceiver, free_port, wait_for


def webhooks_yaml(receiver: WebhookReceiver, refused_port: int) -> str:
    return f"""
webhooks:
  allowed_hosts: ["127.0.0.1", "127.0.0.2"]
  allowed_private_networks: ["127.0.0.1/32"]
  endpoints:
    crm_sink:
      url: {receiver.url}
      secret_env: PLUMB_TEST_HOOK_SECRET
    closed:
      url: http://127.0.0.1:{free_port()}/nobody-listens
      secret_env: PLUMB_TEST_HOOK_SECRET
    internal:
      url: http://127.0.0.2:{refused_port}/
      secret_env: PLUMB_TEST_HOOK_SECRET
    no_secret:
      url: {receiver.url}
      secret_env: PLUMB_TEST_UNSET_SECRET
"""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def internal_receiver() -> Iterator[WebhookReceiver]:
    """Listens on 127.0.0.2, an address the workspace does not allow: must hear nothing."""
    r = WebhookReceiver(host="127.0.0.2").start()
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(
    database_url: str,
    tmp_path: Path,
    receiver: WebhookReceiver,
    internal_receiver: WebhookReceiver,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    workspace = tmp_path / "plumb.yaml"
    workspace.write_text(default_text() + webhooks_yaml(receiver, internal_receiver.port))
    monkeypatch.setenv("PLUMB_TEST_HOOK_SECRET", SECRET)
    monkeypatch.delenv("PLUMB_TEST_UNSET_SECRET", raising=False)
    return Settings(
        database_url=database_url,
        workspace=workspace,
        chain_lanes=4,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="crm@plumb.example",
        outbox_max_attempts=4,
        outbox_backoff_base_seconds=30,
        outbox_backoff_cap_seconds=600,
        webhook_timeout_seconds=0.5,
        worker_poll_seconds=0.05,
    )


def send(rt: Runtime, channel: str, destination: str, payload: dict) -> str:
    with rt.transaction(operator()) as ctx:
        message_id = enqueue(ctx, channel, destination, payload, origin="tests")
    assert message_id is not None
    return message_id


def message(rt: Runtime, message_id: str) -> OutboxMessage:
    with rt.db.read_session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        session.expunge(row)
        return row


def test_email_is_sent_over_smtp_with_a_message_id_from_the_outbox_id(
    rt: Runtime, smtp: SmtpServer
) -> None:
    message_id = send(
        rt, "email", "grace@example.com", {"subject": "Deal won: Globex", "text": "Congrats!\n"}
    )
    tally = Worker(rt).drain()
    assert (tally.delivered, tally.retried, tally.dead) == (1, 0, 0)
    [(rcpt, mail)] = smtp.messages
    assert rcpt == ["grace@example.com"]
    assert mail["Message-ID"] == f"<{message_id}.outbox@plumb.example>"
    assert mail["Subject"] == "Deal won: Globex"
    assert mail["From"] == "crm@plumb.example"
    assert mail.get_payload(decode=True).decode().strip() == "Congrats!"
    row = message(rt, message_id)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, rt.clock.now())


def test_email_refused_by_the_server_goes_dead_at_once(rt: Runtime, smtp: SmtpServer) -> None:
    refused = send(rt, "email", "ghost@refused.example", {"subject": "Hi", "text": "x"})
    malformed = send(rt, "email", "grace@example.com", {"subject": "no text"})
    Worker(rt).drain()
    row = message(rt, refused)
    assert row.status == "dead" and "550" in (row.last_error or "")
    row = message(rt, malformed)
    assert row.status == "dead" and "subject" in (row.last_error or "")
    assert smtp.messages == []


def test_webhook_is_signed_per_standard_webhooks(rt: Runtime, receiver: WebhookReceiver) -> None:
    payload = {"event": "deal.won", "deal": {"id": "D1", "amount": "1200.00"}, "note": "é"}
    message_id = send(rt, "webhook", "crm_sink", payload)
    assert Worker(rt).drain().delivered == 1
    [request] = receiver.requests
    assert request["valid"], "the signature does not verify with the endpoint's secret"
    assert request["id"] == message_id
    assert request["path"] == "/hooks/plumb?x=1"
    assert request["content_type"] == "application/json"
    assert json.loads(request["body"]) == payload
    assert receiver.processed == {message_id: payload}


def test_failing_receiver_is_retried_with_backoff_until_it_recovers(
    rt: Runtime, clock: FixedClock, receiver: WebhookReceiver
) -> None:
    receiver.script = [503, "hang"]
    message_id = send(rt, "webhook", "crm_sink", {"n": 1})
    worker = Worker(rt)

    assert worker.drain().retried == 1
    first = message(rt, message_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "HTTP 503" in (first.last_error or "")
    wait1 = (first.next_attempt_at - clock.now()).total_seconds()
    assert 15 <= wait1 <= 30  # base 30 s, jitter in the upper half
    assert worker.drain().claimed == 0, "retried before its backoff passed"

    clock.advance(seconds=wait1)
    assert worker.drain().retried == 1
    second = message(rt, message_id)
    assert second.attempts == 2 and "timed out" in (second.last_error or "")
    wait2 = (second.next_attempt_at - clock.now()).total_seconds()
    assert 30 <= wait2 <= 60

    clock.advance(seconds=wait2)
    assert worker.drain().delivered == 1
    done = message(rt, message_id)
    assert (done.status, done.attempts) == ("delivered", 3)
    assert receiver.counts()[message_id] == 3
    assert list(receiver.processed) == [message_id]


def test_connection_refused_is_retried_then_dead_after_the_last_attempt(
    rt: Runtime, clock: FixedClock
) -> None:
    message_id = send(rt, "webhook", "closed", {"n": 1})
    worker = Worker(rt)
    for attempt in range(1, 5):
        clock.advance(seconds=3600)
        worker.drain()
        row = message(rt, message_id)
        assert row.attempts == attempt
        assert "ConnectionRefusedError" in (row.last_error or "")
    assert row.status == "dead"
    clock.advance(seconds=3600)
    assert worker.drain().claimed == 0


def test_destinations_the_workspace_does_not_allow_are_refused(
    rt: Runtime, receiver: WebhookReceiver, internal_receiver: WebhookReceiver
) -> None:
    internal = send(rt, "webhook", "internal", {"n": 1})
    unknown = send(rt, "webhook", "nowhere", {"n": 2})
    no_secret = send(rt, "webhook", "no_secret", {"n": 3})
    tally = Worker(rt).drain()
    assert (tally.claimed, tally.dead) == (3, 3)
    assert "resolves to 127.0.0.2" in (message(rt, internal).last_error or "")
    assert "no webhook endpoint 'nowhere'" in (message(rt, unknown).last_error or "")
    assert "PLUMB_TEST_UNSET_SECRET" in (message(rt, no_secret).last_error or "")
    assert all(message(rt, m).attempts == 1 for m in (internal, unknown, no_secret))
    assert internal_receiver.requests == [] and receiver.requests == []


def test_dead_letters_listed_and_replayed_through_the_api_by_administrators_only(
    rt: Runtime, clock: FixedClock, receiver: WebhookReceiver, admin: Admin
) -> None:
    receiver.script = [500, 500, 500, 500]
    message_id = send(rt, "webhook", "crm_sink", {"order": 7})
    delivered = send(rt, "webhook", "nowhere", {"order": 8})
    worker = Worker(rt)
    for _ in range(4):
        worker.drain()
        clock.advance(seconds=3600)
    assert message(rt, message_id).status == "dead"

    with rt.transaction(operator()) as ctx:
        rep = create_user(ctx, email="rep@example.com", name="Rep", role="rep")
        rep_token = create_token(ctx, rep, "rep", ["admin"]).secret
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {rep_token}"
        assert client.get("/api/v1/outbox?status=dead").status_code == 403
        assert client.post(f"/api/v1/outbox/{message_id}/replay").status_code == 403

        client.headers["Authorization"] = f"Bearer {admin.token}"
        dead = ok(client.get("/api/v1/outbox", params={"status": "dead"}))["data"]
        assert {m["id"] for m in dead} == {message_id, delivered}
        listed = next(m for m in dead if m["id"] == message_id)
        assert listed["attempts"] == 4 and "HTTP 500" in listed["last_error"]
        assert listed["last_attempt_at"] and listed["payload"] == {"order": 7}
        assert ok(client.get("/api/v1/outbox", params={"status": "lost"}), 400)
        replayed = ok(client.post(f"/api/v1/outbox/{message_id}/replay"))
        assert (replayed["status"], replayed["attempts"]) == ("pending", 0)
        assert ok(client.post(f"/api/v1/outbox/{message_id}/replay"), 409)["code"] == "conflict"
        assert ok(client.post("/api/v1/outbox/NOPE/replay"), 404)

    assert worker.drain().delivered == 1
    assert receiver.processed == {message_id: {"order": 7}}
    assert message(rt, message_id).status == "delivered"


def test_dead_letters_listed_and_replayed_through_the_cli(
    rt: Runtime, cli: Cli, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUMB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PLUMB_SMTP_PORT", str(smtp.port))
    first = send(rt, "webhook", "nowhere", {"n": 1})
    second = send(rt, "email", "x@refused.example", {"subject": "s", "text": "t"})
    cli("worker", "--once")
    listed = cli("outbox", "list", "--status", "dead", "--json").json()
    assert {m["id"] for m in listed} == {first, second}
    table = cli("outbox", "list", "--status", "dead").stdout
    assert first in table and "no webhook endpoint" in table

    with rt.transaction(operator()) as ctx:
        create_user(ctx, email="viewer@example.com", name="Vi", role="viewer")
    denied = cli("--as", "viewer@example.com", "outbox", "list", "--json", expect=1)
    assert denied.json()["code"] == "permission_denied"
    cli("--as", "viewer@example.com", "outbox", "replay", "--all-dead", expect=1)

    assert cli("outbox", "replay", first, "--json").json() == {"replayed": [first]}
    assert message(rt, first).status == "pending"
    assert cli("outbox", "replay", "--all-dead", "--json").json() == {"replayed": [second]}
    cli("outbox", "replay", expect=1)
    shown = cli("outbox", "show", second).json()
    assert shown["status"] == "pending" and shown["attempts"] == 0


def test_the_worker_thread_of_plumb_serve_delivers_and_stops_cleanly(
    rt: Runtime, receiver: WebhookReceiver
) -> None:
    background = WorkerThread(Worker(rt))
    background.start()
    message_id = send(rt, "webhook", "crm_sink", {"n": 1})
    wait_for(lambda: message(rt, message_id).status == "delivered", "the thread to deliver")
    background.stop(timeout=30)
    assert not background.thread.is_alive()
    assert list(receiver.processed) == [message_id]
