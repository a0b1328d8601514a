"""Synthetic contacts and companies with known duplicates, for testing and measuring dedupe.

Each generated *person* (or company) gets one record; a share of them get one to three more,
each corrupted the way real duplicates are: typos, first and last name swapped, nicknames
(``Bob`` for ``Robert``), blank fields, phones typed in other formats, e-mail addresses with other
case, dots or domain, company name variants, dates of birth with day and month swapped or a
digit off, street words abbreviated. The ground truth (which records are the same) comes back
alongside. The same seed gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from faker import Faker

from plumb.identity.comparators import STREET_WORDS
from plumb.identity.nicknames import VARIANTS

AREA_CODES = ("212", "312", "415", "617", "206", "303", "512", "646", "702", "305", "404", "718")
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
SUFFIXES = ("Inc.", "Inc", "LLC", "Corp.", "Corporation", "Ltd", "Co.")
ABBREVIATIONS = {long: short for long, short in STREET_WORDS.items() if len(long) > 3}


@dataclass
class Synthetic:
    items: list[dict[str, Any]]
    """Field values, ready for ``operations.create_many``."""
    entity: list[int]
    """Per item, the person or company it stands for: equal numbers are duplicates."""

    @property
    def clusters(self) -> list[list[int]]:
        """Groups of item indexes that are the same (only groups of two or more)."""
        groups: dict[int, list[int]] = {}
        for i, e in enumerate(self.entity):
            groups.setdefault(e, []).append(i)
        return [g for g in groups.values() if len(g) > 1]

    def true_pairs(self) -> set[tuple[int, int]]:
        return {(a, b) for g in self.clusters for i, a in enumerate(g) for b in g[i + 1 :]}


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop one
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeiourstln") + word[i + 1 :]  # substitute


def _phone(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}{rng.randint(0, 9999):04d}"


def _phone_as_typed(rng: random.Random, e164: str) -> str:
    area, mid, end = e164[2:5], e164[5:8], e164[8:]
    return rng.choice(
        (
            e164,
            f"({area}) {mid}-{end}",
            f"{area}.{mid}.{end}",
            f"+1 {area} {mid} {end}",
            f"1-{area}-{mid}-{end}",
        )
    )


def _street(fake: Faker) -> str:
    return f"{fake.building_number()} {fake.street_name()} {fake.random_element(('Street', 'Avenue', 'Road', 'Drive', 'Lane', 'Boulevard'))}"


def _abbreviate(street: str) -> str:
    return " ".join(ABBREVIATIONS.get(w.lower(), w) for w in street.split())


def _dob_variant(rng: random.Random, dob: date) -> str:
    roll = rng.random()
    if roll < 0.4 and dob.day <= 12 and dob.day != dob.month:
        return date(dob.year, dob.day, dob.month).isoformat()
    text = dob.isoformat()
    digits = [i for i, ch in enumerate(text) if ch.isdigit() and i >= 5]
    for _ in range(10):
        i = rng.choice(digits)
        candidate = text[:i] + str(rng.randint(0, 9)) + text[i + 1 :]
        try:
            date.fromisoformat(candidate)
        except ValueError:
            continue
        if candidate != text:
            return candidate
    return text


def synthetic_contacts(
    n: int, *, seed: int = 0, duplicate_share: float = 0.25, dob_field: str | None = None
) -> Synthetic:
    """About ``n`` contacts; ``duplicate_share`` of the people have more than one record.
    With ``dob_field``, each contact gets a date of birth in that (custom) field."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    items: list[dict[str, Any]] = []
    entity: list[int] = []
    person = 0
    while len(items) < n:
        first, last = fake.first_name(), fake.last_name()
        domain = rng.choice(FREE_MAIL) if rng.random() < 0.5 else fake.domain_name()
        local = rng.choice(
            (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(1, 99)}")
        ).lower()
        base: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "email": f"{local}@{domain}",
            "phone": _phone(rng) if rng.random() < 0.8 else None,
            "street": _street(fake) if rng.random() < 0.7 else None,
            "city": fake.city(),
            "postal_code": fake.postcode(),
            "job_title": fake.job()[:100] if rng.random() < 0.5 else None,
        }
        dob = fake.date_of_birth(minimum_age=18, maximum_age=80) if dob_field else None
        if dob_field:
            base[dob_field] = dob.isoformat() if dob else None
        items.append(dict(base))
        entity.append(person)
        copies = 0
        if rng.random() < duplicate_share:
            copies = rng.choice((1, 1, 1, 2, 2, 3))
        for _ in range(copies):
            if len(items) >= n:
                break
            items.append(_corrupt(rng, base, dob, dob_field))
            entity.append(person)
        person += 1
    return Synthetic(items, entity)


