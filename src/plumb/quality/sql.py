"""Conditions as SQL: the set-based path for slices and custom checks.

A condition in the language of rules (``plumb.automation.conditions``) is compiled once into
closures that read one record. Over a million records that is a Python loop, so the simple
forms (a field compared with literals, ``in`` a list, ``blank``/``present``, ``and``/``or``/
``not``) are also translated into a WHERE clause with the same meaning. Anything else (related
records, ``days_since``, arithmetic) is not translated; ``matching`` then streams the records in
batches and evaluates the compiled condition on each, so both paths give the same answer.

Every clause built here is two-valued (never SQL NULL), so ``not`` means what it says: a
comparison with a blank value is false, as in the condition language.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true

from plumb.automation.conditions import LITERAL_NAMES, Condition, compile_condition
from plumb.automation.subject import Subject
from plumb.core.context import Ctx
from plumb.models.base import RecordMixin
from plumb.records import queries
from plumb.records.rows import model_for
from plumb.workspace.rules import field_type, path_problem
from plumb.workspace.standard import FieldType

TEXT_TYPES = {
    FieldType.TEXT,
    FieldType.LONGTEXT,
    FieldType.PICKLIST,
    FieldType.EMAIL,
    FieldType.PHONE,
    FieldType.URL,
    FieldType.CHOICE,
    FieldType.STAGE,
    FieldType.PIPELINE,
    FieldType.CURRENCY,
    FieldType.COUNTRY,
    FieldType.REGION,
    FieldType.DOMAIN,
    FieldType.RECORD,
    FieldType.USER,
}
NUMBER_TYPES = {FieldType.NUMBER, FieldType.MONEY}
BATCH = 1000
LIST_COLUMNS = {"phones": "phone", "emails": "email"}
"""A contact's lists are blank exactly when their first item, kept in a column, is."""


class Untranslatable(Exception):
    """The condition uses a form the SQL path does not cover."""


def compile_for(ctx: Ctx, obj: str, text: str) -> Condition:
    """Compile ``text`` for ``obj`` records (raises ConditionError naming the column)."""
    ws = ctx.workspace
    return compile_condition(text, lambda p: path_problem(ws, obj, p))


