"""Who is acting. One Actor is built at each interface's edge and passed to every operation.

``kind`` says what sort of principal acts (a person, a token, a rule, an import job, an
integration, an AI agent, or the system itself); ``source`` says through which door the change
came (ui, api, cli, import, rule, integration, email, agent, merge). Both land in history.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    TOKEN = "token"  # noqa: S105 - an actor kind, not a secret
    RULE = "rule"
    IMPORT = "import"
    INTEGRATION = "integration"
    AGENT = "agent"
    SYSTEM = "system"


class Source(StrEnum):
    UI = "ui"
    API = "api"
    CLI = "cli"
    IMPORT = "import"
    RULE = "rule"
    INTEGRATION = "integration"
    EMAIL = "email"
    AGENT = "agent"
    MERGE = "merge"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    source: Source
    label: str
    id: str | None = None
    user_id: str | None = None
    """The user whose rights apply (the token's owner, the signed-in person); None for system."""
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    """Token scopes; empty for a person signed in (their role decides)."""
    on_behalf_of: str | None = None
    """For rules and integrations: the label of the actor whose change set them off."""

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def acting_as(self, kind: ActorKind, source: Source, label: str, ident: str | None) -> Actor:
        """A derived actor (a rule firing because of this actor's change)."""
        return replace(
            self, kind=kind, source=source, label=label, id=ident, on_behalf_of=self.label
        )


def system_actor(source: Source = Source.SYSTEM, label: str = "system") -> Actor:
    return Actor(kind=ActorKind.SYSTEM, source=source, label=label)
