"""Recording the workspace definition: each new revision is stored and its changes, item by
item (a picklist, a stage, a rule), are written to the change log like any other change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from plumb.core.context import Ctx
from plumb.history import chain
from plumb.models import WorkspaceRevision


def _items(content: dict[str, Any]) -> dict[str, Any]:
    """Flatten to one entry per named thing: ``picklists.lead_source``, ``pipelines.deal.sales``."""
    out: dict[str, Any] = {}
    for section, value in content.items():
        if isinstance(value, dict) and section != "workspace":
            for key, item in value.items():
                if isinstance(item, list) and all(isinstance(i, dict) and "key" in i for i in item):
                    for i in item:
                        out[f"{section}.{key}.{i['key']}"] = i
                else:
                    out[f"{section}.{key}"] = item
        elif isinstance(value, list) and all(isinstance(i, dict) for i in value):
            for i, item in enumerate(value):
                name = item.get("key") or item.get("name") or str(i)
                out[f"{section}.{name}"] = item
        else:
            out[section] = value
    return out


def record_definition(ctx: Ctx) -> bool:
    """Store the running definition if it differs from the last one. True when it changed."""
    loaded = ctx.loaded
    last = ctx.session.scalars(
        select(WorkspaceRevision).order_by(WorkspaceRevision.id.desc()).limit(1)
    ).first()
    if last is not None and last.digest == loaded.digest:
        return False
    before = _items(last.content) if last is not None else {}
    after = _items(loaded.content)
    changes = {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    revision_id = ctx.session.execute(
        insert(WorkspaceRevision)
        .values(digest=loaded.digest, content=loaded.content, loaded_at=ctx.now())
        .returning(WorkspaceRevision.id)
    ).scalar_one()
    chain.append(
        ctx,
        [
            chain.Entry(
                "workspace",
                "definition",
                "update",
                changes,
                revision_id,
                {"source": loaded.source, "digest": loaded.digest},
            )
        ],
    )
    return True
