"""Passwords, web sessions, CSRF and sign-in throttling, through the API and the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plumb.api.app import create_app
from plumb.core.clock import FixedClock
from plumb.models import LoginAttempt, User
from plumb.runtime import Runtime
from tests.conftest import Cli, ok

PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser(rt: Runtime) -> Iterator[TestClient]:
    """A client without a token, over HTTPS (the session cookie is Secure)."""
    with TestClient(
        create_app(rt), base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def rep(cli: Cli) -> str:
    cli(
        "users",
        "add",
        "rita@example.com",
        "--name",
        "Rita Rep",
        "--role",
        "rep",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    return "rita@example.com"


def _login(browser: TestClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    return ok(browser.post("/api/v1/auth/login", json={"email": email, "password": password}))


def test_password_is_hashed_with_argon2id_and_never_stored_plain(rt: Runtime, rep: str) -> None:
    with rt.db.read_session() as session:
        stored = session.scalars(select(User.password_hash).where(User.email == rep)).one()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_weak_password_is_refused_naming_field_and_rule(cli: Cli) -> None:
    out = cli(
        "users",
        "add",
        "sam@example.com",
        "--name",
        "Sam",
        "--password-stdin",
        "--json",
        input="short\n",
        expect=1,
    )
    problem = out.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"] == "password"
    assert problem["errors"][0]["rule"] == "min_length"
    # nothing half-written: the user was not created either
    assert "sam@example.com" not in cli("users", "list", "--json").stdout


def test_session_cookie_flags_and_csrf_on_every_change(browser: TestClient, rep: str) -> None:
    response = browser.post("/api/v1/auth/login", json={"email": rep, "password": PASSWORD})
    body = ok(response)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie
    csrf = body["csrf_token"]
    assert ok(browser.get("/api/v1/me"))["label"] == rep

    # reads need no CSRF token; a change without one is refused and writes nothing
    refused = browser.post("/api/v1/contacts", json={"first_name": "Eve", "last_name": "Xu"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    wrong = browser.post(
        "/api/v1/contacts",
        json={"first_name": "Eve", "last_name": "Xu"},
        headers={"X-CSRF-Token": "not-the-token"},
    )
    assert wrong.status_code == 403
    assert ok(browser.get("/api/v1/contacts"))["data"] == []

    created = browser.post(
        "/api/v1/contacts",
        json={"first_name": "Eve", "last_name": "Xu"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok(created, 201)["owner_id"]
    assert ok(browser.get("/api/v1/auth/session"))["csrf_token"] == csrf

    ok(browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}))
    assert browser.get("/api/v1/me").status_code == 401


def test_a_stolen_cookie_stops_working_after_sign_out_and_password_change(
    browser: TestClient, rep: str, cli: Cli, rt: Runtime
) -> None:
    _login(browser, rep)
    secret = browser.cookies.get("plumb_session")
    assert secret
    cli("users", "set-password", rep, "--password-stdin", input="an entirely new passphrase\n")
    with TestClient(create_app(rt), base_url="https://testserver") as thief:
        thief.cookies.set("plumb_session", secret)
        assert thief.get("/api/v1/me").status_code == 401
    assert (
        browser.post("/api/v1/auth/login", json={"email": rep, "password": PASSWORD}).status_code
        == 401
    )
    _login(browser, rep, "an entirely new passphrase")


def test_sign_in_is_throttled_per_address_and_recovers(
    browser: TestClient, rep: str, rt: Runtime, clock: FixedClock
) -> None:
    for _ in range(5):
        bad = browser.post("/api/v1/auth/login", json={"email": rep, "password": "guess" * 3})
        assert bad.status_code == 401
        assert bad.json()["code"] == "not_authenticated"
    # now even the right password is refused, without being checked, until the window passes
    blocked = browser.post("/api/v1/auth/login", json={"email": rep, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "login_throttled"
    assert int(blocked.headers["retry-after"]) > 0
    with rt.db.read_session() as session:
        outcomes = session.scalars(
            select(LoginAttempt.outcome).where(LoginAttempt.email == rep)
        ).all()
    assert sorted(outcomes) == ["bad_password"] * 5 + ["throttled"]

    clock.advance(minutes=16)
    _login(browser, rep)


def test_unknown_and_deactivated_users_cannot_sign_in(
    browser: TestClient, rep: str, cli: Cli
) -> None:
    unknown = browser.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    # the message does not say which half was wrong
    assert (
        unknown.json()["detail"]
        == browser.post(
            "/api/v1/auth/login", json={"email": rep, "password": "wrong password!"}
        ).json()["detail"]
    )
    _login(browser, rep)
    cli("users", "deactivate", rep)
    assert browser.get("/api/v1/me").status_code == 401
    assert (
        browser.post("/api/v1/auth/login", json={"email": rep, "password": PASSWORD}).status_code
        == 401
    )
