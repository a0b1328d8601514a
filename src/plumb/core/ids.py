"""Record ids: 26-character, time-ordered, Crockford base32 (the ULID layout).

Time ordering keeps B-tree inserts local; the random tail makes ids unguessable enough that
an id is never a permission (visibility is still checked on every read).
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOKUP = {c: i for i, c in enumerate(_ALPHABET)}


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(at_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    rand = int.from_bytes(os.urandom(10), "big")
    return _encode(ms, 10) + _encode(rand, 16)


def new_ids(count: int) -> list[str]:
    """Many ids at once, sharing one clock read and one call for randomness."""
    prefix = _encode(int(time.time() * 1000), 10)
    blob = os.urandom(10 * count)
    return [
        prefix + _encode(int.from_bytes(blob[i * 10 : i * 10 + 10], "big"), 16)
        for i in range(count)
    ]


def looks_like_id(value: str) -> bool:
    return len(value) == 26 and all(c in _LOOKUP for c in value.upper())
