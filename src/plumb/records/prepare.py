"""Preparing a write: clean the input, fill defaults, resolve references and stages, check
required fields and stage gates. Nothing here writes; every problem becomes a FieldIssue.

Works on batches so a bulk create of 100k rows resolves its references in a handful of
queries, not one per row.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, func, select

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import FieldIssue, PlumbError, StageGateError, ValidationFailed
from plumb.hygiene import standardize as std
from plumb.models import User
from plumb.records import queries
from plumb.records.fields import ObjectSchema, schema_for, to_json
from plumb.records.rows import model_for
from plumb.workspace.schema import Stage, Workspace, normalize_word
from plumb.workspace.standard import LIFECYCLE_OBJECTS, PIPELINE_OBJECTS, FieldType

BYPASS_STAGE_GATE = "bypass_stage_gate"
UNSTANDARDIZED = "unstandardized"
"""Change-log context key: {field: rule} of values kept as typed under the ``keep`` policy."""


@dataclass
class Draft:
    """One record's write in preparation."""

    index: int
    values: dict[str, Any]
    """Cleaned values (Python form) given or defaulted for this write."""
    after: dict[str, Any]
    """Every field's JSON form after the write."""
    before: dict[str, Any] | None = None
    issues: list[FieldIssue] = field(default_factory=list)
    error: PlumbError | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues and self.error is None

    def fail(self) -> PlumbError:
        if self.error is not None:
            return self.error
        return ValidationFailed("the record did not pass validation", issues=list(self.issues))

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.after[name] = to_json(value)


def split_contact_aliases(
    raw: dict[str, Any], before: dict[str, Any] | None
) -> tuple[dict[str, Any], list[FieldIssue]]:
    """``email`` / ``phone`` on a contact set the primary address / number; ``name`` (a full
    name) is parsed into ``first_name`` and ``last_name`` where those are not given."""
    if "email" not in raw and "phone" not in raw and "name" not in raw:
        return raw, []
    out = dict(raw)
    issues: list[FieldIssue] = []
    for alias, many in (("email", "emails"), ("phone", "phones")):
        if alias not in out:
            continue
        value = out.pop(alias)
        if many in out:
            continue
        rest = list((before or {}).get(many) or [])[1:]
        out[many] = ([value] if value else []) + [v for v in rest if v != value]
    if "name" in out:
        full = out.pop("name")
        if isinstance(full, str) and full.strip():
            try:
                first, last = std.person_name(full)
            except std.Unstandardizable as exc:
                issues.append(FieldIssue("name", exc.rule, exc.message, full))
            else:
                out.setdefault("first_name", first or None)
                out.setdefault("last_name", last or None)
        elif full not in (None, ""):
            issues.append(FieldIssue("name", "type", "expected a full name as text", str(full)))
    return out, issues


@dataclass
class Cleaned:
    """What ``clean_ahead`` made of the fields ``covered`` of one new record's input: the
    same values, issues and kept-as-typed rules that cleaning them in the write path gives."""

    covered: frozenset[str]
    values: dict[str, Any]
    issues: list[FieldIssue]
    kept: dict[str, str]
    blocking_keys: tuple[str, frozenset[str]] | None = None
    """The duplicate check's blocking keys of ``values`` when computed ahead as well (an
    import's workers: ``plumb.transfer.standardizing``), with the text the key memo knows
    the values by (``Plan.compute_keys``)."""


def clean_ahead(ws: Workspace, obj: str, raw: dict[str, Any]) -> Cleaned:
    """Standardize a new record's input before its write, away from the session: every given
    field except references (which need the database), and the contact aliases (``email``,
    ``phone``, ``name``). A pure function of the workspace definition and the input, so an
    import can run it in worker processes (``plumb.transfer.standardizing``) and hand the
    result to ``create_many(cleaned=...)``, which then does not standardize those fields again."""
    sch = schema_for(ws, obj)
    subset = {k: v for k, v in raw.items() if k not in sch.reference_fields}
    alias_issues: list[FieldIssue] = []
    if obj == "contact":
        subset, alias_issues = split_contact_aliases(subset, None)
    values, issues, kept = sch.clean(subset)
    covered = frozenset(k for k in raw if k not in sch.reference_fields)
    return Cleaned(covered, values, alias_issues + issues, kept)


