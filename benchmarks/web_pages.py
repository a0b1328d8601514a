"""Web pages at 100k contacts on SQLite vs a bare page of the same app, in the same run.

The app is ``plumb``'s own FastAPI application with the web UI, called in process through
Starlette's test client (no network), signed in as an administrator. One extra route,
``GET /bench/bare``, renders a small Jinja2 page with the same environment and touches no
database: the framework's floor. Measured for each page: the median and 95th percentile of
REPEAT requests after a warm-up. Goal: list and record pages under 300 ms.

Pages: the contact list (first page; sorted by last name; a keyset page deep in the sort; a
search), a record page with its timeline, and the pipeline board.

    python -m benchmarks.web_pages [--contacts 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from benchmarks.common import fresh_database, print_table
from plumb.access.users import create_user, set_password
from plumb.api.app import create_app
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.settings import Settings
from plumb.records import operations as ops
from plumb.runtime import Runtime
from plumb.web.core import env

BATCH = 2000
PASSWORD = "benchmark password 1"


def load(rt: Runtime, contacts: int) -> tuple[str, str]:
    operator = Actor(ActorKind.SYSTEM, Source.CLI, "benchmark")
    with rt.transaction(operator) as ctx:
        user = create_user(ctx, email="bench@example.com", name="Bench Admin", role="admin")
        set_password(ctx, user.email, PASSWORD)
        company = ops.create(ctx, "company", {"name": "Acme", "domain": "acme.com"})
    stages = ["subscriber", "lead", "mql", "other"]
    first_id = ""
    for start in range(0, contacts, BATCH):
        items = [
            {
                "first_name": f"Person{n}",
                "last_name": f"Family{(n * 7919) % contacts:06d}",
                "emails": [f"person{n}@example.com"],
                "phones": [f"+1415{(n % 10_000_000):07d}"],
                "lifecycle_stage": stages[n % len(stages)],
                "lead_source": "website",
                "company_id": company.id,
                "owner_id": user.id,
            }
            for n in range(start, min(start + BATCH, contacts))
        ]
        with rt.transaction(operator) as ctx:
            results = ops.create_many(ctx, "contact", items)
            failed = [r for r in results if r.error]
            if failed:
                raise SystemExit(f"load failed: {failed[0].error}")
            first_id = first_id or str(results[0].record_id)
    with rt.transaction(operator) as ctx:
        for n in range(20):
            ops.create(
                ctx,
                "deal",
                {
                    "name": f"Deal {n}",
                    "pipeline": "sales",
                    "stage": "qualification",
                    "amount": str(1000 * n),
                    "owner_id": user.id,
                },
            )
    return user.email, first_id


def measure(client: TestClient, url: str, repeat: int) -> list[float]:
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with fresh_database("sqlite", "web_pages") as url:
        rt = Runtime.from_settings(
            Settings(database_url=url, workspace=Path("/nonexistent/plumb.yaml"), chain_lanes=1)
        )
        rt.start()
        started = time.perf_counter()
        email, contact_id = load(rt, args.contacts)
        print(f"loaded {args.contacts} contacts in {time.perf_counter() - started:.1f} s")
        app = create_app(rt)
        bare = env.from_string(
            "<!doctype html><title>bare</title><ul>{% for i in items %}<li>{{ i }}</li>"
            "{% endfor %}</ul>"
        )

        @app.get("/bench/bare", include_in_schema=False)
        def bare_page(request: Request) -> HTMLResponse:
            return HTMLResponse(bare.render(items=range(50)))

        with TestClient(app, base_url="https://bench") as client:
            response = client.post(
                "/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
            )
            assert response.status_code == 303, response.text
            page = client.get("/contacts?sort=last_name").text
            for _ in range(20):  # walk 20 pages into the sort: still no OFFSET
                found = re.search(r'href="\?([^"]*cursor=[^"]+)" rel="next"', page)
                assert found is not None
                deep = "/contacts?" + found.group(1).replace("&amp;", "&")
                page = client.get(deep).text
            pages = {
                "bare page (no database)": "/bench/bare",
                "contacts, first page": "/contacts",
                "contacts, sorted by last name": "/contacts?sort=last_name",
                "contacts, 21st page of that sort": deep,
                "contacts, one lifecycle stage": "/contacts?lifecycle_stage=lead",
                "contacts, search 'person4242'": "/contacts?q=person4242",
                "contact record page": f"/contacts/{contact_id}",
                "pipeline board": "/pipeline/sales",
            }
            rows = []
            floor = None
            for name, target in pages.items():
                times = measure(client, target, args.repeat)
                median = statistics.median(times) * 1000
                p95 = sorted(times)[int(len(times) * 0.95) - 1] * 1000
                floor = floor or median
                rows.append([name, f"{median:.1f}", f"{p95:.1f}", f"{median / floor:.1f}x"])
        rt.close()
    print_table(
        f"Web pages, SQLite, {args.contacts} contacts (ms per request, in process)",
        ["page", "median", "p95", "vs bare"],
        rows,
    )


if __name__ == "__main__":
    main()
