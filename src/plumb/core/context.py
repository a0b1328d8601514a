"""The context every operation and query runs in.

``Ctx`` bundles the session (whose transaction the caller owns), the actor, the workspace
definition, the clock and the hooks the running application registered. Interfaces build one at
their edge (``plumb.runtime.Runtime.ctx``) and pass it down; nothing below reads globals.

Hooks let later stages of the write path (identity checks before a write, rules after it) run
inside the same transaction without the records layer importing them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from plumb.core.actor import Actor
from plumb.core.clock import Clock
from plumb.core.errors import PlumbError

if TYPE_CHECKING:
    from plumb.workspace.loader import LoadedWorkspace
    from plumb.workspace.schema import Workspace


@dataclass
class PendingWrite:
    """A record about to be created or changed, after validation, before it is written."""

    object: str
    record_id: str | None
    action: str
    values: dict[str, Any]
    """The record's values as they will be after the write (JSON form, all fields)."""
    changes: dict[str, list[Any]]
    source_item: int | None = None
    """Index of the input item in a bulk call, so a hook can report per item."""
    error: PlumbError | None = None
    """Set by a hook to refuse this write (the rest of a bulk call goes ahead)."""
    context: dict[str, Any] = field(default_factory=dict)
    """The change-log context of this write: what a hook puts here is recorded with it."""


@dataclass
class RecordChange:
    """A record that was written: what changed, old -> new (JSON form)."""

    object: str
    record_id: str
    action: str
    changes: dict[str, list[Any]]
    values: dict[str, Any]
    version: int


BeforeWrite = Callable[["Ctx", list[PendingWrite]], None]
AfterWrite = Callable[["Ctx", list[RecordChange]], None]


@dataclass
class Hooks:
    before_write: list[BeforeWrite] = field(default_factory=list)
    after_write: list[AfterWrite] = field(default_factory=list)


@dataclass
class Ctx:
    session: Session
    actor: Actor
    loaded: LoadedWorkspace
    clock: Clock = field(default_factory=Clock)
    hooks: Hooks = field(default_factory=Hooks)
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    depth: int = 0
    """How many rule firings deep this change is (0: a person or system acted directly)."""
    flags: frozenset[str] = frozenset()
    """Named exceptions the caller asked for and was allowed (e.g. a stage-gate bypass)."""

    @property
    def workspace(self) -> Workspace:
        return self.loaded.workspace

    def now(self) -> datetime:
        return self.clock.now()

    def derive(self, **changes: Any) -> Ctx:
        """The same transaction under another actor or depth (a rule acting)."""
        return replace(self, **changes)
