"""Comparators: how well two values of a field agree, as one of a few discrete levels.

A comparator works in two steps so that millions of pairs cost little:

- ``prepare`` turns one stored value (its JSON form) into a few *channels* per value (the
  normalized text, a phonetic code, a nickname's formal name, ...), once per record;
- ``compare`` takes the channels of many pairs as aligned numpy arrays and returns each pair's
  level, vectorised (rapidfuzz's ``cpdist`` for string similarity, numpy for the rest).

Levels run from the best agreement to ``disagree``; ``missing`` (a blank on either side) comes
after them and never carries weight. Each comparator also has default m and u probabilities per
level (how often duplicates, and different records, agree that well), used until the workspace
has estimated its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import jellyfish
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from plumb.hygiene import standardize as std
from plumb.identity.nicknames import canonical

Channels = tuple[str, ...]
CACHE_SIZE = 20_000
"""Entries per memo of the matching code: values that come back (names, cities, streets) stay
warm, one-off values (e-mail addresses) pass through, and a long import's memory levels off."""
Arrays = list[np.ndarray]
MISSING = "missing"


@dataclass(frozen=True)
class Comparator:
    name: str
    levels: tuple[str, ...]
    """Agreement levels, best first; the last is ``disagree``. ``missing`` follows them."""
    m: tuple[float, ...]
    u: tuple[float, ...]
    prepare: Callable[[str], Channels | None]
    """One value (as text) -> its channels; None when it has nothing to compare."""
    compare: Callable[[Arrays, Arrays, float | None], np.ndarray]
    """Channels of N pairs (one array per channel, each of length N) -> N level indices."""

    @property
    def disagree(self) -> int:
        return len(self.levels) - 1

    @property
    def missing(self) -> int:
        return len(self.levels)

    def level_names(self) -> tuple[str, ...]:
        return (*self.levels, MISSING)


def _jw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1))


def _lev(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(cpdist(a, b, scorer=Levenshtein.distance, workers=1))


def _pick(n: int, worst: int, *conditions: tuple[int, np.ndarray]) -> np.ndarray:
    """Level per pair: the first (best) condition that holds, else ``worst``."""
    out = np.full(n, worst, dtype=np.int8)
    for level, cond in reversed(conditions):
        out[cond] = level
    return out


# -- prepare helpers --------------------------------------------------------------------------


@lru_cache(maxsize=CACHE_SIZE)
def plain(value: str) -> str:
    """Case, accents and punctuation removed, single-spaced."""
    return std.match_key(value)


@lru_cache(maxsize=CACHE_SIZE)
def metaphone(value: str) -> str:
    return jellyfish.metaphone(value) if value else ""


@lru_cache(maxsize=CACHE_SIZE)
def nysiis(value: str) -> str:
    return jellyfish.nysiis(value) if value else ""


def _exact(value: str) -> Channels | None:
    v = value.strip()
    return (v,) if v else None


def _normalized(value: str) -> Channels | None:
    v = plain(value).replace(" ", "")
    return (v,) if v else None


@lru_cache(maxsize=CACHE_SIZE)
def _name(value: str) -> Channels | None:
    v = plain(value)
    if not v:
        return None
    first = v.split(" ", 1)[0]
    return (v, canonical(first), metaphone(v.replace(" ", "")))


def _phonetic(value: str) -> Channels | None:
    v = plain(value)
    if not v:
        return None
    squashed = v.replace(" ", "")
    return (v, metaphone(squashed), nysiis(squashed))


def _date(value: str) -> Channels | None:
    digits = re.sub(r"\D", "", value.strip()[:10])
    return (digits,) if len(digits) == 8 else None


def _number(value: str) -> Channels | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return (str(number.normalize()),)


def _postcode(value: str) -> Channels | None:
    v = re.sub(r"[^0-9A-Z]", "", value.upper())
    return (v,) if v else None


STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "suite": "ste",
    "apartment": "apt",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}
"""Spelled-out street words and their usual abbreviations (US postal style)."""


