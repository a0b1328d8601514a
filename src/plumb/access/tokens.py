"""API tokens: bound to a user, scoped, shown once, stored as a SHA-256 hash, revocable.

A token is ``plumb_<26-char id>_<43-char secret>``; the id finds the row, the hash of the whole
token must match. Tokens carry 256 bits of randomness, so a fast hash is the right tool (a
password hash would only slow down every API request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from plumb.access import authz
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.context import Ctx
from plumb.core.errors import FieldIssue, NotAuthenticated, NotFound, ValidationFailed
from plumb.core.ids import new_id
from plumb.history import chain
from plumb.models import ApiToken, User
from plumb.workspace.standard import OBJECTS

LAST_USED_RESOLUTION = timedelta(minutes=1)


def valid_scopes() -> set[str]:
    base = {"read", "write", "admin"}
    return base | {f"{s}:{o}" for s in ("read", "write") for o in OBJECTS}


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str
    """The full token. Shown once; only its hash is kept."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(ctx: Ctx, user: User, name: str, scopes: list[str]) -> IssuedToken:
    """A new API token of ``user`` (its rights: the user's role, narrowed by ``scopes``). Users
    issue their own; only an administrator issues one for somebody else."""
    if ctx.actor.user_id != user.id:
        authz.require_admin(ctx, "issue a token for another user")
    scopes = sorted(set(scopes or ["read", "write"]))
    bad = [s for s in scopes if s not in valid_scopes()]
    if bad:
        raise ValidationFailed(
            "unknown scopes",
            object="token",
            issues=[FieldIssue("scopes", "scope", f"{s!r} is not a scope") for s in bad],
        )
    token_id = new_id()
    secret = f"plumb_{token_id}_{secrets.token_urlsafe(32)}"
    ctx.session.execute(
        insert(ApiToken).values(
            id=token_id,
            user_id=user.id,
            name=name.strip() or "token",
            secret_hash=_digest(secret),
            scopes=scopes,
            created_at=ctx.now(),
        )
    )
    chain.append(
        ctx,
        [
            chain.Entry(
                "token",
                token_id,
                "create",
                {"user_id": [None, user.id], "name": [None, name], "scopes": [None, scopes]},
            )
        ],
    )
    return IssuedToken(ctx.session.get_one(ApiToken, token_id), secret)


def revoke_token(ctx: Ctx, token_id: str) -> ApiToken:
    token = ctx.session.get(ApiToken, token_id.strip().upper())
    if token is None:
        raise NotFound(f"no token {token_id}", object="token", record_id=token_id)
    if ctx.actor.user_id != token.user_id:
        authz.require_admin(ctx, "revoke another user's token")
    if token.revoked_at is None:
        now = ctx.now()
        ctx.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(revoked_at=now))
        chain.append(
            ctx, [chain.Entry("token", token.id, "revoke", {"revoked_at": [None, now.isoformat()]})]
        )
        ctx.session.expire(token)
    return ctx.session.get_one(ApiToken, token.id)


def list_tokens(ctx: Ctx, user: User | None = None) -> list[ApiToken]:
    stmt = select(ApiToken).order_by(ApiToken.created_at)
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    return list(ctx.session.scalars(stmt))


def authenticate(
    session_ctx: Ctx, secret: str, now: datetime, source: Source = Source.API
) -> Actor:
    """The actor for a presented token, or NotAuthenticated (unknown, revoked, expired, inactive)."""
    parts = secret.split("_", 2)  # the random part may itself hold underscores
    if len(parts) != 3 or parts[0] != "plumb" or not parts[2]:
        raise NotAuthenticated("the token is malformed")
    session = session_ctx.session
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id == parts[1])
    ).first()
    if row is None or not hmac.compare_digest(row.ApiToken.secret_hash, _digest(secret)):
        raise NotAuthenticated("the token is not valid")
    token, user = row.ApiToken, row.User
    if token.revoked_at is not None:
        raise NotAuthenticated("the token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated("the token has expired")
    if not user.active:
        raise NotAuthenticated("the token's user is deactivated")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return Actor(
        kind=ActorKind.TOKEN,
        source=source,
        label=f"{user.email} (token {token.name})",
        id=token.id,
        user_id=user.id,
        role=user.role,
        scopes=frozenset(token.scopes),
    )
