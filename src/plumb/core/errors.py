"""One error hierarchy for every interface.

A domain error carries a stable ``code``, an HTTP ``status``, and where it applies the object,
the record, the field and the rule. The API renders it as RFC 9457 problem JSON, the CLI prints
it and exits non-zero, a page shows it at the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldIssue:
    """One thing wrong with one field: which field, which rule, and a sentence for a person."""

    field: str
    rule: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "rule": self.rule, "message": self.message}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass
class PlumbError(Exception):
    """Base of every expected failure. Never raised bare: use a subclass."""

    message: str
    object: str | None = None
    record_id: str | None = None
    issues: list[FieldIssue] = field(default_factory=list)
    rule: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    code = "error"
    status = 400
    title = "Request failed"

    def __str__(self) -> str:
        where = ""
        if self.object:
            where = f"{self.object} {self.record_id}: " if self.record_id else f"{self.object}: "
        lines = [where + self.message]
        lines += [f"  - {i.field}: {i.message} [{i.rule}]" for i in self.issues]
        return "\n".join(lines)

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.object:
            body["object"] = self.object
        if self.record_id:
            body["record_id"] = self.record_id
        if self.rule:
            body["rule"] = self.rule
        if self.issues:
            body["errors"] = [i.as_dict() for i in self.issues]
        body.update(self.extra)
        return body


class ValidationFailed(PlumbError):
    code = "validation_failed"
    status = 422
    title = "The record did not pass validation"


class StageGateError(PlumbError):
    code = "stage_requirements_unmet"
    status = 422
    title = "The stage's required fields are blank"


class NotFound(PlumbError):
    code = "not_found"
    status = 404
    title = "No such record"


class VersionConflict(PlumbError):
    """A write named a version that is no longer current. ``extra`` holds the current record."""

    code = "version_conflict"
    status = 412
    title = "The record changed since you read it"


class PreconditionRequired(PlumbError):
    code = "precondition_required"
    status = 428
    title = "This write needs the version you read (If-Match)"


class Conflict(PlumbError):
    code = "conflict"
    status = 409
    title = "The write conflicts with existing data"


class DuplicateCandidates(Conflict):
    """The write looks like a record that exists; ``extra["candidates"]`` lists each likely
    duplicate with its score and the per-field explanation."""

    code = "duplicate_candidates"
    title = "The record looks like one that exists"


class PermissionDenied(PlumbError):
    code = "permission_denied"
    status = 403
    title = "Not allowed"


class TooManyAttempts(PlumbError):
    """Sign-in refused because of too many recent failures; ``extra['retry_after']`` seconds."""

    code = "login_throttled"
    status = 429
    title = "Too many attempts"


class CsrfFailed(PlumbError):
    code = "csrf_failed"
    status = 403
    title = "Missing or wrong CSRF token"


class NotAuthenticated(PlumbError):
    code = "not_authenticated"
    status = 401
    title = "Authentication required"


class BadRequest(PlumbError):
    code = "bad_request"
    status = 400
    title = "The request could not be understood"


class WorkspaceInvalid(PlumbError):
    """The workspace definition failed validation: ``message`` names the file, line and reason."""

    code = "workspace_invalid"
    status = 500
    title = "The workspace definition is invalid"


class DatabaseNotReady(PlumbError):
    code = "database_not_ready"
    status = 503
    title = "The database schema is not up to date"
