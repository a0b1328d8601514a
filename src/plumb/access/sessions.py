"""Signing in with a password: throttled attempts, web sessions, CSRF tokens.

A session is a random secret in an HttpOnly cookie; the database keeps its SHA-256 only, so a
copy of the database does not let anyone sign in. Each session carries a CSRF token that pages
send back on every state-changing request (header ``X-CSRF-Token`` or form field
``csrf_token``); the cookie alone is never enough to change anything.

Throttling counts failed attempts in ``login_attempts`` (shared by every process): after
``login_max_failures`` failures for one address within the window, attempts for it are refused
without checking the password until the oldest failure leaves the window; one network address
gets four times that across accounts, against password spraying.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from plumb.access.passwords import hash_password, needs_rehash, verify_password
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.context import Ctx
from plumb.core.errors import NotAuthenticated, TooManyAttempts
from plumb.core.ids import new_id
from plumb.core.settings import Settings
from plumb.models import LoginAttempt, User, WebSession

COOKIE = "plumb_session"
TOUCH_RESOLUTION = timedelta(minutes=1)
ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class SignedIn:
    session: WebSession
    secret: str
    """The cookie value: shown to the browser once, never stored."""
    user: User


def cookie_options(settings: Settings) -> dict[str, Any]:
    """How the session cookie is set, wherever a sign-in answers (API and pages)."""
    return {
        "max_age": settings.session_hours * 3600,
        "httponly": True,
        "secure": settings.cookie_secure,
        "samesite": "lax",
        "path": "/",
    }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _record(ctx: Ctx, email: str, address: str | None, outcome: str) -> None:
    ctx.session.execute(
        insert(LoginAttempt).values(
            id=new_id(), at=ctx.now(), email=email, address=address, outcome=outcome
        )
    )


def _retry_after(ctx: Ctx, settings: Settings, email: str, address: str | None) -> int | None:
    """Seconds until another attempt is allowed, or None when it is allowed now."""
    now = ctx.now()
    since = now - timedelta(minutes=settings.login_window_minutes)
    failed = LoginAttempt.outcome.in_(("bad_password", "unknown_user", "inactive"))
    checks = [(LoginAttempt.email == email, settings.login_max_failures)]
    if address:
        checks.append(
            (LoginAttempt.address == address, settings.login_max_failures * ADDRESS_FACTOR)
        )
    waits = []
    for where, limit in checks:
        times = ctx.session.scalars(
            select(LoginAttempt.at)
            .where(where, failed, LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        ).all()
        if len(times) >= limit:
            oldest = times[-1]
            window = timedelta(minutes=settings.login_window_minutes)
            waits.append(max(1, int((oldest + window - now).total_seconds()) + 1))
    return max(waits) if waits else None


def sign_in(
    ctx: Ctx,
    settings: Settings,
    email: str,
    password: str,
    *,
    address: str | None = None,
    client: str | None = None,
) -> SignedIn:
    """Check the password and open a session; every attempt is recorded.

    The caller must commit even when this raises NotAuthenticated or TooManyAttempts, so the
    failed attempt counts (the API does).
    """
    email = email.strip().lower()
    wait = _retry_after(ctx, settings, email, address)
    if wait is not None:
        _record(ctx, email, address, "throttled")
        raise TooManyAttempts(
            f"too many failed sign-ins for {email}; try again in {wait} seconds",
            extra={"retry_after": wait},
        )
    user = ctx.session.scalars(select(User).where(func.lower(User.email) == email)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        _record(ctx, email, address, "unknown_user" if user is None else "bad_password")
        raise NotAuthenticated("the e-mail address or the password is wrong")
    if not user.active:
        _record(ctx, email, address, "inactive")
        raise NotAuthenticated("this user is deactivated")
    _record(ctx, email, address, "ok")
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        ctx.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=hash_password(password))
            .execution_options(synchronize_session=False)
        )
    now = ctx.now()
    secret = secrets.token_urlsafe(32)
    session_id = new_id()
    ctx.session.execute(
        insert(WebSession).values(
            id=session_id,
            user_id=user.id,
            secret_hash=_digest(secret),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
            client=(client or "")[:300] or None,
        )
    )
    return SignedIn(ctx.session.get_one(WebSession, session_id), secret, user)


def session_actor(ctx: Ctx, secret: str, *, source: Source = Source.UI) -> tuple[Actor, WebSession]:
    """The actor of a session cookie, or NotAuthenticated (unknown, expired, signed out)."""
    row = ctx.session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.secret_hash == _digest(secret))
    ).first()
    now = ctx.now()
    if row is None:
        raise NotAuthenticated("the session is not valid; sign in again")
    web, user = row.WebSession, row.User
    if web.revoked_at is not None:
        raise NotAuthenticated("the session was signed out; sign in again")
    if web.expires_at <= now:
        raise NotAuthenticated("the session has expired; sign in again")
    if not user.active:
        raise NotAuthenticated("this user is deactivated")
    if now - web.last_seen_at > TOUCH_RESOLUTION:
        ctx.session.execute(
            update(WebSession).where(WebSession.id == web.id).values(last_seen_at=now)
        )
    actor = Actor(
        kind=ActorKind.USER,
        source=source,
        label=user.email,
        id=user.id,
        user_id=user.id,
        role=user.role,
    )
    return actor, web


def check_csrf(web: WebSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(web.csrf_token, presented or "")


def sign_out(ctx: Ctx, web: WebSession) -> None:
    ctx.session.execute(
        update(WebSession)
        .where(WebSession.id == web.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=ctx.now())
    )


def revoke_sessions(ctx: Ctx, user_id: str, *, keep: str | None = None) -> int:
    """Sign a user out everywhere (but ``keep``); returns how many sessions ended."""
    stmt = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep:
        stmt = stmt.where(WebSession.id != keep)
    result = ctx.session.execute(stmt.values(revoked_at=ctx.now()))
    return int(result.rowcount)  # type: ignore[attr-defined]
