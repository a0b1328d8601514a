"""End to end: a person's change fires a rule, whose e-mail leaves through the outbox and the
worker and arrives at a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from plumb.core.settings import Settings
from plumb.runtime import Runtime
from plumb.worker.runner import Worker
from plumb.workspace.loader import default_text
from tests.test_rules import RULES, create, patch, people, tasks_of  # noqa: F401
from tests.worker_receivers import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    data = yaml.safe_load(default_text())
    data.update(RULES)
    workspace = tmp_path / "plumb.yaml"
    workspace.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return Settings(
        database_url=database_url,
        workspace=workspace,
        chain_lanes=4,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="crm@plumb.example",
    )


def test_proposal_sent_task_and_the_managers_email_received_over_smtp(
    api: TestClient,
    rt: Runtime,
    people: dict[str, str],  # noqa: F811
    smtp: SmtpServer,
) -> None:
    deal = create(
        api,
        "deals",
        {
            "name": "Acme renewal",
            "pipeline": "sales",
            "stage": "qualification",
            "owner_id": people["rex"],
        },
    )
    patch(
        api,
        "deals",
        deal,
        {"stage": "proposal_sent", "amount": "12000", "close_date": "2026-04-30"},
    )
    [task] = tasks_of(rt, deal["id"])
    assert task.due_date.isoformat() == "2026-03-04"
    assert smtp.messages == []  # nothing leaves before the worker delivers the outbox

    tally = Worker(rt).drain()
    assert (tally.delivered, tally.dead) == (1, 0)
    [(recipients, mail)] = smtp.messages
    assert recipients == ["mia@example.com"]
    assert mail["Subject"] == "Proposal sent: Acme renewal"

    # delivered once: draining again sends nothing
    Worker(rt).drain()
    assert len(smtp.messages) == 1