@lru_cache(maxsize=CACHE_SIZE)
def street_key(value: str) -> str:
    return " ".join(STREET_WORDS.get(t, t) for t in plain(value).split())


def _address(value: str) -> Channels | None:
    v = street_key(value)
    if not v:
        return None
    number = next((t for t in v.split() if t.isdigit()), "")
    return (v, number)


def _email(value: str) -> Channels | None:
    v = value.strip().lower()
    if "@" not in v:
        return None
    local, _, domain = v.rpartition("@")
    mailbox = email_local(local)
    return (v, mailbox, domain, "".join(c for c in mailbox if c.isdigit()))


def email_local(local: str) -> str:
    """The mailbox without dots and ``+tags``: ``Ada.Lovelace+crm`` -> ``adalovelace``."""
    return local.split("+", 1)[0].replace(".", "").lower()


def _phone(value: str) -> Channels | None:
    digits = re.sub(r"\D", "", value)
    return (digits, digits[-7:]) if len(digits) >= 5 else None


def _company(value: str) -> Channels | None:
    v = std.company_key(value)
    return (v,) if v else None


# -- compare ----------------------------------------------------------------------------------


def _cmp_exact(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    return _pick(len(a[0]), 1, (0, a[0] == b[0]))


def _cmp_name(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    sim = _jw(a[0], b[0])
    return _pick(
        len(a[0]),
        4,
        (0, a[0] == b[0]),
        (1, (a[1] == b[1]) | (sim >= 0.92)),
        (2, (a[2] == b[2]) & (sim >= 0.6)),
    )


def _cmp_phonetic(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    return _pick(len(a[0]), 2, (0, a[0] == b[0]), (1, (a[1] == b[1]) | (a[2] == b[2])))


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    return x.astype(f"U{width}").view(np.uint32).reshape(-1, width)


def _cmp_date(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    da, db = _digits(a[0], 8), _digits(b[0], 8)
    same_year = (da[:, :4] == db[:, :4]).all(axis=1)
    swapped = (da[:, 4:6] == db[:, 6:8]).all(axis=1) & (da[:, 6:8] == db[:, 4:6]).all(axis=1)
    one_digit = (da != db).sum(axis=1) == 1
    return _pick(len(a[0]), 3, (0, a[0] == b[0]), (1, same_year & swapped), (2, one_digit))


def _cmp_number(a: Arrays, b: Arrays, tolerance: float | None) -> np.ndarray:
    x, y = a[0].astype(float), b[0].astype(float)
    close = np.abs(x - y) <= (tolerance if tolerance is not None else 0.0)
    return _pick(len(x), 2, (0, x == y), (1, close))


def _cmp_postcode(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    district = (a[0].astype("U3") == b[0].astype("U3")) & (np.char.str_len(a[0].astype(str)) >= 4)
    return _pick(len(a[0]), 2, (0, a[0] == b[0]), (1, (_lev(a[0], b[0]) <= 1) | district))


def _cmp_address(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    tokens = np.asarray(cpdist(a[0], b[0], scorer=fuzz.token_set_ratio, workers=1))
    numbers_agree = (a[1] == b[1]) | (a[1] == "") | (b[1] == "")
    return _pick(len(a[0]), 2, (0, a[0] == b[0]), (1, numbers_agree & (tokens >= 85)))


def _cmp_email(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    """``close`` is a typo of the same mailbox at the same domain. Mailboxes that differ in
    their numbers (``ann.lee2`` next to ``ann.lee``) are told apart on purpose by whoever hands
    them out, so they disagree however alike they look."""
    sim = _jw(a[1], b[1])
    return _pick(
        len(a[0]),
        3,
        (0, a[0] == b[0]),
        (1, a[1] == b[1]),
        (2, (sim >= 0.93) & (a[2] == b[2]) & (a[3] == b[3])),
    )


def _cmp_phone(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    same_len = np.char.str_len(a[0].astype(str)) == np.char.str_len(b[0].astype(str))
    typo = same_len & (_lev(a[0], b[0]) <= 1)
    return _pick(len(a[0]), 2, (0, a[0] == b[0]), (1, (a[1] == b[1]) | typo))


def _cmp_company(a: Arrays, b: Arrays, _opt: float | None) -> np.ndarray:
    sim = _jw(a[0], b[0])
    tokens = np.asarray(cpdist(a[0], b[0], scorer=fuzz.token_set_ratio, workers=1))
    return _pick(len(a[0]), 2, (0, a[0] == b[0]), (1, (sim >= 0.93) | (tokens >= 90)))


COMPARATORS: dict[str, Comparator] = {
    c.name: c
    for c in (
        Comparator("exact", ("exact", "disagree"), (0.9, 0.1), (0.05, 0.95), _exact, _cmp_exact),
        Comparator(
            "normalized", ("exact", "disagree"), (0.9, 0.1), (0.1, 0.9), _normalized, _cmp_exact
        ),
        Comparator(
            "name",
            ("exact", "close", "phonetic", "swapped", "disagree"),
            (0.84, 0.07, 0.03, 0.02, 0.04),
            (0.01, 0.005, 0.01, 0.0005, 0.9745),
            _name,
            _cmp_name,
        ),
        Comparator(
            "phonetic",
            ("exact", "phonetic", "disagree"),
            (0.85, 0.1, 0.05),
            (0.02, 0.03, 0.95),
            _phonetic,
            _cmp_phonetic,
        ),
        Comparator(
            "date",
            ("exact", "transposed", "typo", "disagree"),
            (0.88, 0.03, 0.05, 0.04),
            (0.0005, 0.00002, 0.004, 0.99548),
            _date,
            _cmp_date,
        ),
        Comparator(
            "number",
            ("exact", "close", "disagree"),
            (0.85, 0.1, 0.05),
            (0.01, 0.04, 0.95),
            _number,
            _cmp_number,
        ),
        Comparator(
            "postcode",
            ("exact", "close", "disagree"),
            (0.85, 0.1, 0.05),
            (0.01, 0.05, 0.94),
            _postcode,
            _cmp_postcode,
        ),
        Comparator(
            "address",
            ("exact", "close", "disagree"),
            (0.75, 0.15, 0.1),
            (0.001, 0.004, 0.995),
            _address,
            _cmp_address,
        ),
        Comparator(
            "email",
            ("exact", "mailbox", "close", "disagree"),
            (0.86, 0.07, 0.04, 0.03),
            (0.0001, 0.0005, 0.0005, 0.9989),
            _email,
            _cmp_email,
        ),
        Comparator(
            "phone",
            ("exact", "close", "disagree"),
            (0.9, 0.07, 0.03),
            (0.0001, 0.0005, 0.9994),
            _phone,
            _cmp_phone,
        ),
        Comparator(
            "company",
            ("exact", "close", "disagree"),
            (0.85, 0.1, 0.05),
            (0.001, 0.004, 0.995),
            _company,
            _cmp_company,
        ),
    )
}


def as_text(value: Any) -> list[str]:
    """A stored JSON value as the texts a comparator reads (lists give one text per item)."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list):
        return [t for v in value for t in as_text(v)]
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, datetime | date):
        return [value.isoformat()]
    if isinstance(value, dict):
        return [str(value.get("id") or value.get("email") or "")]
    return [str(value)]


def compare_values(comparator: str, left: Any, right: Any, option: float | None = None) -> str:
    """The level of two stored values (the best over their items): for tests and one-off use."""
    cmp = COMPARATORS[comparator]
    a = [c for c in (cmp.prepare(t) for t in as_text(left)) if c is not None]
    b = [c for c in (cmp.prepare(t) for t in as_text(right)) if c is not None]
    if not a or not b:
        return MISSING
    pairs = [(x, y) for x in a for y in b]
    width = len(pairs[0][0])
    arr_a = [np.array([p[0][c] for p in pairs], dtype=object) for c in range(width)]
    arr_b = [np.array([p[1][c] for p in pairs], dtype=object) for c in range(width)]
    return cmp.levels[int(cmp.compare(arr_a, arr_b, option).min())]