def _corrupt(
    rng: random.Random, base: dict[str, Any], dob: date | None, dob_field: str | None
) -> dict[str, Any]:
    item = dict(base)
    first, last = item["first_name"], item["last_name"]
    formal = first.lower()
    if rng.random() < 0.15 and formal in VARIANTS:
        first = rng.choice(VARIANTS[formal]).capitalize()
    if rng.random() < 0.25:
        if rng.random() < 0.5:
            first = _typo(rng, first)
        else:
            last = _typo(rng, last)
    if rng.random() < 0.05:
        first, last = last, first
    item["first_name"], item["last_name"] = first, last
    if rng.random() < 0.1:
        item["first_name"], item["last_name"] = None, None
        item["name"] = f"{last}, {first}" if rng.random() < 0.5 else f"{first} {last}".upper()
    email = item["email"]
    roll = rng.random()
    if roll < 0.2:
        item["email"] = None
    elif roll < 0.35:
        item["email"] = email.upper()
    elif roll < 0.45:
        local, _, domain = email.partition("@")
        item["email"] = f"{local.replace('.', '')}@{domain}"
    elif roll < 0.55:
        local, _, _ = email.partition("@")
        item["email"] = f"{local}@{rng.choice(FREE_MAIL)}"
    if item["phone"]:
        item["phone"] = None if rng.random() < 0.3 else _phone_as_typed(rng, item["phone"])
    if item["street"]:
        roll = rng.random()
        if roll < 0.2:
            item["street"] = None
        elif roll < 0.6:
            item["street"] = _abbreviate(item["street"])
    if rng.random() < 0.15:
        item["city"] = None
    if rng.random() < 0.1:
        item["postal_code"] = None
    elif rng.random() < 0.05:
        code = item["postal_code"]
        i = rng.randrange(len(code))
        item["postal_code"] = code[:i] + str(rng.randint(0, 9)) + code[i + 1 :]
    if dob_field and dob is not None:
        roll = rng.random()
        if roll < 0.15:
            item[dob_field] = _dob_variant(rng, dob)
        elif roll < 0.3:
            item[dob_field] = None
    if rng.random() < 0.5:
        item["job_title"] = None
    return item


def synthetic_companies(n: int, *, seed: int = 0, duplicate_share: float = 0.25) -> Synthetic:
    """About ``n`` companies with name variants (legal suffixes, case, typos, "The"),
    missing domains and phones, abbreviated streets."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    items: list[dict[str, Any]] = []
    entity: list[int] = []
    company = 0
    while len(items) < n:
        name = f"{fake.last_name()} {rng.choice(('Labs', 'Systems', 'Group', 'Partners', 'Foods', 'Logistics', 'Health', 'Energy'))}"
        base: dict[str, Any] = {
            "name": f"{name} {rng.choice(SUFFIXES)}",
            "domain": f"{name.split()[0].lower()}{name.split()[1].lower()}.com",
            "phone": _phone(rng) if rng.random() < 0.7 else None,
            "street": _street(fake),
            "city": fake.city(),
            "postal_code": fake.postcode(),
        }
        items.append(dict(base))
        entity.append(company)
        copies = 1 if rng.random() < duplicate_share else 0
        for _ in range(copies):
            if len(items) >= n:
                break
            item = dict(base)
            roll = rng.random()
            if roll < 0.3:
                item["name"] = name.upper()
            elif roll < 0.5:
                item["name"] = f"The {name}, {rng.choice(SUFFIXES)}"
            elif roll < 0.7:
                item["name"] = _typo(rng, name)
            if rng.random() < 0.4:
                item["domain"] = None
            if item["phone"] and rng.random() < 0.5:
                item["phone"] = _phone_as_typed(rng, item["phone"])
            if rng.random() < 0.5:
                item["street"] = _abbreviate(item["street"])
            items.append(item)
            entity.append(company)
        company += 1
    return Synthetic(items, entity)
