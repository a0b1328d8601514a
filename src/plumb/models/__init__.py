"""ORM tables. Importing this package registers every table on ``Base.metadata``."""

from plumb.models.base import Base
from plumb.models.history import ChainLane, ChangeEntry, WorkspaceRevision
from plumb.models.identity import MatchDecision, Merge, RecordAlias
from plumb.models.matching import MatchCandidate, MatchKey, MatchWeights
from plumb.models.records import (
    RECORD_MODELS,
    Activity,
    ActivityLink,
    Case,
    Company,
    Contact,
    Deal,
    DealContact,
    ExternalId,
    Task,
)
from plumb.models.user import ApiToken, Team, User

__all__ = [
    "RECORD_MODELS",
    "Activity",
    "ActivityLink",
    "ApiToken",
    "Base",
    "Case",
    "ChainLane",
    "ChangeEntry",
    "Company",
    "Contact",
    "Deal",
    "DealContact",
    "ExternalId",
    "MatchCandidate",
    "MatchDecision",
    "MatchKey",
    "MatchWeights",
    "Merge",
    "RecordAlias",
    "Task",
    "Team",
    "User",
    "WorkspaceRevision",
]
