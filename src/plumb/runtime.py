"""The running application: settings, database, workspace definition, clock and hooks.

Every interface (API, CLI, worker, tests) builds one ``Runtime`` and asks it for a ``Ctx`` per
transaction. This is also where the capabilities that react to writes register their hooks, so
the records layer never imports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from plumb.automation.engine import run_on_changes
from plumb.core.actor import Actor, Source, system_actor
from plumb.core.clock import Clock
from plumb.core.context import Ctx, Hooks
from plumb.core.db import Database
from plumb.core.migrate import ensure_ready
from plumb.core.settings import Settings, get_settings
from plumb.identity import entry as identity_entry
from plumb.identity.merge import merge
from plumb.workspace.loader import LoadedWorkspace, load_workspace
from plumb.workspace.revisions import record_definition


def default_hooks() -> Hooks:
    """The hooks of every capability that reacts to writes."""
    identity_before, identity_after = identity_entry.hooks(merge=_merge_on_entry)
    return Hooks(before_write=[identity_before], after_write=[identity_after, run_on_changes])


def _merge_on_entry(ctx: Ctx, obj: str, survivor_id: str, merged_ids: list[str]) -> object:
    """The ``merge`` entry policy: the record just written is merged into the existing one,
    in the same transaction, under the writer's rights with source ``merge``."""
    merging = replace(ctx, actor=replace(ctx.actor, source=Source.MERGE))
    return merge(merging, obj, survivor_id, merged_ids, note="entry policy: merge")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    loaded: LoadedWorkspace
    clock: Clock = field(default_factory=Clock)
    hooks: Hooks = field(default_factory=default_hooks)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, clock: Clock | None = None
    ) -> Runtime:
        settings = settings or get_settings()
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            loaded=load_workspace(settings.workspace),
            clock=clock or Clock(),
        )

    def ctx(self, session: Session, actor: Actor, **kwargs: object) -> Ctx:
        return Ctx(
            session=session,
            actor=actor,
            loaded=self.loaded,
            clock=self.clock,
            hooks=self.hooks,
            **kwargs,  # type: ignore[arg-type]
        )

    @contextmanager
    def transaction(self, actor: Actor, **kwargs: object) -> Iterator[Ctx]:
        """A write transaction: commits when the block ends, rolls back if it raises."""
        with self.db.write_session() as session:
            yield self.ctx(session, actor, **kwargs)

    @contextmanager
    def reading(self, actor: Actor) -> Iterator[Ctx]:
        with self.db.read_session() as session:
            yield self.ctx(session, actor)

    def start(self) -> None:
        """Make the database ready (upgrade an empty one) and record the definition in use."""
        ensure_ready(self.db.url, lanes=self.settings.chain_lanes)
        with self.transaction(system_actor()) as ctx:
            record_definition(ctx)

    def close(self) -> None:
        self.db.dispose()
