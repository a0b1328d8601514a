"""An object's matching definition, compiled: its evidence fields with their comparators, and
its blocking rules as functions from a record's values to its keys."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from plumb.hygiene import standardize as std
from plumb.identity.comparators import (
    CACHE_SIZE,
    COMPARATORS,
    Comparator,
    as_text,
    email_local,
    metaphone,
    plain,
)
from plumb.workspace.matching import MatchField, ObjectMatching, parse_part
from plumb.workspace.schema import Workspace

MAX_KEY = 255


@dataclass(frozen=True)
class PlanField:
    spec: MatchField
    comparator: Comparator

    @property
    def name(self) -> str:
        return self.spec.field


@dataclass(frozen=True)
class BlockRule:
    text: str
    """The rule as written, e.g. ``last_name:phonetic+first_name:initial``."""
    parts: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Plan:
    object: str
    config: ObjectMatching
    fields: tuple[PlanField, ...]
    rules: tuple[BlockRule, ...]
    digest: str
    """Digest of the definition: stored weights are used only with the definition they fit."""

    @cached_property
    def level_names(self) -> tuple[tuple[str, ...], ...]:
        """Per evidence field, the names of its agreement levels by level number."""
        return tuple(f.comparator.level_names() for f in self.fields)

    def field_index(self, name: str) -> int:
        return next(i for i, f in enumerate(self.fields) if f.name == name)

    @cached_property
    def key_fields(self) -> tuple[str, ...]:
        """The fields the blocking rules read."""
        return tuple(sorted({name for rule in self.rules for name, _ in rule.parts}))

    def keys(self, values: dict[str, Any]) -> frozenset[str]:
        """A record's blocking keys (its values in JSON form). Memoized on the values of the
        fields the rules read: a write asks once before (the duplicate check) and once after
        (keeping ``match_keys``), and an import's workers compute them ahead (``remember``)."""
        memo_key = self._memo_key(values)
        found = _KEY_MEMO.get(memo_key)
        if found is None:
            found = _keys(self.rules, values)
            self._remember(memo_key, found)
        return found

    def compute_keys(self, values: dict[str, Any]) -> tuple[str, frozenset[str]]:
        """``keys`` without the memo, with the text the memo knows ``values`` by: for a process
        that sees each value once (an import's worker, whose results the importing process
        ``remember``s without reading the values again)."""
        return self._values_text(values), _keys(self.rules, values)

    def remember(self, values_text: str, keys: frozenset[str]) -> None:
        """Take ``keys`` as the blocking keys of the values ``values_text`` stands for, both
        given by ``compute_keys`` elsewhere (an import's worker process) from the same
        definition."""
        self._remember((self._rules_text, values_text), keys)

    @cached_property
    def _rules_text(self) -> str:
        return repr(self.rules)

    def _memo_key(self, values: dict[str, Any]) -> tuple[str, str]:
        return self._rules_text, self._values_text(values)

    def _values_text(self, values: dict[str, Any]) -> str:
        # repr tells apart what the key parts tell apart (True from 1, a list from its text);
        # two equal values written differently only cost a recomputation.
        return repr([values.get(n) for n in self.key_fields])

    @staticmethod
    def _remember(memo_key: tuple[str, str], keys: frozenset[str]) -> None:
        if len(_KEY_MEMO) >= CACHE_SIZE:
            _KEY_MEMO.clear()
        _KEY_MEMO[memo_key] = keys


_KEY_MEMO: dict[tuple[str, str], frozenset[str]] = {}


def _keys(rules: tuple[BlockRule, ...], values: dict[str, Any]) -> frozenset[str]:
    out: set[str] = set()
    # A part several rules share (a name's sound) is made once; a rule stops at its first
    # empty part (a blank postcode), before making the others.
    made: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        options: list[list[str]] = []
        for part in rule.parts:
            found = made.get(part)
            if found is None:
                found = made[part] = _key_parts(values.get(part[0]), part[1])
            if not found:
                break
            options.append(found)
        else:
            _add_keys(out, rule, options)
    return frozenset(out)


def _add_keys(out: set[str], rule: BlockRule, options: list[list[str]]) -> None:
    for combo in itertools.product(*options):
        key = f"{rule.text}={'|'.join(combo)}"
        if len(key) > MAX_KEY:
            key = f"{rule.text[:150]}#{hashlib.sha256(key.encode()).hexdigest()}"
        out.add(key)


def _key_parts(value: Any, transform: str) -> list[str]:
    out: list[str] = []
    for text in as_text(value)[:5]:
        part = _transform(text, transform)
        if part:
            out.append(part)
    return sorted(set(out))


@lru_cache(maxsize=CACHE_SIZE)
def _transform(text: str, transform: str) -> str:
    if transform == "value":
        return plain(text).replace(" ", "")
    if transform == "phonetic":
        return metaphone(plain(text).replace(" ", ""))
    if transform == "initial":
        return plain(text)[:1]
    if transform == "digits":
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits if len(digits) >= 4 else ""
    if transform == "local_part":
        local = text.rpartition("@")[0]
        return email_local(local) if len(local) >= 3 else ""
    if transform == "year":
        return text[:4] if text[:4].isdigit() else ""
    if transform == "name_key":
        return std.company_key(text)
    raise ValueError(f"unknown transform {transform!r}")


def plan_for(workspace: Workspace, obj: str) -> Plan | None:
    """The compiled matching of ``obj``; None when the workspace declares none."""
    config = workspace.matching.get(obj)
    if config is None:
        return None
    fields = tuple(PlanField(f, COMPARATORS[f.compare]) for f in config.fields)
    rules = tuple(
        BlockRule("+".join(parts), tuple(parse_part(p) for p in parts)) for parts in config.blocking
    )
    digest = hashlib.sha256(
        json.dumps(
            {"fields": [f.model_dump(mode="json") for f in config.fields]}, sort_keys=True
        ).encode()
    ).hexdigest()
    return Plan(obj, config, fields, rules, digest)
