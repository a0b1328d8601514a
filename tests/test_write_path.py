"""No record table is written outside the operations layer (an AST check of the source tree)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import plumb.models.records as record_models
from plumb.models import Base

SRC = Path(__file__).resolve().parents[1] / "src" / "plumb"

# Modules allowed to write record tables: the operations layer (with its external-id half), and
# the schema migrations.
WRITERS = {"records/operations.py", "records/external_ids.py"}
EXEMPT_DIRS = {"migrations"}

RECORD_CLASSES = {
    name
    for name, value in vars(record_models).items()
    if isinstance(value, type) and issubclass(value, Base) and value is not Base
}
RECORD_TABLES = {getattr(record_models, name).__tablename__ for name in RECORD_CLASSES}
WRITE_FUNCS = {"insert", "update", "delete", "sql_update", "sql_insert", "sql_delete", "upsert"}
SESSION_WRITES = {
    "add",
    "add_all",
    "merge",
    "bulk_save_objects",
    "bulk_insert_mappings",
    "bulk_update_mappings",
}
RAW_SQL = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+\"?(" + "|".join(sorted(RECORD_TABLES)) + r")\b",
    re.IGNORECASE,
)


def _mentions_record_model(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and (
            sub.id in RECORD_CLASSES or sub.id in ("model", "model_for")
        ):
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in RECORD_CLASSES:
            return True
    return False


def _is_session(node: ast.expr) -> bool:
    """``session``, ``ctx.session``, ``self.session``: what an ORM write would be called on."""
    if isinstance(node, ast.Name):
        return "session" in node.id
    return isinstance(node, ast.Attribute) and "session" in node.attr


def violations(source: str, filename: str) -> list[str]:
    """Every place in ``source`` that writes a record table."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in WRITE_FUNCS and node.args and _mentions_record_model(node.args[0]):
                found.append(f"{filename}:{node.lineno}: {name}() of a record table")
            if (
                isinstance(func, ast.Attribute)
                and name in SESSION_WRITES
                and _is_session(func.value)
            ):
                found.append(
                    f"{filename}:{node.lineno}: session.{name}() (ORM writes bypass the operations layer)"
                )
            if (
                isinstance(func, ast.Attribute)
                and name in ("insert", "update", "delete")
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "__table__"
            ):
                found.append(f"{filename}:{node.lineno}: __table__.{name}()")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and RAW_SQL.search(node.value)
        ):
            found.append(f"{filename}:{node.lineno}: raw SQL writing a record table")
    return found


def test_only_the_operations_layer_writes_record_tables() -> None:
    problems: list[str] = []
    checked = 0
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in WRITERS or rel.split("/")[0] in EXEMPT_DIRS:
            continue
        checked += 1
        problems += violations(path.read_text("utf-8"), rel)
    assert checked > 30
    assert problems == []


def test_the_operations_layer_is_seen_writing() -> None:
    """The checker is not blind: it finds the writes the operations layer really makes."""
    source = (SRC / "records" / "operations.py").read_text("utf-8")
    assert len(violations(source, "operations.py")) >= 3


def test_the_checker_catches_each_way_of_writing() -> None:
    snippets = {
        "from sqlalchemy import update\nupdate(Contact).values(x=1)\n": "update()",
        "session.add(Contact(first_name='x'))\n": "session.add()",
        "Deal.__table__.delete()\n": "__table__.delete()",
        "conn.execute(text('UPDATE contacts SET owner_id = NULL'))\n": "raw SQL",
        "conn.exec_driver_sql('insert into \"deals\" values (1)')\n": "raw SQL",
    }
    for source, expected in snippets.items():
        found = violations(source, "bad.py")
        assert found and expected in found[0], (source, found)
    assert violations("select(Contact).where(Contact.id == 1)\nupdate(User)\n", "ok.py") == []
