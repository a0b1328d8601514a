"""Exponential backoff with jitter between delivery attempts."""

from __future__ import annotations

import random


def retry_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

    The wait doubles per attempt up to ``cap``; a random point in its upper half is taken so
    that messages which failed together (a receiver that was down) do not return together.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
