"""The ``checks:`` section of the workspace definition: decay settings and custom checks.

Built-in checks (identity, completeness, linkage, consistency, freshness) need no declaration;
their windows are set here. A custom check names the records it applies to (``if:``) and what
each of them must satisfy (``expect:``), both in the condition language of rules, and has an
owner and a description like a rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from plumb.automation.conditions import ConditionError
from plumb.workspace.rules import check_condition
from plumb.workspace.standard import OBJECTS

if TYPE_CHECKING:
    from plumb.workspace.schema import Path, Workspace

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomCheck(Strict):
    name: Key
    object: str
    owner: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="Who answers for it (e-mail).")
    description: str = Field(min_length=1)
    if_: str | None = Field(None, alias="if", description="The records the check applies to.")
    expect: str = Field(description="What every such record must satisfy.")


class CheckSettings(Strict):
    decay_rate: float = Field(
        0.25, gt=0, lt=1, description="Share of contact data that goes out of date in a year."
    )
    decay_days: int = Field(
        365,
        ge=1,
        description="A contact or company without activity or verification this long is stale.",
    )
    deal_stale_days: int = Field(
        30,
        ge=1,
        description="An open deal whose amount and close date have not changed this long is stale.",
    )
    unique_titles: list[str] = Field(
        default_factory=lambda: ["ceo", "cfo", "cto", "coo", "chief executive officer"],
        description="Job titles one company has at most one holder of (compared ignoring case).",
    )
    custom: list[CustomCheck] = Field(default_factory=list)


def check_problems(ws: Workspace) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    names: set[str] = set()
    for i, check in enumerate(ws.checks.custom):
        path: Path = ("checks", "custom", i)
        who = f"check {check.name!r}"
        if check.name in names:
            found.append((path + ("name",), f"{who} is declared twice"))
        names.add(check.name)
        if check.object not in OBJECTS:
            found.append((path + ("object",), f"{who}: unknown object {check.object!r}"))
            continue
        for key, text in (("if", check.if_), ("expect", check.expect)):
            if text is None:
                continue
            try:
                check_condition(ws, check.object, text)
            except ConditionError as exc:
                found.append(
                    (path + (key,), f"{who}: condition {exc.reason} at column {exc.column}")
                )
    return found
