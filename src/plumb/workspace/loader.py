"""Load and validate the workspace definition, reporting problems as ``file:line: reason``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plumb.core.errors import WorkspaceInvalid
from plumb.workspace.schema import Path as NodePath
from plumb.workspace.schema import Workspace
from plumb.workspace.standard import STANDARD_PICKLISTS

DEFAULT_RESOURCE = "default.yaml"


@dataclass(frozen=True)
class LoadedWorkspace:
    workspace: Workspace
    source: str
    """Where it came from: a file path, or "built-in default"."""
    digest: str
    """SHA-256 of the canonical JSON of the definition: equal digests, equal definitions."""
    content: dict[str, Any]


def default_text() -> str:
    return resources.files("plumb.workspace").joinpath(DEFAULT_RESOURCE).read_text("utf-8")


def load_workspace(path: Path | None) -> LoadedWorkspace:
    """Load ``path``, or the built-in default when ``path`` is None or does not exist."""
    if path is None or not path.exists():
        return parse_workspace(default_text(), "built-in default")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise WorkspaceInvalid(f"{path}: cannot be read: {exc.strerror}") from exc
    return parse_workspace(text, str(path))


def parse_workspace(text: str, source: str) -> LoadedWorkspace:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise WorkspaceInvalid(f"{source}{line}: not valid YAML: {exc.problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkspaceInvalid(f"{source}:1: the workspace definition must be a mapping")
    data = _with_default_roles(_with_standard_picklists(data, source), source)
    data = _with_default_matching(data, source)
    try:
        workspace = Workspace.model_validate(data)
    except ValidationError as exc:
        lines = [
            _where(source, root, tuple(err["loc"]))
            + f"{_dotted(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise WorkspaceInvalid(_summary(source, lines)) from exc
    problems = workspace.problems()
    if problems:
        lines = [_where(source, root, p) + f"{_dotted(p)}: {msg}" for p, msg in problems]
        raise WorkspaceInvalid(_summary(source, lines))
    content = workspace.model_dump(mode="json")
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return LoadedWorkspace(workspace=workspace, source=source, digest=digest, content=content)


def _with_standard_picklists(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Fill in the standard picklists a definition leaves out, from the built-in default."""
    picklists = data.get("picklists") or {}
    if not isinstance(picklists, dict):
        return data
    missing = [name for name in STANDARD_PICKLISTS if name not in picklists]
    if not missing or source == "built-in default":
        return data
    defaults = yaml.safe_load(default_text())["picklists"]
    filled = dict(picklists)
    for name in missing:
        filled[name] = defaults[name]
    return {**data, "picklists": filled}


def _with_default_roles(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A definition without a ``roles`` section gets the default roles."""
    if "roles" in data or source == "built-in default":
        return data
    return {**data, "roles": yaml.safe_load(default_text())["roles"]}


def _with_default_matching(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A definition without a ``matching`` section gets the default duplicate matching
    (``matching: {}`` turns it off)."""
    if "matching" in data or source == "built-in default":
        return data
    return {**data, "matching": yaml.safe_load(default_text())["matching"]}


def _summary(source: str, lines: list[str]) -> str:
    count = len(lines)
    head = f"{source}: {count} problem{'s' if count != 1 else ''} in the workspace definition"
    return "\n".join([head, *lines])


def _dotted(loc: tuple[Any, ...] | NodePath) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _where(source: str, root: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    node = _node_at(root, loc)
    line = node.start_mark.line + 1 if node is not None else 1
    return f"{source}:{line}: "


def _node_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The deepest YAML node along ``loc`` (pydantic's error location)."""
    node = root
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    child = value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            return node
        node = child
    return node
