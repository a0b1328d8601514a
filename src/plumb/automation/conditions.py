"""The condition language of rules and routing: a small, safe subset of expressions.

A condition is parsed once, when the workspace definition loads, into a tree of closures. The
user's text is read by Python's parser (``ast.parse`` in expression mode, which only builds a
syntax tree) and every node is checked against a short list of allowed forms; nothing is ever
evaluated as Python. What a condition may contain:

- field names of the record (``amount``, ``region``), related records' fields
  (``company.size``, ``deal.amount``), the acting user (``actor.role``, ``actor.kind``);
- literals: strings, numbers, ``true``/``false``/``null`` (or ``True``/``False``/``None``), lists;
- ``and``, ``or``, ``not``, comparisons (``==  !=  <  <=  >  >=  in  not in``), ``+ - * /``;
- functions: ``blank(x)``, ``present(x)``, ``lower(x)``, ``len(x)``, ``days_since(x)``,
  ``days_until(x)``.

A comparison with a blank value is false (except ``==``/``!=``), so ``amount > 1000`` does not
hold for a deal without an amount; a rule that needs the amount says so in ``requires:``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FieldPath = tuple[str, ...]
Lookup = Callable[[FieldPath], Any]


class ConditionError(ValueError):
    """A condition that does not parse or names something unknown, with its column (1-based)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (at column {column})")
        self.reason = message
        self.column = column


class EvaluationError(ValueError):
    """A condition that parsed but could not be evaluated on this record's values."""


@dataclass(frozen=True)
class Env:
    lookup: Lookup
    now: datetime


Node = Callable[[Env], Any]

LITERAL_NAMES = {"true": True, "false": False, "null": None, "none": None}
FUNCTIONS = ("blank", "present", "lower", "len", "days_since", "days_until")


@dataclass(frozen=True)
class Condition:
    text: str
    paths: frozenset[FieldPath]
    """Every field the condition reads (``("amount",)``, ``("company", "size")``)."""
    _root: Node

    def holds(self, lookup: Lookup, now: datetime) -> bool:
        try:
            return bool(self._root(Env(lookup, now)))
        except (TypeError, ArithmeticError) as exc:
            raise EvaluationError(f"condition {self.text!r} could not be evaluated: {exc}") from exc


def compile_condition(text: str, check_path: Callable[[FieldPath], str | None]) -> Condition:
    """Parse ``text``. ``check_path`` returns None for a known field path, else why it is not."""
    source = text.strip()
    if not source:
        raise ConditionError("the condition is empty", 1)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"does not parse: {exc.msg}", exc.offset or 1) from None
    paths: set[FieldPath] = set()
    root = _Compiler(check_path, paths).node(tree.body)
    return Condition(source, frozenset(paths), root)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.In | ast.NotIn):
        if left is None or right is None:
            return isinstance(op, ast.NotIn)
        if isinstance(left, str) and isinstance(right, list):
            found = left.casefold() in {str(r).casefold() for r in right}
        else:
            found = left in right
        return found if isinstance(op, ast.In) else not found
    if isinstance(op, ast.Eq | ast.NotEq):
        if _blank(left) and _blank(right):
            same = True
        elif isinstance(left, str) and isinstance(right, str):
            same = left.casefold() == right.casefold()
        else:
            same = left == right
        return same if isinstance(op, ast.Eq) else not same
    if left is None or right is None:
        return False
    return _COMPARE[type(op)](left, right)


def _days(value: Any, now: datetime) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (now - value).days
    if isinstance(value, date):
        return (now.date() - value).days
    raise TypeError(f"{value!r} is not a date")


class _Compiler:
    def __init__(self, check_path: Callable[[FieldPath], str | None], paths: set[FieldPath]):
        self.check_path = check_path
        self.paths = paths

    def fail(self, node: ast.AST, message: str) -> ConditionError:
        return ConditionError(message, getattr(node, "col_offset", 0) + 1)

    def node(self, node: ast.expr) -> Node:
        if isinstance(node, ast.BoolOp):
            parts = [self.node(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda env: all(p(env) for p in parts)
            return lambda env: any(p(env) for p in parts)
        if isinstance(node, ast.UnaryOp):
            inner = self.node(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda env: not inner(env)
            if isinstance(node.op, ast.USub):
                return lambda env: None if (v := inner(env)) is None else -v
            raise self.fail(node, "only `not` and `-` may stand before a value")
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp):
            fn = _ARITH.get(type(node.op))
            if fn is None:
                raise self.fail(node, "only + - * / are allowed in arithmetic")
            left, right = self.node(node.left), self.node(node.right)

            def arith(env: Env) -> Any:
                a, b = left(env), right(env)
                return None if a is None or b is None else fn(a, b)

            return arith
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.node(e) for e in node.elts]
            return lambda env: [i(env) for i in items]
        if isinstance(node, ast.Name | ast.Attribute):
            return self.field(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"{type(node).__name__.lower()} expressions are not allowed")

    def constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return lambda env: value
        if isinstance(value, int | float):
            number = Decimal(str(value))
            return lambda env: number
        raise self.fail(node, f"{value!r} is not a value a condition can hold")

    def compare(self, node: ast.Compare) -> Node:
        for op in node.ops:
            if isinstance(op, ast.Is | ast.IsNot):
                raise self.fail(node, "use == / != (or blank(x)) instead of `is`")
        first = self.node(node.left)
        rest = [(op, self.node(c)) for op, c in zip(node.ops, node.comparators, strict=True)]

        def compare(env: Env) -> bool:
            left = first(env)
            for op, fn in rest:
                right = fn(env)
                if not _compare(op, left, right):
                    return False
                left = right
            return True

        return compare

    def field(self, node: ast.Name | ast.Attribute) -> Node:
        parts: list[str] = []
        cursor: ast.expr = node
        while isinstance(cursor, ast.Attribute):
            parts.append(cursor.attr)
            cursor = cursor.value
        if not isinstance(cursor, ast.Name):
            raise self.fail(node, "only field names may be followed by `.field`")
        parts.append(cursor.id)
        path = tuple(reversed(parts))
        if len(path) == 1 and path[0].lower() in LITERAL_NAMES:
            value = LITERAL_NAMES[path[0].lower()]
            return lambda env: value
        problem = self.check_path(path)
        if problem is not None:
            raise self.fail(node, problem)
        self.paths.add(path)
        return lambda env: env.lookup(path)

    def call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise self.fail(node, f"unknown function; the functions are {', '.join(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1:
            raise self.fail(node, f"{node.func.id}() takes one value")
        arg = self.node(node.args[0])
        name = node.func.id
        if name == "blank":
            return lambda env: _blank(arg(env))
        if name == "present":
            return lambda env: not _blank(arg(env))
        if name == "lower":
            return lambda env: None if (v := arg(env)) is None else str(v).lower()
        if name == "len":
            return lambda env: Decimal(len(arg(env) or ()))
        if name == "days_since":
            return lambda env: _as_decimal(_days(arg(env), env.now))
        return lambda env: _as_decimal(None if (d := _days(arg(env), env.now)) is None else -d)


def _as_decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def blank(value: Any) -> bool:
    """Whether a value counts as missing (None, empty text, empty list)."""
    return _blank(value)


def describe(paths: Iterable[FieldPath]) -> list[str]:
    return sorted(".".join(p) for p in paths)
