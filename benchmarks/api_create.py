"""Single-record creates through the HTTP API vs a bare endpoint of the same app.

The server is ``plumb``'s own FastAPI app under uvicorn, in its own process, with one extra
route added by this benchmark: ``POST /bench/bare/contacts`` authenticates nothing, touches no
database, and only validates the same payload with the same field schema; like the real route
it is a plain ``def`` run in the server's thread pool. The real route,
``POST /api/v1/contacts``, authenticates the token, cleans and validates, checks references and
stage gates, inserts the row, appends the hash-chained change-log entry and commits.

The load is bounded: CONCURRENCY client threads on loopback, each with one keep-alive
connection, sending requests back to back for DURATION seconds. Reported: requests per second
of each endpoint and the ratio (goal: the real create at least 50% of the bare endpoint).

    python -m benchmarks.api_create [--backends sqlite,postgresql] [--duration 8]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import Depends
from fastapi.responses import JSONResponse

from benchmarks.common import fresh_database, postgres_available, print_table

CONCURRENCY = 8
ROOT = Path(__file__).resolve().parents[1]


def payload(n: int) -> bytes:
    return json.dumps(
        {
            "first_name": " Grace ",
            "last_name": f"Hopper{n}",
            "email": f"Grace.Hopper{n}@Example.COM",
            "phone": "(415) 555-0134",
            "job_title": "Rear Admiral",
            "lifecycle_stage": "Lead",
            "lead_source": "web",
        }
    ).encode()


# -- server side ----------------------------------------------------------------------------------


def serve(port: int) -> None:
    """Run the app with the bare route added (in the child process)."""
    import uvicorn

    from plumb.api.app import create_app
    from plumb.api.deps import json_body
    from plumb.core.errors import BadRequest, ValidationFailed
    from plumb.records.fields import schema_for
    from plumb.records.prepare import split_contact_aliases
    from plumb.runtime import Runtime

    rt = Runtime.from_settings()
    rt.start()
    app = create_app(rt)
    schema = schema_for(rt.loaded.workspace, "contact")

    @app.post("/bench/bare/contacts", include_in_schema=False)
    def bare(body: Any = Depends(json_body)) -> JSONResponse:
        # a plain `def`, like the real route: both are dispatched to the same thread pool
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object of field values")
        raw, issues = split_contact_aliases(body, None)
        values, more, _ = schema.clean(raw)
        issues += more
        if issues:
            raise ValidationFailed("invalid", object="contact", issues=issues)
        return JSONResponse({k: str(v) for k, v in values.items()}, status_code=201)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- client side ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the benchmark server exited; see its output above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the benchmark server did not start")


def load(port: int, path: str, token: str, duration: float) -> float:
    """Requests per second at CONCURRENCY keep-alive connections for ``duration`` seconds."""
    counter = itertools.count()
    done = [0] * CONCURRENCY
    failures: list[str] = []
    stop = time.monotonic() + duration
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            conn.request("POST", path, body=payload(next(counter)), headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 201:
                failures.append(f"{response.status}: {body[:300]!r}")
                return
            done[slot] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENCY)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    if failures:
        raise SystemExit(f"{path} failed: {failures[0]}")
    return sum(done) / elapsed


def measure(backend: str, duration: float) -> tuple[float, float]:
    with fresh_database(backend, "api") as url:
        env = {**os.environ, "PLUMB_DATABASE_URL": url, "PLUMB_WORKSPACE": "/nonexistent.yaml"}
        init = subprocess.run(
            [sys.executable, "-m", "plumb", "init", "--admin-email", "bench@example.com"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd="/tmp",
        )
        token = init.stdout.strip().splitlines()[-1]
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.api_create", "--serve", str(port)],
            env=env,
            cwd=ROOT,
        )
        try:
            wait_until_up(port, proc)
            load(port, "/bench/bare/contacts", token, 1.0)  # warm up both paths
            load(port, "/api/v1/contacts", token, 1.0)
            bare = load(port, "/bench/bare/contacts", token, duration)
            real = load(port, "/api/v1/contacts", token, duration)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return bare, real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    backends = args.backends.split(",")
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable; running SQLite only")
        backends = [b for b in backends if b != "postgresql"]
    rows = []
    for backend in backends:
        bare, real = measure(backend, args.duration)
        rows.append([backend, f"{bare:,.0f}", f"{real:,.0f}", f"{real / bare:.0%}"])
        print(f"  {backend}: bare {bare:,.0f} req/s, create {real:,.0f} req/s", flush=True)
    print_table(
        f"Single creates over HTTP, {CONCURRENCY} keep-alive clients on loopback, "
        f"{args.duration:g}s each (goal: create at least 50% of bare)",
        ["backend", "bare validate req/s", "POST /api/v1/contacts req/s", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
