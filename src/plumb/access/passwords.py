"""Passwords: Argon2id hashes (argon2-cffi), a minimum policy, and rehash on parameter change.

Plumb never ships a default password: the first admin sets one (`plumb users add --admin
--password`) or signs in with API tokens only.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from plumb.core.errors import FieldIssue, ValidationFailed

# RFC 9106's second recommended option (memory-constrained): t=3, m=64 MiB, p=4.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
MIN_LENGTH = 12
MAX_LENGTH = 1024

# Verifying against this when no user matches keeps the time of a failed login the same
# whether or not the e-mail address exists.
_DUMMY_HASH = _HASHER.hash("plumb: no such user, constant-time filler")


def check_policy(password: str, *, email: str | None = None) -> None:
    """Refuse a password too short, too long, or equal to the account's e-mail address."""
    problem = None
    if len(password) < MIN_LENGTH:
        problem = ("min_length", f"a password needs at least {MIN_LENGTH} characters")
    elif len(password) > MAX_LENGTH:
        problem = ("max_length", f"a password may have at most {MAX_LENGTH} characters")
    elif email and password.strip().lower() == email.strip().lower():
        problem = ("not_email", "the password may not be the account's e-mail address")
    if problem:
        raise ValidationFailed(
            "the password was refused",
            object="user",
            issues=[FieldIssue("password", problem[0], problem[1])],
        )


def hash_password(password: str, *, email: str | None = None) -> str:
    check_policy(password, email=email)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; a missing hash never matches."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
