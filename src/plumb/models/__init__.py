"""ORM tables. Importing this package registers every table on ``Base.metadata``."""

from plumb.models.automation import RoutingCounter, RuleFiring, RuleGap, RuleOutcome
from plumb.models.base import Base
from plumb.models.history import ChainLane, ChangeEntry, WorkspaceRevision
from plumb.models.identity import MatchDecision, Merge, RecordAlias
from plumb.models.imports import ImportRowError, ImportRun
from plumb.models.matching import MatchCandidate, MatchKey, MatchWeights
from plumb.models.outbox import OutboxMessage
from plumb.models.quality import QualitySnapshot
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
from plumb.models.user import ApiToken, LoginAttempt, Team, User, WebSession
from plumb.models.worker import WorkerJob

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
    "ImportRowError",
    "ImportRun",
    "LoginAttempt",
    "MatchCandidate",
    "MatchDecision",
    "MatchKey",
    "MatchWeights",
    "Merge",
    "OutboxMessage",
    "QualitySnapshot",
    "RecordAlias",
    "RoutingCounter",
    "RuleFiring",
    "RuleGap",
    "RuleOutcome",
    "Task",
    "Team",
    "User",
    "WebSession",
    "WorkerJob",
    "WorkspaceRevision",
]
