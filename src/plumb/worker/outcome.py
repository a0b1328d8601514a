"""What one delivery attempt came to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True)
class Retry:
    """A failure that may pass (a timeout, a 503, a refused connection): tried again later."""

    error: str


@dataclass(frozen=True)
class Refused:
    """A failure no retry can fix (a destination the workspace does not allow, a malformed
    message): the message goes dead at once, with this reason, and nothing is sent."""

    error: str


Outcome = Delivered | Retry | Refused
