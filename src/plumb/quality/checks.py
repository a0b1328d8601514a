"""What a check is, and the built-in checks of each object.

A check is a set of SELECTs over one record table, each returning ``(record_id, reason)`` for
the records that fail it. The runner (``plumb.quality.engine``) adds what every check shares:
unarchived records, the actor's visibility, an optional slice. Nothing here loops over records
in Python; each check is one query however many records there are.

Indicators (DESIGN.md, capability 8): ``identity`` (no duplicates), ``completeness`` (the
fields the record's stage requires), ``linkage`` (no orphans), ``consistency`` (standard formats,
defined picklist values, no conflicts between related records) and ``freshness`` (recent
activity or verification); custom checks declared in the workspace are ``custom``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from plumb.core.context import Ctx
from plumb.identity.keys import live_clause
from plumb.models import (
    Activity,
    ActivityLink,
    Company,
    Contact,
    Deal,
    DealContact,
    MatchCandidate,
    MatchDecision,
)
from plumb.models.base import RecordMixin
from plumb.records.rows import model_for
from plumb.workspace.schema import Stage, Workspace
from plumb.workspace.standard import LIFECYCLE_OBJECTS, PIPELINE_OBJECTS, STANDARD_FIELDS, FieldType

INDICATORS = ("identity", "completeness", "linkage", "consistency", "freshness", "custom")


@dataclass(frozen=True)
class Env:
    """What a check's queries may depend on besides the data: the definition, the time, and
    the context (custom checks that cannot be translated into SQL read records through it)."""

    ctx: Ctx

    @property
    def workspace(self) -> Workspace:
        return self.ctx.workspace

    @property
    def now(self) -> datetime:
        return self.ctx.now()


Parts = Callable[[Env], list[Select[Any]]]


@dataclass(frozen=True)
class Check:
    name: str
    object: str
    indicator: str
    description: str
    parts: Parts
    owner: str | None = None

    @property
    def model(self) -> type[RecordMixin]:
        return model_for(self.object)


def _rows(model: type[RecordMixin], reason: Any, *where: Any) -> Select[Any]:
    if isinstance(reason, str):
        reason = literal(reason)
    return select(model.id.label("record_id"), reason.label("reason")).where(*where)


def blank_clause(ws: Workspace, obj: str, name: str) -> ColumnElement[bool] | None:
    """SQL for "field ``name`` of ``obj`` is blank" (None: not a field this check can read)."""
    model = model_for(obj)
    if obj == "contact" and name in ("phones", "emails"):
        name = name.removesuffix("s")
    if obj == "deal" and name == "contacts":
        return not_(exists().where(DealContact.deal_id == Deal.id))
    if obj == "activity" and name == "links":
        return not_(exists().where(ActivityLink.activity_id == Activity.id))
    columns = model.__table__.columns  # type: ignore[attr-defined]
    if name in columns:
        col = getattr(model, name)
        if col.type.python_type is str:
            return or_(col.is_(None), col == "")
        return col.is_(None)
    if any(f.name == name for f in ws.custom_fields(obj)):
        value = model.custom[name].as_string()
        return or_(value.is_(None), value == "", value == "[]")
    return None


# -- completeness ---------------------------------------------------------------------------------


def _stages(ws: Workspace, obj: str) -> list[tuple[ColumnElement[bool], str, Stage]]:
    """(record is in this stage, how to name it, the stage) for every stage of ``obj``."""
    model = model_for(obj)
    if obj in LIFECYCLE_OBJECTS:
        return [
            (model.lifecycle_stage == s.key, f"lifecycle stage {s.key!r}", s)  # type: ignore[attr-defined]
            for s in ws.lifecycle_stages
        ]
    out = []
    for pipe in ws.pipelines_for(obj):
        for s in pipe.stages:
            where = and_(model.pipeline == pipe.key, model.stage == s.key)  # type: ignore[attr-defined]
            out.append((where, f"stage {s.key!r} of {pipe.key}", s))
    return out


def _completeness(obj: str) -> Parts:
    """One part per stage and required field. Where the field is a column of the record, its
    blank test comes first: it is cheap and rarely true, so a report evaluating every part on
    every record (``plumb.quality.engine.flag_clauses``) stops there instead of comparing the
    pipeline and stage for each part; a related-record probe or a custom field (JSON) stays
    behind the stage test, so it runs only for the records in the stage."""

    def parts(env: Env) -> list[Select[Any]]:
        out = []
        model = model_for(obj)
        for in_stage, label, stage in _stages(env.workspace, obj):
            for name in stage.required_fields:
                missing = blank_clause(env.workspace, obj, name)
                if missing is not None:
                    reason = f"{name} is blank; {label} requires it"
                    where = (in_stage, missing)
                    if _column_of(obj, name):
                        where = (missing, in_stage)
                    out.append(_rows(model, reason, *where))
        return out

    return parts


def _column_of(obj: str, name: str) -> bool:
    """Whether ``blank_clause`` tests field ``name`` of ``obj`` on a column of its row."""
    if obj == "contact" and name in ("phones", "emails"):
        name = name.removesuffix("s")
    return name in model_for(obj).__table__.columns  # type: ignore[attr-defined]


# -- linkage --------------------------------------------------------------------------------------


def _company_archived(model: Any) -> ColumnElement[bool]:
    # The archived companies are few and read once per query, not probed per record.
    return model.company_id.in_(select(Company.id).where(Company.archived.is_(True)))


def _linkage_contact(env: Env) -> list[Select[Any]]:
    return [
        _rows(Contact, "no company", Contact.company_id.is_(None)),
        _rows(Contact, "its company is archived", _company_archived(Contact)),
    ]


def _linkage_deal(env: Env) -> list[Select[Any]]:
    no_contact = not_(exists().where(DealContact.deal_id == Deal.id))
    return [
        _rows(Deal, "no company and no contact", Deal.company_id.is_(None), no_contact),
        _rows(Deal, "its company is archived", _company_archived(Deal)),
    ]


def _linkage_activity(env: Env) -> list[Select[Any]]:
    return [
        _rows(
            Activity,
            "linked to no record",
            not_(exists().where(ActivityLink.activity_id == Activity.id)),
        )
    ]


def _linkage_case(env: Env) -> list[Select[Any]]:
    model = model_for("case")
    return [
        _rows(
            model,
            "no contact and no company",
            model.contact_id.is_(None),  # type: ignore[attr-defined]
            model.company_id.is_(None),  # type: ignore[attr-defined]
        )
    ]


# -- consistency ----------------------------------------------------------------------------------


def _picklist_values(env: Env, obj: str) -> list[Select[Any]]:
    ws = env.workspace
    model = model_for(obj)
    out = []
    fields: list[tuple[str, str | None]] = [
        (f.name, f.picklist) for f in STANDARD_FIELDS[obj] if f.type == FieldType.PICKLIST
    ]
    fields += [(f.name, f.picklist) for f in ws.custom_fields(obj) if f.type == FieldType.PICKLIST]
    for name, picklist in fields:
        definition = ws.picklists.get(picklist or "")
        if definition is None:
            continue
        keys = [v.key for v in definition.values]
        columns = model.__table__.columns  # type: ignore[attr-defined]
        col = getattr(model, name) if name in columns else model.custom[name].as_string()
        reason = literal(f"{name} ") + col + literal(f" is not a value of picklist {picklist}")
        out.append(_rows(model, reason, col.isnot(None), col != "", col.notin_(keys)))
    return out


def _stage_values(env: Env, obj: str) -> list[Select[Any]]:
    ws = env.workspace
    model: Any = model_for(obj)
    if obj in LIFECYCLE_OBJECTS:
        keys = [s.key for s in ws.lifecycle_stages]
        col = model.lifecycle_stage
        reason = literal("lifecycle stage ") + col + literal(" is not defined")
        return [_rows(model, reason, col.isnot(None), col.notin_(keys))] if keys else []
    known = [
        and_(model.pipeline == p.key, model.stage.in_([s.key for s in p.stages]))
        for p in ws.pipelines_for(obj)
    ]
    reason = (
        literal("stage ") + model.stage + literal(" is not a stage of pipeline ") + model.pipeline
    )
    return [_rows(model, reason, not_(or_(false(), *known)))]


def _formats(env: Env, obj: str) -> list[Select[Any]]:
    model: Any = model_for(obj)
    out = []
    columns = model.__table__.columns
    if "phone" in columns:
        col = model.phone
        reason = literal("phone ") + col + literal(" is not in international (E.164) form")
        out.append(_rows(model, reason, col.isnot(None), col != "", not_(col.like("+%"))))
    if "email" in columns:
        col = model.email
        reason = literal("e-mail ") + col + literal(" is not an address")
        out.append(_rows(model, reason, col.isnot(None), col != "", not_(col.like("%_@_%._%"))))
    return out


def _consistency(obj: str) -> Parts:
    def parts(env: Env) -> list[Select[Any]]:
        found = _picklist_values(env, obj) + _formats(env, obj)
        if obj in LIFECYCLE_OBJECTS or obj in PIPELINE_OBJECTS:
            found += _stage_values(env, obj)
        if obj == "contact":
            found += _contact_conflicts(env)
        if obj == "deal":
            found += _deal_conflicts(env)
        return found

    return parts


def _contact_conflicts(env: Env) -> list[Select[Any]]:
    ws = env.workspace
    out = []
    titles = [t.casefold() for t in ws.checks.unique_titles]
    if titles:
        other = aliased(Contact)
        twin = exists().where(
            other.company_id == Contact.company_id,
            other.id != Contact.id,
            other.archived.is_(False),
            func.lower(other.job_title) == func.lower(Contact.job_title),
        )
        reason = literal("another contact at the same company is also ") + Contact.job_title
        out.append(
            _rows(
                Contact,
                reason,
                Contact.company_id.isnot(None),
                func.lower(Contact.job_title).in_(titles),
                twin,
            )
        )
    order = [s.key for s in ws.lifecycle_stages]
    if "customer" in order:
        before = order[: order.index("customer")]
        won = [
            and_(
                Deal.pipeline == p.key,
                Deal.stage.in_([s.key for s in p.stages if s.outcome == "won"]),
            )
            for p in ws.pipelines_for("deal")
        ]
        on_won = exists().where(
            DealContact.contact_id == Contact.id,
            Deal.id == DealContact.deal_id,
            Deal.archived.is_(False),
            or_(false(), *won),
        )
        reason = literal("on a won deal, but lifecycle stage is ") + Contact.lifecycle_stage
        out.append(_rows(Contact, reason, Contact.lifecycle_stage.in_(before), on_won))
    if order and order[0] == "subscriber":
        talked = exists().where(
            ActivityLink.record_type == "contact",
            ActivityLink.record_id == Contact.id,
            Activity.id == ActivityLink.activity_id,
            Activity.archived.is_(False),
            Activity.type.in_(["call", "meeting"]),
        )
        said = "has a logged call or meeting, but lifecycle stage is subscriber"
        out.append(_rows(Contact, said, Contact.lifecycle_stage == "subscriber", talked))
    return out


def _deal_conflicts(env: Env) -> list[Select[Any]]:
    elsewhere = exists().where(
        DealContact.deal_id == Deal.id,
        Contact.id == DealContact.contact_id,
        Contact.archived.is_(False),
        Contact.company_id.isnot(None),
        Contact.company_id != Deal.company_id,
    )
    reason = "a contact on the deal works at another company than the deal's"
    return [_rows(Deal, reason, Deal.company_id.isnot(None), elsewhere)]


# -- freshness ------------------------------------------------------------------------------------


def open_clause(ws: Workspace, obj: str = "deal") -> ColumnElement[bool]:
    """The records of ``obj`` in an open stage of their pipeline."""
    model: Any = model_for(obj)
    parts = [
        and_(
            model.pipeline == p.key,
            model.stage.in_([s.key for s in p.stages if s.outcome == "open"]),
        )
        for p in ws.pipelines_for(obj)
    ]
    return or_(false(), *parts)


def _decayed(obj: str) -> Parts:
    def parts(env: Env) -> list[Select[Any]]:
        model: Any = model_for(obj)
        days = env.workspace.checks.decay_days
        cutoff = env.now - timedelta(days=days)
        quiet = [
            or_(model.last_activity_at.is_(None), model.last_activity_at < cutoff),
            or_(model.last_verified_at.is_(None), model.last_verified_at < cutoff),
            model.created_at < cutoff,
        ]
        return [_rows(model, f"no activity and no verification in {days} days", *quiet)]

    return parts


def _deal_freshness(env: Env) -> list[Select[Any]]:
    ws = env.workspace
    days = ws.checks.deal_stale_days
    cutoff = env.now - timedelta(days=days)
    is_open = open_clause(ws)
    return [
        _rows(
            Deal,
            "close date is in the past on an open deal",
            is_open,
            Deal.close_date < env.now.date(),
        ),
        _rows(
            Deal,
            f"amount and close date unchanged for {days} days on an open deal",
            is_open,
            Deal.created_at < cutoff,
            # When amount or close date last changed, kept by the operations layer beside the
            # change-log entry that says so (NULL: never, since before the column was kept).
            or_(Deal.figures_changed_at.is_(None), Deal.figures_changed_at < cutoff),
        ),
    ]


# -- identity -------------------------------------------------------------------------------------


def _identity(obj: str) -> Parts:
    """Records in an open pair of the duplicate review queue: not decided either way, and the
    other record still live (not archived, not merged away)."""

    def parts(env: Env) -> list[Select[Any]]:
        model: Any = model_for(obj)
        pair = MatchCandidate
        other = case((pair.record_a == model.id, pair.record_b), else_=pair.record_a)
        decided = exists().where(
            MatchDecision.object == obj,
            MatchDecision.record_a == pair.record_a,
            MatchDecision.record_b == pair.record_b,
            MatchDecision.decision.in_(("distinct", "duplicate")),
        )
        reason = literal("possible duplicate of ") + other
        stmt = (
            select(model.id.label("record_id"), reason.label("reason"))
            .join(pair, or_(pair.record_a == model.id, pair.record_b == model.id))
            .where(
                pair.object == obj,
                not_(decided),
                other.in_(select(model.id).where(live_clause(obj))),
            )
        )
        return [stmt]

    return parts


# -- the catalogue --------------------------------------------------------------------------------


def builtin_checks() -> list[Check]:
    """Every built-in check, by object."""
    checks = []
    for obj in ("contact", "company", "deal", "case"):
        checks.append(
            Check(
                f"{obj}.duplicate",
                obj,
                "identity",
                "The record is not in an open pair of the duplicate review queue.",
                _identity(obj),
            )
        )
    for obj in ("contact", "company", "deal", "case"):
        checks.append(
            Check(
                f"{obj}.stage_fields",
                obj,
                "completeness",
                "Fields the record's stage requires are filled.",
                _completeness(obj),
            )
        )
    linkage = {
        "contact": _linkage_contact,
        "deal": _linkage_deal,
        "activity": _linkage_activity,
        "case": _linkage_case,
    }
    for obj, fn in linkage.items():
        checks.append(
            Check(
                f"{obj}.orphan", obj, "linkage", "The record is linked to what it belongs to.", fn
            )
        )
    for obj in ("contact", "company", "deal", "case"):
        checks.append(
            Check(
                f"{obj}.consistent",
                obj,
                "consistency",
                "Standard formats, defined picklist values and stages, no conflicts with related records.",
                _consistency(obj),
            )
        )
    for obj in LIFECYCLE_OBJECTS:
        checks.append(
            Check(
                f"{obj}.decayed",
                obj,
                "freshness",
                "Recent activity or verification within the decay window.",
                _decayed(obj),
            )
        )
    checks.append(
        Check(
            "deal.stale",
            "deal",
            "freshness",
            "Open deals with a future close date and recently revised figures.",
            _deal_freshness,
        )
    )
    return checks
