"""The glossary: every stage and picklist value with its written definition."""

from __future__ import annotations

from dataclasses import dataclass

from plumb.workspace.schema import Workspace


@dataclass(frozen=True)
class Term:
    group: str
    """``lifecycle stage``, ``deal pipeline sales``, ``picklist lead_source``..."""
    key: str
    label: str
    definition: str
    requires: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    probability: float | None = None


def glossary(ws: Workspace) -> list[Term]:
    terms: list[Term] = [
        Term("lifecycle stage", s.key, s.label, s.definition, tuple(s.required_fields))
        for s in ws.lifecycle_stages
    ]
    for obj in ("deal", "case"):
        for pipe in ws.pipelines_for(obj):
            terms += [
                Term(
                    f"{obj} pipeline {pipe.key}",
                    s.key,
                    s.label,
                    s.definition,
                    tuple(s.required_fields),
                    probability=s.probability,
                )
                for s in pipe.stages
            ]
    for name, picklist in ws.picklists.items():
        terms += [
            Term(f"picklist {name}", v.key, v.label, v.definition, synonyms=tuple(v.synonyms))
            for v in picklist.values
        ]
    return terms
