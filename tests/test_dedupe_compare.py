"""Duplicate detection without a database: comparators, blocking keys, the definition."""

from __future__ import annotations

import pytest
import yaml

from plumb.core.errors import WorkspaceInvalid
from plumb.demo.synthetic import synthetic_contacts
from plumb.identity.comparators import compare_values
from plumb.identity.plan import plan_for
from plumb.workspace.loader import default_text, parse_workspace

LEVELS = [
    # comparator, left, right, level
    ("name", "Jon", "John", "close"),
    ("name", "Bob", "Robert", "close"),
    ("name", "Liz", "Elizabeth", "close"),
    ("name", "Smith", "Smyth", "phonetic"),
    ("name", "Ada", "ada", "exact"),
    ("name", "José", "Jose", "exact"),
    ("name", "Ada", "Grace", "disagree"),
    ("name", "Ada", None, "missing"),
    ("phonetic", "Catherine", "Kathryn", "phonetic"),
    ("phonetic", "Catherine", "Lopez", "disagree"),
    ("date", "1984-03-07", "1984-03-07", "exact"),
    ("date", "1984-03-07", "1984-07-03", "transposed"),
    ("date", "1984-03-07", "1984-03-01", "typo"),
    ("date", "1984-03-07", "1994-03-07", "typo"),
    ("date", "1984-03-07", "1990-11-21", "disagree"),
    ("date", "1984-03-07", "", "missing"),
    ("number", "100", "100.0", "exact"),
    ("postcode", "SW1A 1AA", "sw1a1aa", "exact"),
    ("postcode", "94110", "94111", "close"),
    ("postcode", "94110", "10001", "disagree"),
    ("address", "12 Main Street", "12 main st.", "exact"),
    ("address", "12 North Main Street Apt 4", "12 N Main St", "close"),
    ("address", "12 Main Street", "14 Main Street", "disagree"),
    ("email", ["ada@example.com"], ["ADA@example.com", "x@y.org"], "exact"),
    ("email", "ada.lovelace@gmail.com", "adalovelace+crm@gmail.com", "mailbox"),
    ("email", "ada.lovelace@acme.com", "ada.lovelace@gmail.com", "mailbox"),
    ("email", "jsmith@acme.com", "jsmtih@acme.com", "close"),
    ("email", "ada@acme.com", "grace@acme.com", "disagree"),
    ("email", "ann.lee2@acme.com", "ann.lee@acme.com", "disagree"),
    ("email", "ann.lee12@acme.com", "ann.lee21@acme.com", "disagree"),
    ("email", "ann.lee2@acme.com", "ann.lea2@acme.com", "close"),
    ("phone", "+14155550123", "+14155550123", "exact"),
    ("phone", "+14155550123", "(415) 555-0123", "close"),
    ("phone", "+14155550123", "+14155550124", "close"),
    ("phone", "+14155550123", "+12125559876", "disagree"),
    ("company", "Acme, Inc.", "ACME Inc", "exact"),
    ("company", "The Acme Corporation", "Acme Corp.", "exact"),
    ("company", "Hooli Labs", "Hooly Labs", "close"),
    ("company", "Hooli", "Initech", "disagree"),
    ("normalized", "AB-123 456", "ab123456", "exact"),
    ("exact", "01ABC", "01ABD", "disagree"),
]


@pytest.mark.parametrize(("comparator", "left", "right", "level"), LEVELS)
def test_comparator_levels_on_real_world_variants(
    comparator: str, left: object, right: object, level: str
) -> None:
    assert compare_values(comparator, left, right) == level


def test_number_tolerance() -> None:
    assert compare_values("number", "100", "103", 5.0) == "close"
    assert compare_values("number", "100", "110", 5.0) == "disagree"


def _definition(matching: dict[str, object], extra: dict[str, object] | None = None) -> str:
    content = yaml.safe_load(default_text())
    content["matching"] = matching
    content.update(extra or {})
    return yaml.safe_dump(content, sort_keys=False)


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        (
            {"fields": [{"field": "shoe_size", "compare": "exact"}]},
            "contact has no field 'shoe_size'",
        ),
        (
            {"fields": [{"field": "first_name", "compare": "vibes"}]},
            "matching.contact.fields.0.compare",
        ),
        ({"fields": [{"field": "phones", "compare": "date"}]}, "cannot read 'phones'"),
        (
            {"fields": [{"field": "emails", "compare": "email"}], "blocking": [["emails:soundex"]]},
            "unknown transform 'soundex'",
        ),
        (
            {"fields": [{"field": "emails", "compare": "email"}], "on_entry": {"fax": "block"}},
            "on_entry.fax",
        ),
    ],
)
def test_unknown_fields_and_comparators_fail_loading_with_the_line(
    contact: dict[str, object], message: str
) -> None:
    text = _definition({"contact": contact})
    with pytest.raises(WorkspaceInvalid) as failed:
        parse_workspace(text, "plumb.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("matching:"))
    assert message in str(failed.value)
    reported = int(str(failed.value).splitlines()[1].split(":")[1])
    assert reported > line


def test_custom_fields_can_be_evidence_and_blocking_keys() -> None:
    text = _definition(
        {
            "contact": {
                "fields": [
                    {"field": "last_name", "compare": "name"},
                    {"field": "date_of_birth", "compare": "date"},
                    {"field": "national_id", "compare": "normalized"},
                ],
                "blocking": [["national_id"], ["last_name:phonetic", "date_of_birth:year"]],
            }
        },
        {
            "objects": {
                "contact": {
                    "fields": [
                        {"name": "date_of_birth", "type": "date"},
                        {"name": "national_id", "type": "text"},
                    ]
                }
            }
        },
    )
    plan = plan_for(parse_workspace(text, "plumb.yaml").workspace, "contact")
    assert plan is not None
    keys = plan.keys(
        {"last_name": "Lovelace", "date_of_birth": "1815-12-10", "national_id": "AB 12-34"}
    )
    assert keys == {"national_id=ab1234", "last_name:phonetic+date_of_birth:year=LFLS|1815"}


def test_blocking_keys_cover_every_value_of_a_list_field() -> None:
    plan = plan_for(parse_workspace(default_text(), "default").workspace, "contact")
    assert plan is not None
    keys = plan.keys({"emails": ["Ada@x.com", "ada.l@y.org"], "first_name": None})
    assert {"emails=adaxcom", "emails=adalyorg", "emails:local_part=ada"} <= keys
    assert not any(k.startswith("first_name") for k in keys)


def test_synthetic_data_is_deterministic_and_has_ground_truth() -> None:
    one = synthetic_contacts(300, seed=3, dob_field="date_of_birth")
    two = synthetic_contacts(300, seed=3, dob_field="date_of_birth")
    assert one.items == two.items and one.entity == two.entity
    assert len(one.items) == 300
    assert one.clusters and all(len(c) >= 2 for c in one.clusters)
    assert all(one.entity[a] == one.entity[b] for a, b in one.true_pairs())
    assert synthetic_contacts(300, seed=4).items != one.items
