"""Clean benchmark rows loaded by bulk insert (not the write path): deals with their change-log
entries, contacts with companies. Used by reports.py and checks.py, which measure reading."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table

from plumb.core.bulk import insert_rows
from plumb.core.db import Database
from plumb.core.ids import new_ids
from plumb.models import ChangeEntry, Company, Contact, Deal

NOW = datetime(2026, 3, 1, tzinfo=UTC)
STAGES = ["qualification", "discovery", "proposal_sent", "negotiation", "closed_won", "closed_lost"]
BATCH = 20_000


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _entry(
    i: int, record_id: str, at: datetime, action: str, changes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "lane": 0,
        "seq": i,
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
        "at": at,
        "record_type": "deal",
        "record_id": record_id,
        "record_version": 1,
        "action": action,
        "actor_kind": "system",
        "actor_label": "bench",
        "source": "import",
        "correlation_id": "bench",
        "changes": changes,
        "context": {},
    }


def analyze(url: str) -> None:
    """Planner statistics, as a live database has them (a fresh bulk load has none)."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        db.dispose()


def load_deals(url: str, count: int, changes_per_deal: int) -> int:
    """``count`` deals (with companies, one per 10 deals) and about ``changes_per_deal`` change
    entries each (creation, then stage and amount moves over the last year). Returns entries."""
    rng = random.Random(7)
    db = Database(url)
    seq = 0
    try:
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            ids = new_ids(n)
            company_ids = new_ids(max(n // 10, 1))
            companies = [
                {
                    "id": c,
                    "name": f"Co {c}",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "created_by": "bench",
                    "custom": {},
                }
                for c in company_ids
            ]
            deals, entries = [], []
            for k, ident in enumerate(ids):
                created = NOW - timedelta(days=rng.randint(30, 365))
                stage = rng.choice(STAGES[:4])
                amount = rng.randint(1, 500) * 100
                entries.append(
                    _entry(
                        seq,
                        ident,
                        created,
                        "create",
                        {
                            "name": [None, "Deal"],
                            "pipeline": [None, "sales"],
                            "stage": [None, stage],
                            "amount": [None, f"{amount}.00"],
                        },
                    )
                )
                seq += 1
                at = created
                figures_at = created
                for _ in range(changes_per_deal - 1):
                    at = at + timedelta(days=rng.randint(1, 5))
                    if rng.random() < 0.5:
                        new = rng.choice(STAGES)
                        entries.append(_entry(seq, ident, at, "update", {"stage": [stage, new]}))
                        stage = new
                    else:
                        new_amount = rng.randint(1, 500) * 100
                        entries.append(
                            _entry(
                                seq,
                                ident,
                                at,
                                "update",
                                {"amount": [f"{amount}.00", f"{new_amount}.00"]},
                            )
                        )
                        amount = new_amount
                        figures_at = at
                    seq += 1
                deals.append(
                    {
                        "id": ident,
                        "name": "Deal",
                        "pipeline": "sales",
                        "stage": stage,
                        "amount": amount,
                        "company_id": company_ids[k % len(company_ids)],
                        "close_date": (NOW + timedelta(days=rng.randint(-20, 120))).date(),
                        "created_at": created,
                        "updated_at": at,
                        "figures_changed_at": figures_at,
                        "created_by": "bench",
                        "custom": {},
                    }
                )
            with db.write_session() as session:
                insert_rows(session, _table(Company), companies)
                insert_rows(session, _table(Deal), deals)
                insert_rows(session, _table(ChangeEntry), entries)
            done += n
    finally:
        db.dispose()
    analyze(url)
    return seq


def load_contacts(url: str, count: int) -> None:
    """``count`` contacts, one company per 20; about 5% orphaned, some stale, some off-list."""
    rng = random.Random(11)
    db = Database(url)
    sources = ["website", "referral", "event", "outbound", "paid", "partner"]
    stages = ["subscriber", "lead", "mql", "sql", "customer"]
    try:
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            company_ids = new_ids(max(n // 20, 1))
            companies = [
                {
                    "id": c,
                    "name": f"Co {c}",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "created_by": "bench",
                    "custom": {},
                }
                for c in company_ids
            ]
            contacts: list[dict[str, Any]] = []
            for k, ident in enumerate(new_ids(n)):
                created = NOW - timedelta(days=rng.randint(1, 900))
                stage = rng.choice(stages)
                contacts.append(
                    {
                        "id": ident,
                        "first_name": "Pat",
                        "last_name": f"N{k}",
                        "email": f"p{done + k}@example.com",
                        "emails": [f"p{done + k}@example.com"],
                        "phone": "+14155550100",
                        "phones": ["+14155550100"],
                        "lifecycle_stage": stage,
                        "lead_source": rng.choice(sources) if rng.random() > 0.03 else None,
                        "job_title": rng.choice(["Engineer", "Manager", "CEO", "Analyst"]),
                        "company_id": None
                        if rng.random() < 0.05
                        else company_ids[k % len(company_ids)],
                        "created_at": created,
                        "updated_at": created,
                        "last_activity_at": created + timedelta(days=rng.randint(0, 200)),
                        "created_by": "bench",
                        "custom": {},
                    }
                )
            with db.write_session() as session:
                insert_rows(session, _table(Company), companies)
                insert_rows(session, _table(Contact), contacts)
            done += n
    finally:
        db.dispose()
    analyze(url)