def clean_drafts(
    ctx: Ctx,
    obj: str,
    items: list[dict[str, Any]],
    befores: list[dict[str, Any] | None],
    *,
    allow_read_only: bool = False,
    cleaned: list[Cleaned | None] | None = None,
) -> list[Draft]:
    """Clean each item into a draft. ``cleaned`` (new records only) gives, per item, what
    ``clean_ahead`` already made of some of its fields; only the rest are cleaned here."""
    sch = schema_for(ctx.workspace, obj)
    drafts: list[Draft] = []
    for index, (raw, before) in enumerate(zip(items, befores, strict=True)):
        if not isinstance(raw, dict):
            drafts.append(
                Draft(index, {}, {}, before, [FieldIssue("(item)", "type", "expected an object")])
            )
            continue
        ahead = cleaned[index] if cleaned is not None else None
        if ahead is not None:
            raw = {k: v for k, v in raw.items() if k not in ahead.covered}
        alias_issues: list[FieldIssue] = []
        if obj == "contact":
            raw, alias_issues = split_contact_aliases(raw, before)
        country = before.get("country") if before is not None else None
        values, issues, kept = sch.clean(raw, allow_read_only=allow_read_only, country=country)
        if ahead is not None:
            values = {**ahead.values, **values}
            issues = ahead.issues + issues
            kept = {**ahead.kept, **kept}
        after = dict(before) if before is not None else sch.empty_record()
        for name, value in values.items():
            after[name] = to_json(value)
        context: dict[str, Any] = {UNSTANDARDIZED: kept} if kept else {}
        drafts.append(Draft(index, values, after, before, alias_issues + issues, None, context))
    writable = {name for d in drafts for name in d.values}
    authz.check_writable(ctx, obj, writable)
    return drafts


