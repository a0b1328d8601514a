"""Rules compiled once per workspace definition and indexed by what triggers them.

A write asks the index for the rules its change can trigger (object + ``created``; object +
changed field + new value; object + activity type), so its cost does not grow with the number
of rules that cannot fire. Routings declared ``on_create`` become rules named
``routing.<name>`` with an ``assign`` action, so they leave outcomes and gaps like any rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from plumb.automation.conditions import Condition, FieldPath, compile_condition
from plumb.workspace.loader import LoadedWorkspace
from plumb.workspace.rules import Action, AssignAction, Rule, Trigger, path_problem
from plumb.workspace.schema import Workspace

ANY = object()
"""Index key for a changed-field rule without ``to:``."""


def norm(value: Any) -> Any:
    """How trigger values are compared: text ignoring case; blanks alike."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return value
    return str(value).casefold()


@dataclass(frozen=True)
class CompiledRule:
    name: str
    owner: str | None
    description: str
    obj: str
    trigger: Trigger
    condition: Condition | None
    requires: tuple[FieldPath, ...]
    actions: tuple[Action, ...]

    def trigger_holds(self, values: dict[str, Any]) -> bool:
        """Whether the record still stands where the trigger left it (``to:`` of a change)."""
        t = self.trigger
        if t.changed is not None and t.to is not None:
            return norm(values.get(t.changed)) == norm(t.to)
        return True


@dataclass
class RuleSet:
    rules: dict[str, CompiledRule] = field(default_factory=dict)
    created: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))
    changed: dict[tuple[str, str], dict[Any, list[CompiledRule]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    activity: dict[tuple[str, str], list[CompiledRule]] = field(
        default_factory=lambda: defaultdict(list)
    )
    timed: list[CompiledRule] = field(default_factory=list)
    territory_conditions: dict[tuple[str, int], Condition] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.rules)

    def for_change(self, obj: str, name: str, old: Any, new: Any) -> list[CompiledRule]:
        by_value = self.changed.get((obj, name))
        if not by_value:
            return []
        found = list(by_value.get(norm(new), ())) + list(by_value.get(ANY, ()))
        return [r for r in found if r.trigger.from_ is None or norm(r.trigger.from_) == norm(old)]


def _condition(ws: Workspace, obj: str, text: str | None) -> Condition | None:
    if text is None:
        return None
    return compile_condition(text, lambda p: path_problem(ws, obj, p))


def compile_rule(ws: Workspace, rule: Rule) -> CompiledRule:
    obj = rule.when.object
    return CompiledRule(
        name=rule.name,
        owner=rule.owner,
        description=rule.description,
        obj=obj,
        trigger=rule.when,
        condition=_condition(ws, obj, rule.if_),
        requires=tuple(tuple(r.split(".")) for r in rule.requires),
        actions=tuple(rule.then),
    )


def build(
    ws: Workspace, *, only: set[str] | None = None, include_disabled: bool = False
) -> RuleSet:
    """Compile the enabled rules (or those named in ``only``, enabled or not)."""
    rs = RuleSet()
    compiled: list[CompiledRule] = []
    for rule in ws.rules:
        if only is not None and rule.name not in only:
            continue
        if not rule.enabled and not include_disabled and only is None:
            continue
        compiled.append(compile_rule(ws, rule))
    for key, routing in ws.routing.items():
        for i, territory in enumerate(routing.territories):
            cond = _condition(ws, routing.object, territory.if_)
            if cond is not None:
                rs.territory_conditions[(key, i)] = cond
        name = f"routing.{key}"
        if not routing.on_create or (only is not None and name not in only):
            continue
        compiled.append(
            CompiledRule(
                name=name,
                owner=ws.integrity_owner,
                description=f"Route new {routing.object} records by routing {key!r}.",
                obj=routing.object,
                trigger=Trigger.model_validate({"object": routing.object, "created": True}),
                condition=_condition(ws, routing.object, routing.if_),
                requires=(),
                actions=(Action(assign=AssignAction(routing=key)),),
            )
        )
    for c in compiled:
        rs.rules[c.name] = c
        t = c.trigger
        if t.created:
            rs.created[c.obj].append(c)
        elif t.changed is not None:
            value_key: Any = ANY if t.to is None else norm(t.to)
            rs.changed[(c.obj, t.changed)][value_key].append(c)
        elif t.activity is not None:
            rs.activity[(c.obj, t.activity)].append(c)
        else:
            rs.timed.append(c)
    return rs


_COMPILED: dict[str, RuleSet] = {}


def ruleset(loaded: LoadedWorkspace) -> RuleSet:
    """The enabled rules of a loaded definition, compiled once per definition (by digest)."""
    found = _COMPILED.get(loaded.digest)
    if found is None:
        if len(_COMPILED) > 16:
            _COMPILED.clear()
        found = _COMPILED[loaded.digest] = build(loaded.workspace)
    return found
