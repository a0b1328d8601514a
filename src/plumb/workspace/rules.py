"""The ``rules:``, ``routing:`` and ``automation:`` sections of the workspace definition.

A rule says when it runs (``when:``), on which records (``if:``, in the condition language of
``plumb.automation.conditions``), what data it needs (``requires:``) and what it does
(``then:``). Conditions are compiled here, at load, so a definition with a condition that does
not parse, or names a field that does not exist, is refused with the file, the line, the rule
and the column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plumb.automation.conditions import ConditionError, FieldPath, compile_condition
from plumb.workspace.standard import OBJECTS, STANDARD_FIELDS, FieldType

if TYPE_CHECKING:
    from plumb.workspace.schema import Path, Workspace

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


META_FIELDS = ("id", "created_at", "updated_at", "created_by", "archived", "version")
USER_FIELDS = ("id", "email", "name", "active", "role", "team")
ACTOR_FIELDS = ("kind", "source", "label", "role", "user_id")
DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)
LINKED_OBJECTS = ("contact", "company", "deal", "case")


class Trigger(Strict):
    """When a rule runs. Exactly one of ``created``, ``changed``, ``activity``, ``date``,
    ``inactive_days``."""

    object: str
    created: bool = False
    changed: str | None = Field(None, description="A field whose change triggers the rule.")
    from_: Any = Field(None, alias="from")
    to: Any = None
    activity: str | None = Field(
        None, description="An activity type (call, email, meeting, note) logged on the record."
    )
    date: str | None = Field(None, description="A date field compared with today.")
    days: int = Field(0, description="With date: -3 fires 3 days before the date, 0 on it.")
    inactive_days: int | None = Field(None, ge=1, description="No activity for this many days.")

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        kinds = [
            self.created,
            self.changed is not None,
            self.activity is not None,
            self.date is not None,
            self.inactive_days is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a trigger takes exactly one of created, changed, activity, date, inactive_days"
            )
        return self

    @property
    def kind(self) -> str:
        if self.created:
            return "created"
        if self.changed is not None:
            return "changed"
        if self.activity is not None:
            return "activity"
        if self.date is not None:
            return "date"
        return "inactive"

    @property
    def timed(self) -> bool:
        return self.kind in ("date", "inactive")


class TaskAction(Strict):
    title: str = Field(min_length=1)
    description: str = ""
    assignee: str = Field("owner", description="owner, owner_manager, or a user's e-mail.")
    due_in_days: int = Field(0, ge=0)


class RelatedAction(Strict):
    relation: str = Field(description="contacts or company (of a deal), company (of a contact).")
    set: dict[str, Any]


class EmailAction(Strict):
    to: str = Field(description="owner, owner_manager, a user's e-mail, or any address.")
    subject: str = Field(min_length=1)
    text: str = ""


class WebhookAction(Strict):
    endpoint: str = Field(description="The name of a webhook endpoint the workspace declares.")


class AssignAction(Strict):
    routing: Key


class Action(Strict):
    """One step of ``then:``; exactly one key."""

    set: dict[str, Any] | None = None
    task: TaskAction | None = None
    update_related: RelatedAction | None = None
    email: EmailAction | None = None
    webhook: WebhookAction | None = None
    assign: AssignAction | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Action:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an action takes exactly one of set, task, update_related, email, webhook, assign"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class Rule(Strict):
    name: Key
    owner: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+$", description="The e-mail of who answers for it."
    )
    description: str = Field(min_length=1)
    enabled: bool = True
    when: Trigger
    if_: str | None = Field(None, alias="if")
    requires: list[str] = Field(
        default_factory=list, description="Fields the rule cannot run without (a gap if blank)."
    )
    then: list[Action] = Field(min_length=1)


class Territory(Strict):
    name: Key
    match: dict[str, list[str]] = Field(default_factory=dict)
    if_: str | None = Field(None, alias="if")
    team: str | None = Field(None, description="Round-robin among the team's active members.")
    owner: str | None = Field(None, description="A user's e-mail.")

    @model_validator(mode="after")
    def _target(self) -> Territory:
        if (self.team is None) == (self.owner is None):
            raise ValueError("a territory takes exactly one of team, owner")
        return self


class Routing(Strict):
    object: str
    on_create: bool = Field(False, description="Route every new record of the object.")
    if_: str | None = Field(None, alias="if")
    requires: list[str] | None = Field(
        None, description="Inputs routing needs; default: every field a territory matches on."
    )
    territories: list[Territory] = Field(default_factory=list)
    fallback: str = Field(description="The owner when no territory matches (a user's e-mail).")

    def inputs(self) -> list[str]:
        if self.requires is not None:
            return list(self.requires)
        seen: list[str] = []
        for t in self.territories:
            seen += [f for f in t.match if f not in seen]
        return seen


class AutomationSettings(Strict):
    max_depth: int = Field(
        4, ge=1, le=20, description="How many rules deep a chain of rule firings may go."
    )


# -- cross-reference checks ----------------------------------------------------------------------


def relations(ws: Workspace, obj: str) -> dict[str, str]:
    """Related records a condition may read, name -> object (``company`` -> ``company``)."""
    out: dict[str, str] = {}
    for spec in STANDARD_FIELDS[obj]:
        if spec.type == FieldType.RECORD and spec.target:
            out[spec.name.removesuffix("_id")] = spec.target
    for cf in ws.custom_fields(obj):
        if cf.type == FieldType.RECORD and cf.target:
            out[cf.name.removesuffix("_id")] = cf.target
    if obj in ("activity", "task"):
        for kind in LINKED_OBJECTS:
            out.setdefault(kind, kind)
    return out


def field_type(ws: Workspace, obj: str, name: str) -> FieldType | None:
    for spec in STANDARD_FIELDS[obj]:
        if spec.name == name:
            return spec.type
    for cf in ws.custom_fields(obj):
        if cf.name == name:
            return cf.type
    if obj == "contact" and name in ("email", "phone"):
        return FieldType.TEXT
    return None


def _known(ws: Workspace, obj: str, name: str) -> bool:
    return name in ws.field_names(obj) or name in META_FIELDS


def path_problem(ws: Workspace, obj: str, path: FieldPath) -> str | None:
    """None when ``path`` names something a condition on ``obj`` may read, else why not."""
    head = path[0]
    if len(path) == 1:
        return None if _known(ws, obj, head) else f"{obj} has no field {head!r}"
    if len(path) > 2:
        return f"{'.'.join(path)!r} goes more than one record away"
    if head == "actor":
        return None if path[1] in ACTOR_FIELDS else f"the actor has no {path[1]!r}"
    if head == "owner":
        return None if path[1] in USER_FIELDS else f"a user has no {path[1]!r}"
    target = relations(ws, obj).get(head)
    if target is None:
        names = ", ".join(sorted([*relations(ws, obj), "owner", "actor"]))
        return f"{obj} has no related record {head!r} (one of: {names})"
    return None if _known(ws, target, path[1]) else f"{target} has no field {path[1]!r}"


def check_condition(ws: Workspace, obj: str, text: str) -> None:
    compile_condition(text, lambda p: path_problem(ws, obj, p))


def _path_of(name: str) -> FieldPath:
    return tuple(name.split("."))


def automation_problems(ws: Workspace) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    names: set[str] = set()
    for i, rule in enumerate(ws.rules):
        path: Path = ("rules", i)
        if rule.name in names:
            found.append((path + ("name",), f"rule {rule.name!r} is declared twice"))
        names.add(rule.name)
        found += _rule_problems(ws, path, rule)
    for key, routing in ws.routing.items():
        found += _routing_problems(ws, ("routing", key), key, routing)
    return found


def _object_problem(path: Path, obj: str, what: str) -> list[tuple[Path, str]]:
    if obj in OBJECTS:
        return []
    return [(path, f"{what}: unknown object {obj!r}; objects are {', '.join(OBJECTS)}")]


def _rule_problems(ws: Workspace, path: Path, rule: Rule) -> list[tuple[Path, str]]:
    who = f"rule {rule.name!r}"
    trigger = rule.when
    found = _object_problem(path + ("when", "object"), trigger.object, who)
    if found:
        return found
    obj = trigger.object
    if trigger.changed is not None and not _known(ws, obj, trigger.changed):
        found.append((path + ("when", "changed"), f"{who}: {obj} has no field {trigger.changed!r}"))
    if trigger.activity is not None and trigger.activity not in (
        "email",
        "call",
        "meeting",
        "note",
    ):
        found.append(
            (path + ("when", "activity"), f"{who}: activity types are email, call, meeting, note")
        )
    if trigger.date is not None:
        kind = field_type(ws, obj, trigger.date)
        standard = any(s.name == trigger.date for s in STANDARD_FIELDS[obj])
        if kind not in DATE_TYPES or not standard:
            found.append(
                (
                    path + ("when", "date"),
                    f"{who}: {trigger.date!r} is not a standard date field of {obj}",
                )
            )
    if trigger.inactive_days is not None and not _known(ws, obj, "last_activity_at"):
        found.append((path + ("when",), f"{who}: {obj} records do not track activity"))
    if rule.if_ is not None:
        try:
            check_condition(ws, obj, rule.if_)
        except ConditionError as exc:
            found.append((path + ("if",), f"{who}: condition {exc.reason} at column {exc.column}"))
    for k, name in enumerate(rule.requires):
        problem = path_problem(ws, obj, _path_of(name))
        if problem is not None:
            found.append((path + ("requires", k), f"{who}: requires {problem}"))
    for k, action in enumerate(rule.then):
        found += _action_problems(ws, path + ("then", k), who, obj, action)
    return found


def _action_problems(
    ws: Workspace, path: Path, who: str, obj: str, action: Action
) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if action.webhook is not None and action.webhook.endpoint not in ws.webhooks.endpoints:
        declared = ", ".join(ws.webhooks.endpoints) or "none"
        found.append(
            (
                path + ("webhook", "endpoint"),
                f"{who}: no webhook endpoint {action.webhook.endpoint!r} "
                f"(declared under webhooks.endpoints: {declared})",
            )
        )
    if action.set is not None:
        for name in action.set:
            if name not in ws.field_names(obj):
                found.append((path + ("set", name), f"{who}: {obj} has no field {name!r}"))
    if action.update_related is not None:
        rel = action.update_related.relation
        target = related_object(ws, obj, rel)
        if target is None:
            found.append(
                (path + ("update_related", "relation"), f"{who}: {obj} has no relation {rel!r}")
            )
        else:
            for name in action.update_related.set:
                if name not in ws.field_names(target):
                    found.append(
                        (path + ("update_related", "set", name), f"{who}: {target} has no {name!r}")
                    )
    if action.assign is not None and action.assign.routing not in ws.routing:
        found.append(
            (path + ("assign", "routing"), f"{who}: no routing named {action.assign.routing!r}")
        )
    if action.task is not None and obj == "task":
        found.append((path + ("task",), f"{who}: a rule on tasks cannot create tasks"))
    return found


def related_object(ws: Workspace, obj: str, relation: str) -> str | None:
    """The object ``update_related`` reaches through ``relation`` (None: not a relation)."""
    if obj == "deal" and relation == "contacts":
        return "contact"
    return relations(ws, obj).get(relation)


def _routing_problems(
    ws: Workspace, path: Path, key: str, routing: Routing
) -> list[tuple[Path, str]]:
    who = f"routing {key!r}"
    found = _object_problem(path + ("object",), routing.object, who)
    if found:
        return found
    obj = routing.object
    if "owner_id" not in ws.field_names(obj):
        found.append((path + ("object",), f"{who}: {obj} records have no owner"))
    if routing.if_ is not None:
        try:
            check_condition(ws, obj, routing.if_)
        except ConditionError as exc:
            found.append((path + ("if",), f"{who}: condition {exc.reason} at column {exc.column}"))
    for k, name in enumerate(routing.requires or []):
        problem = path_problem(ws, obj, _path_of(name))
        if problem is not None:
            found.append((path + ("requires", k), f"{who}: requires {problem}"))
    for i, territory in enumerate(routing.territories):
        tpath = path + ("territories", i)
        for name in territory.match:
            problem = path_problem(ws, obj, _path_of(name))
            if problem is not None:
                found.append((tpath + ("match", name), f"{who}: {problem}"))
        if territory.if_ is not None:
            try:
                check_condition(ws, obj, territory.if_)
            except ConditionError as exc:
                where = f"{who} territory {territory.name!r}"
                found.append(
                    (tpath + ("if",), f"{where}: condition {exc.reason} at column {exc.column}")
                )
    return found