def standardize_dependent(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    """Standardizing that needs other fields of the record: a region needs its country; a
    company's name key follows its name; a website gives a company its domain when it has none."""
    if obj not in ("contact", "company"):
        return
    keep_region = ctx.workspace.hygiene.policy("region") == "keep"
    for d in drafts:
        if "region" in d.values or "country" in d.values:
            _standardize_region(d, keep_region)
        if obj != "company":
            continue
        if "name" in d.values or "name_key" in d.values:
            name = d.after.get("name")
            d.set("name_key", (std.company_key(name) or None) if name else None)
        website = d.after.get("website")
        if website and "website" in d.values and not d.after.get("domain"):
            # A website on a free-mail or bare host names no company domain: leave it blank.
            with suppress(std.Unstandardizable):
                d.set("domain", std.company_domain(website))


def _standardize_region(d: Draft, keep: bool) -> None:
    value, country = d.after.get("region"), d.after.get("country")
    if not value or not country or not std.is_country_code(country):
        return  # without a known country a region stays as typed
    try:
        d.set("region", std.region(value, country))
    except std.Unstandardizable as exc:
        if keep:
            d.context.setdefault(UNSTANDARDIZED, {})["region"] = exc.rule
        else:
            d.issues.append(FieldIssue("region", exc.rule, exc.message, value))


def apply_create_defaults(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    now = ctx.now()
    for d in drafts:
        if d.after.get("owner_id") is None and ctx.actor.user_id:
            d.set("owner_id", ctx.actor.user_id)
        if obj == "task":
            if d.after.get("status") is None:
                d.set("status", "open")
            if d.after.get("assignee_id") is None and d.after.get("owner_id"):
                d.set("assignee_id", d.after["owner_id"])
        elif obj == "activity" and d.after.get("occurred_at") is None:
            d.set("occurred_at", now)


# -- stages ---------------------------------------------------------------------------------------


def _lookup(stages: list[Stage]) -> dict[str, str]:
    table: dict[str, str] = {}
    for s in stages:
        table.setdefault(normalize_word(s.key).replace(" ", "_"), s.key)
        table.setdefault(normalize_word(s.label).replace(" ", "_"), s.key)
    return table


def stage_definition(ws: Workspace, obj: str, after: dict[str, Any]) -> Stage | None:
    """The definition of the stage a record is in (None when it has none)."""
    if obj in LIFECYCLE_OBJECTS:
        key = after.get("lifecycle_stage")
        return ws.lifecycle_stage(key) if key else None
    if obj in PIPELINE_OBJECTS:
        pipe = ws.pipeline(obj, after.get("pipeline") or "")
        return pipe.stage(after.get("stage") or "") if pipe else None
    return None


def stage_field(obj: str) -> str | None:
    if obj in LIFECYCLE_OBJECTS:
        return "lifecycle_stage"
    if obj in PIPELINE_OBJECTS:
        return "stage"
    return None


def resolve_stages(ctx: Ctx, obj: str, drafts: list[Draft], *, creating: bool) -> None:
    ws = ctx.workspace
    if obj in LIFECYCLE_OBJECTS:
        table = _lookup(ws.lifecycle_stages)
        for d in drafts:
            word = d.values.get("lifecycle_stage")
            if word is None:
                continue
            key = table.get(word)
            if key is None:
                keys = ", ".join(s.key for s in ws.lifecycle_stages) or "none are defined"
                d.issues.append(
                    FieldIssue(
                        "lifecycle_stage",
                        "stage",
                        f"{word!r} is not a lifecycle stage ({keys})",
                        word,
                    )
                )
            else:
                d.set("lifecycle_stage", key)
        return
    if obj not in PIPELINE_OBJECTS:
        return
    pipelines = ws.pipelines_for(obj)
    pipe_table = {normalize_word(p.key).replace(" ", "_"): p.key for p in pipelines}
    pipe_table.update({normalize_word(p.label).replace(" ", "_"): p.key for p in pipelines})
    for d in drafts:
        word = d.values.get("pipeline")
        if word is not None:
            key = pipe_table.get(word)
            if key is None:
                keys = ", ".join(p.key for p in pipelines)
                d.issues.append(
                    FieldIssue(
                        "pipeline", "pipeline", f"{word!r} is not a {obj} pipeline ({keys})", word
                    )
                )
                continue
            d.set("pipeline", key)
        elif creating or d.after.get("pipeline") is None:
            d.set("pipeline", pipelines[0].key)
        pipe = ws.pipeline(obj, d.after["pipeline"])
        assert pipe is not None
        word = d.values.get("stage")
        if word is None:
            pipeline_changed = (
                d.before is not None and d.before.get("pipeline") != d.after["pipeline"]
            )
            if creating or pipeline_changed or d.after.get("stage") is None:
                d.set("stage", pipe.stages[0].key)
            continue
        key = _lookup(pipe.stages).get(word)
        if key is None:
            keys = ", ".join(s.key for s in pipe.stages)
            d.issues.append(
                FieldIssue(
                    "stage",
                    "stage",
                    f"{word!r} is not a stage of pipeline {pipe.key} ({keys})",
                    word,
                )
            )
        else:
            d.set("stage", key)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def check_required(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    sch = schema_for(ctx.workspace, obj)
    required = [f for f in sch.fields.values() if f.required]
    for d in drafts:
        for f in required:
            if _blank(d.after.get(f.name)):
                d.issues.append(FieldIssue(f.name, "required", f"{f.label} is required"))


def check_stage_gates(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    """Entering a stage needs its required fields; staying in it keeps them filled."""
    name = stage_field(obj)
    if name is None:
        return
    sch = schema_for(ctx.workspace, obj)
    bypass = BYPASS_STAGE_GATE in ctx.flags
    for d in drafts:
        if not d.ok:
            continue
        stage = stage_definition(ctx.workspace, obj, d.after)
        if stage is None or not stage.required_fields:
            continue
        entering = (
            d.before is None
            or d.before.get(name) != d.after.get(name)
            or (d.before.get("pipeline") != d.after.get("pipeline"))
        )
        missing = [f for f in stage.required_fields if f in sch and _blank(d.after.get(f))]
        if not missing:
            continue
        if entering:
            if bypass:
                d.context.setdefault("bypass", []).append(
                    {"permission": BYPASS_STAGE_GATE, "stage": stage.key, "missing": missing}
                )
                continue
            labels = ", ".join(missing)
            d.error = StageGateError(
                f"cannot enter stage {stage.key!r}: {labels} must be filled first",
                object=obj,
                rule=f"stage:{stage.key}",
                issues=[
                    FieldIssue(
                        f,
                        f"stage_gate:{stage.key}",
                        f"{sch[f].label} is required to enter {stage.label}",
                    )
                    for f in missing
                ],
                extra={"stage": stage.key, "missing_fields": missing},
            )
        else:
            cleared = [f for f in missing if d.before is not None and not _blank(d.before.get(f))]
            d.issues += [
                FieldIssue(
                    f,
                    f"stage_required:{stage.key}",
                    f"{sch[f].label} is required while in {stage.label}",
                )
                for f in cleared
            ]


# -- references -----------------------------------------------------------------------------------


def resolve_references(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    """Record references must name records that exist, are not archived and are visible;
    user references must name active users (an e-mail address is resolved to the user)."""
    sch = schema_for(ctx.workspace, obj)
    wanted: dict[str, set[str]] = defaultdict(set)
    emails: set[str] = set()
    user_ids: set[str] = set()
    ref_fields = sch.reference_fields
    for d in drafts:
        for name, value in d.values.items():
            if value is None or name not in ref_fields:
                continue
            for target, ident in _refs(sch, name, value):
                if target == "user":
                    (emails if "@" in ident else user_ids).add(ident)
                else:
                    wanted[target].add(ident)
    found: dict[str, set[str]] = {}
    for target, ids in wanted.items():
        model = model_for(target)
        stmt = select(model.id).where(model.id.in_(ids), model.archived == false())
        clause = authz.visible(ctx, target)
        if clause is not None:
            stmt = stmt.where(clause)
        found[target] = set(ctx.session.scalars(stmt))
    aliases = _merged_aliases(ctx, wanted, found)
    users: dict[str, tuple[str, bool]] = {}
    if emails or user_ids:
        rows = ctx.session.execute(
            select(User.id, User.email, User.active).where(
                (User.id.in_(user_ids)) | (func.lower(User.email).in_(emails))
            )
        )
        for uid, email, active in rows:
            users[uid] = (uid, active)
            users[email.lower()] = (uid, active)
    for d in drafts:
        for name, value in list(d.values.items()):
            if value is None or name not in ref_fields:
                continue
            spec = sch[name]
            for target, ident in _refs(sch, name, value):
                if target == "user":
                    hit = users.get(ident)
                    if hit is None:
                        d.issues.append(FieldIssue(name, "unknown_user", f"no user {ident}", ident))
                    elif not hit[1]:
                        d.issues.append(
                            FieldIssue(name, "inactive_user", f"user {ident} is deactivated", ident)
                        )
                    elif hit[0] != ident:
                        d.set(name, hit[0])
                elif (target, ident) in aliases:
                    survivor = aliases[(target, ident)]
                    d.set(name, _replace_ref(value, ident, survivor))
                    value = d.values[name]
                    d.context.setdefault("aliases", {})[ident] = survivor
                elif ident not in found.get(target, set()):
                    d.issues.append(
                        FieldIssue(name, "reference", f"no active {target} with id {ident}", ident)
                    )
            if spec.type == FieldType.RECORD_ANY and value["id"] == "":
                d.issues.append(FieldIssue(name, "reference", "record id is blank"))


def _merged_aliases(
    ctx: Ctx, wanted: dict[str, set[str]], found: dict[str, set[str]]
) -> dict[tuple[str, str], str]:
    """References to records merged away resolve to their survivor (when it is active and
    visible): ``(object, merged id) -> survivor id``."""
    out: dict[tuple[str, str], str] = {}
    for target, ids in wanted.items():
        missing = ids - found.get(target, set())
        if not missing:
            continue
        survivors = queries.resolve_aliases(ctx.session, target, missing)
        if not survivors:
            continue
        model = model_for(target)
        stmt = select(model.id).where(
            model.id.in_(set(survivors.values())), model.archived == false()
        )
        clause = authz.visible(ctx, target)
        if clause is not None:
            stmt = stmt.where(clause)
        active = set(ctx.session.scalars(stmt))
        out.update({(target, a): s for a, s in survivors.items() if s in active})
    return out


def _replace_ref(value: Any, old: str, new: str) -> Any:
    """A reference value (an id, deal contacts, activity links, a task's record) naming
    ``new`` where it named ``old``; a list keeps one entry per record."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {**value, "id": new} if value.get("id") == old else value
    out: list[Any] = []
    seen: set[Any] = set()
    for item in value:
        key_name = "contact_id" if "contact_id" in item else "id"
        item = {**item, key_name: new} if item.get(key_name) == old else item
        key = (item.get("type"), item[key_name])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _refs(sch: ObjectSchema, name: str, value: Any) -> list[tuple[str, str]]:
    spec = sch[name]
    match spec.type:
        case FieldType.RECORD:
            assert spec.target is not None
            return [(spec.target, value)]
        case FieldType.USER:
            return [("user", value)]
        case FieldType.DEAL_CONTACTS:
            return [("contact", item["contact_id"]) for item in value]
        case FieldType.LINKS:
            return [(item["type"], item["id"]) for item in value]
        case FieldType.RECORD_ANY:
            return [(value["type"], value["id"])]
    return []


def prepare(ctx: Ctx, obj: str, drafts: list[Draft], *, creating: bool) -> None:
    """Everything between cleaning and writing, in order; issues accumulate on each draft."""
    standardize_dependent(ctx, obj, drafts)
    if creating:
        apply_create_defaults(ctx, obj, drafts)
    resolve_stages(ctx, obj, drafts, creating=creating)
    resolve_references(ctx, obj, drafts)
    check_required(ctx, obj, drafts)
    check_named_permissions(ctx, obj, drafts)
    check_stage_gates(ctx, obj, drafts)


def _stage_index(ws: Workspace, obj: str, values: dict[str, Any]) -> int | None:
    if obj in LIFECYCLE_OBJECTS:
        keys = [s.key for s in ws.lifecycle_stages]
        key = values.get("lifecycle_stage")
    else:
        pipe = ws.pipeline(obj, values.get("pipeline") or "")
        keys = [s.key for s in pipe.stages] if pipe else []
        key = values.get("stage")
    return keys.index(key) if key in keys else None


def check_named_permissions(ctx: Ctx, obj: str, drafts: list[Draft]) -> None:
    """Writes only some roles may make: giving a record to another owner, moving a stage
    backwards, entering a stage without its required fields. Each use of one is recorded in
    the entry's context."""
    name = stage_field(obj)
    for d in drafts:
        if not d.ok:
            continue
        try:
            owner = d.after.get("owner_id")
            old_owner = d.before.get("owner_id") if d.before is not None else ctx.actor.user_id
            if "owner_id" in d.values and owner != old_owner and ctx.actor.user_id is not None:
                authz.require_grant(ctx, "change_owner", obj=obj)
                d.context.setdefault("permissions", []).append("change_owner")
            if (
                name is not None
                and d.before is not None
                and d.before.get(name) != d.after.get(name)
            ):
                old = _stage_index(ctx.workspace, obj, d.before)
                new = _stage_index(ctx.workspace, obj, d.after)
                same_pipeline = d.before.get("pipeline") == d.after.get("pipeline")
                if old is not None and new is not None and new < old and same_pipeline:
                    authz.require_grant(ctx, "move_stage_backwards", obj=obj)
                    d.context.setdefault("permissions", []).append("move_stage_backwards")
            if BYPASS_STAGE_GATE in ctx.flags:
                authz.require_grant(ctx, BYPASS_STAGE_GATE, obj=obj)
        except PlumbError as exc:
            d.error = exc