def to_sql(ctx: Ctx, obj: str, text: str) -> ColumnElement[bool] | None:
    """A WHERE clause equivalent to the condition, or None when it cannot be translated."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
        return _Translator(ctx, obj).node(tree.body)
    except (Untranslatable, SyntaxError):
        return None


def matching(ctx: Ctx, obj: str, text: str, scope: ColumnElement[bool] | None = None) -> Any:
    """A clause selecting ``obj`` records where the condition holds: translated when possible,
    else ``id IN (...)`` after evaluating the compiled condition on each record in batches."""
    condition = compile_for(ctx, obj, text)
    clause = to_sql(ctx, obj, text)
    if clause is not None:
        return clause
    model = model_for(obj)
    ids = [
        s.record_id for s in stream(ctx, obj, scope) if condition.holds(_lookup(ctx, s), ctx.now())
    ]
    return model.id.in_(ids) if ids else false()


def stream(ctx: Ctx, obj: str, scope: ColumnElement[bool] | None = None) -> Iterator[Subject]:
    """Every unarchived ``obj`` record in ``scope``, in batches, as condition subjects."""
    model = model_for(obj)
    after = ""
    while True:
        stmt = select(model).where(model.archived.is_(False), model.id > after)
        if scope is not None:
            stmt = stmt.where(scope)
        batch = list(ctx.session.scalars(stmt.order_by(model.id).limit(BATCH)))
        if not batch:
            return
        for record, snap in zip(batch, queries.snapshots(ctx, obj, batch), strict=True):
            yield Subject(obj, record.id, snap, record.version)
        after = batch[-1].id
        ctx.session.expunge_all()


def _lookup(ctx: Ctx, subject: Subject) -> Any:
    return lambda path: subject.lookup(ctx, path)


def holds(ctx: Ctx, condition: Condition, subject: Subject) -> bool:
    return condition.holds(_lookup(ctx, subject), ctx.now())


class _Translator:
    def __init__(self, ctx: Ctx, obj: str) -> None:
        self.ctx = ctx
        self.obj = obj
        self.model: type[RecordMixin] = model_for(obj)

    def node(self, node: ast.expr) -> ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            parts = [self.node(v) for v in node.values]
            return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.node(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.compare(node.ops[0], node.left, node.comparators[0])
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("blank", "present")
            and len(node.args) == 1
            and not node.keywords
        ):
            col, _ = self.column(node.args[0])
            empty = or_(col.is_(None), col == "") if _is_text(col) else col.is_(None)
            return empty if node.func.id == "blank" else not_(empty)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return true() if node.value else false()
        raise Untranslatable

    def column(self, node: ast.expr) -> tuple[Any, FieldType]:
        if not isinstance(node, ast.Name) or node.id.lower() in LITERAL_NAMES:
            raise Untranslatable
        name = LIST_COLUMNS.get(node.id, node.id) if self.obj == "contact" else node.id
        if path_problem(self.ctx.workspace, self.obj, (name,)) is not None:
            raise Untranslatable
        if name in ("id", "created_by"):
            return getattr(self.model, name), FieldType.TEXT
        kind = field_type(self.ctx.workspace, self.obj, name)
        if kind is None or (kind not in TEXT_TYPES and kind not in NUMBER_TYPES):
            raise Untranslatable
        if name in self.model.__table__.columns:  # type: ignore[attr-defined]
            return getattr(self.model, name), kind
        if kind in TEXT_TYPES and any(
            f.name == name for f in self.ctx.workspace.custom_fields(self.obj)
        ):
            return self.model.custom[name].as_string(), kind
        raise Untranslatable

    def literal(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, str | int | float | bool)
        ):
            return node.value
        if isinstance(node, ast.Name) and node.id.lower() in LITERAL_NAMES:
            return LITERAL_NAMES[node.id.lower()]
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [self.literal(e) for e in node.elts]
        raise Untranslatable

    def compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> ColumnElement[bool]:
        if isinstance(left, ast.Name) and left.id.lower() not in LITERAL_NAMES:
            col, kind = self.column(left)
            value = self.literal(right)
        else:
            raise Untranslatable
        text = kind in TEXT_TYPES
        if value is None or value == "":
            if not isinstance(op, ast.Eq | ast.NotEq):
                return false()
            empty = or_(col.is_(None), col == "") if text else col.is_(None)
            return empty if isinstance(op, ast.Eq) else not_(empty)
        present = and_(col.isnot(None), col != "") if text else col.isnot(None)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(value, list) or not text:
                raise Untranslatable
            words = [str(v).casefold() for v in value if v is not None]
            inside = and_(present, func.lower(col).in_(words)) if words else false()
            return inside if isinstance(op, ast.In) else not_(inside)
        if text:
            if not isinstance(value, str):
                raise Untranslatable
            if isinstance(op, ast.Eq):
                return and_(present, func.lower(col) == value.casefold())
            if isinstance(op, ast.NotEq):
                return not_(and_(present, func.lower(col) == value.casefold()))
            raise Untranslatable
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Untranslatable
        number = Decimal(str(value))
        ops = {
            ast.Eq: col == number,
            ast.NotEq: col != number,
            ast.Lt: col < number,
            ast.LtE: col <= number,
            ast.Gt: col > number,
            ast.GtE: col >= number,
        }
        clause = ops.get(type(op))
        if clause is None:
            raise Untranslatable
        if isinstance(op, ast.NotEq):
            return or_(col.is_(None), clause)
        return and_(col.isnot(None), clause)


def _is_text(col: Any) -> bool:
    try:
        return col.type.python_type is str
    except NotImplementedError:
        return True
