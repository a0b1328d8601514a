"""The ``matching:`` section of the workspace definition: how duplicates are recognised.

Per object: which fields are evidence and how each pair of values is compared (the comparator,
each yielding a few discrete agreement levels), the blocking keys that pick candidate pairs, the
score thresholds, and what happens when a write looks like a duplicate (per source: ``block``,
``flag``, ``merge`` or ``off``). Cross-references (a field that does not exist, a comparator that
does not fit the field's type) are checked in ``matching_problems`` with the path of the node,
which the loader turns into a line number.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plumb.workspace.standard import OBJECTS, STANDARD_FIELDS, FieldType

Comparator = Literal[
    "exact",
    "normalized",
    "name",
    "phonetic",
    "date",
    "number",
    "postcode",
    "address",
    "email",
    "phone",
    "company",
]
EntryPolicy = Literal["block", "flag", "merge", "off"]
SourceKey = Literal[
    "default", "ui", "api", "cli", "import", "rule", "integration", "email", "agent", "system"
]
"""The doors a write comes through (``plumb.core.actor.Source``), plus ``default``."""

TRANSFORMS = ("value", "phonetic", "initial", "digits", "local_part", "year", "name_key")
"""How a blocking key part is derived from a field value (``field:transform``)."""

TEXTUAL = frozenset(
    {FieldType.TEXT, FieldType.LONGTEXT, FieldType.PICKLIST, FieldType.CHOICE, FieldType.STAGE}
)
FITS: dict[str, frozenset[FieldType] | None] = {
    "exact": None,
    "normalized": None,
    "name": TEXTUAL,
    "phonetic": TEXTUAL,
    "date": frozenset({FieldType.DATE, FieldType.DATETIME, FieldType.TEXT}),
    "number": frozenset({FieldType.NUMBER, FieldType.MONEY, FieldType.TEXT}),
    "postcode": TEXTUAL,
    "address": TEXTUAL,
    "email": frozenset({FieldType.EMAIL, FieldType.TEXT}),
    "phone": frozenset({FieldType.PHONE, FieldType.TEXT}),
    "company": TEXTUAL,
}
"""Field types each comparator can read (None: any)."""


def _flag_by_default() -> dict[SourceKey, EntryPolicy]:
    return {"default": "flag"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchField(_Strict):
    """One field used as evidence."""

    field: str
    compare: Comparator
    swap_with: str | None = Field(
        None,
        description="name comparator: another name field whose value may have been entered "
        "here (first and last name swapped).",
    )
    tolerance: float | None = Field(
        None, ge=0, description="number comparator: the largest difference still 'close'."
    )


class ObjectMatching(_Strict):
    """How duplicates of one object are recognised and handled."""

    fields: list[MatchField] = Field(min_length=1)
    blocking: list[list[str]] = Field(
        default_factory=list,
        description="Candidate pairs share at least one key; each key is a list of "
        "`field` or `field:transform` parts.",
    )
    threshold: float = Field(
        10.0, description="Score (sum of log2 weights) from which a pair is a likely duplicate."
    )
    merge_threshold: float = Field(
        20.0, description="Score from which the `merge` entry policy merges instead of flagging."
    )
    on_entry: dict[SourceKey, EntryPolicy] = Field(
        default_factory=_flag_by_default,
        description="Per source of the write: block, flag, merge or off; `default` for the rest.",
    )
    max_block: int = Field(
        200,
        ge=2,
        description="Blocking keys shared by more records than this are too common to pair on; "
        "the batch scan reports how many it skipped.",
    )

    def policy(self, source: str) -> EntryPolicy:
        for key, value in self.on_entry.items():
            if key == source:
                return value
        return self.on_entry.get("default", "flag")


Matching = dict[str, ObjectMatching]

Path = tuple[str | int, ...]


def parse_part(part: str) -> tuple[str, str]:
    """``field`` or ``field:transform`` -> (field, transform)."""
    name, _, transform = part.partition(":")
    return name.strip(), (transform.strip() or "value")


def matching_problems(
    matching: Matching, custom_types: dict[str, dict[str, FieldType]]
) -> list[tuple[Path, str]]:
    """Unknown objects and fields, comparators that do not fit the field, bad blocking keys.

    ``custom_types`` maps object -> custom field name -> type (from ``objects:``)."""
    found: list[tuple[Path, str]] = []
    for obj, spec in matching.items():
        base: Path = ("matching", obj)
        if obj not in OBJECTS:
            found.append((base, f"unknown object {obj!r}; objects are {', '.join(OBJECTS)}"))
            continue
        types = {f.name: f.type for f in STANDARD_FIELDS[obj]} | custom_types.get(obj, {})
        names = [m.field for m in spec.fields]
        for i, mf in enumerate(spec.fields):
            path = (*base, "fields", i)
            if mf.field not in types:
                found.append(((*path, "field"), f"{obj} has no field {mf.field!r}"))
                continue
            if names.count(mf.field) > 1 and names.index(mf.field) != i:
                found.append(((*path, "field"), f"field {mf.field!r} is listed twice"))
            fits = FITS[mf.compare]
            if fits is not None and types[mf.field] not in fits:
                found.append(
                    (
                        (*path, "compare"),
                        f"comparator {mf.compare!r} cannot read {mf.field!r} "
                        f"(a {types[mf.field].value} field)",
                    )
                )
            if mf.swap_with is not None:
                if mf.compare != "name":
                    found.append(((*path, "swap_with"), "swap_with goes with compare: name"))
                elif mf.swap_with not in names:
                    found.append(
                        (
                            (*path, "swap_with"),
                            f"swap_with names {mf.swap_with!r}, which is not a matching field",
                        )
                    )
            if mf.tolerance is not None and mf.compare != "number":
                found.append(((*path, "tolerance"), "tolerance goes with compare: number"))
        for i, key in enumerate(spec.blocking):
            if not key:
                found.append(((*base, "blocking", i), "a blocking key needs at least one part"))
            for j, part in enumerate(key):
                name, transform = parse_part(part)
                where: Path = (*base, "blocking", i, j)
                if name not in types:
                    found.append((where, f"{obj} has no field {name!r}"))
                elif transform not in TRANSFORMS:
                    found.append(
                        (where, f"unknown transform {transform!r}; use one of {TRANSFORMS}")
                    )
        if spec.merge_threshold < spec.threshold:
            found.append(((*base, "merge_threshold"), "merge_threshold is below threshold"))
    return found
