"""The standard fields of each object, before any custom field.

A field's ``name`` is also its column on the record table. ``personal`` marks personal data
that ``plumb erase`` removes; ``read_only`` marks fields Plumb maintains itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"
    LONGTEXT = "longtext"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    RECORD = "record"
    USER = "user"
    # Used by standard fields only:
    CHOICE = "choice"  # a fixed set of values the code relies on (task status, activity type)
    STAGE = "stage"  # a lifecycle stage or a pipeline stage
    PIPELINE = "pipeline"
    CURRENCY = "currency"
    COUNTRY = "country"
    REGION = "region"  # ISO 3166-2 when the record's country is known
    DOMAIN = "domain"
    DEAL_CONTACTS = "deal_contacts"  # [{contact_id, role}] kept in deal_contacts
    LINKS = "links"  # [{type, id}] kept in activity_links
    PARTICIPANTS = "participants"  # [{email, name}] on an activity
    RECORD_ANY = "record_any"  # a task's record: {type, id}


CUSTOM_FIELD_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONGTEXT,
        FieldType.NUMBER,
        FieldType.MONEY,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.BOOLEAN,
        FieldType.PICKLIST,
        FieldType.MULTI_PICKLIST,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.RECORD,
        FieldType.USER,
    }
)

OBJECTS = ("contact", "company", "deal", "activity", "task", "case")
PLURALS = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "activity": "activities",
    "task": "tasks",
    "case": "cases",
}
SINGULARS = {v: k for k, v in PLURALS.items()}

# Keys every record's JSON form carries besides its fields.
META_KEYS = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "archived",
    "archived_at",
    "archive_reason",
)

# Names a custom field may not take: the record's own columns and the API's meta keys.
RESERVED_NAMES = frozenset(
    {
        "id",
        "object",
        "owner_id",
        "created_at",
        "updated_at",
        "created_by",
        "version",
        "archived",
        "archived_at",
        "archive_reason",
        "custom",
        "email",
        "phone",
        "name",
        "external_id",
        "external_ids",
        "aliases",
        "as_of",
    }
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str
    required: bool = False
    picklist: str | None = None
    target: str | None = None
    choices: tuple[str, ...] = ()
    many: bool = False
    personal: bool = False
    read_only: bool = False
    description: str = ""


def _address(personal: bool) -> list[FieldSpec]:
    return [
        FieldSpec("street", FieldType.TEXT, "Street", personal=personal),
        FieldSpec("city", FieldType.TEXT, "City", personal=personal),
        FieldSpec("region", FieldType.REGION, "Region / state"),
        FieldSpec("postal_code", FieldType.TEXT, "Postal code", personal=personal),
        FieldSpec("country", FieldType.COUNTRY, "Country"),
    ]


OWNER = FieldSpec("owner_id", FieldType.USER, "Owner", description="The accountable owner.")
LAST_ACTIVITY = FieldSpec(
    "last_activity_at",
    FieldType.DATETIME,
    "Last activity",
    read_only=True,
    description="Time of the latest activity logged on the record.",
)
LAST_VERIFIED = FieldSpec(
    "last_verified_at",
    FieldType.DATETIME,
    "Last verified",
    description="When a person last confirmed the record, or an e-mail exchange proved it.",
)

STANDARD_FIELDS: dict[str, list[FieldSpec]] = {
    "contact": [
        OWNER,
        FieldSpec("first_name", FieldType.TEXT, "First name", personal=True),
        FieldSpec("last_name", FieldType.TEXT, "Last name", personal=True),
        FieldSpec("emails", FieldType.EMAIL, "E-mail addresses", many=True, personal=True),
        FieldSpec("phones", FieldType.PHONE, "Phone numbers", many=True, personal=True),
        FieldSpec("job_title", FieldType.TEXT, "Job title"),
        *_address(personal=True),
        FieldSpec("lifecycle_stage", FieldType.STAGE, "Lifecycle stage"),
        FieldSpec("lead_status", FieldType.PICKLIST, "Lead status", picklist="lead_status"),
        FieldSpec("lead_source", FieldType.PICKLIST, "Lead source", picklist="lead_source"),
        FieldSpec("company_id", FieldType.RECORD, "Primary company", target="company"),
        LAST_ACTIVITY,
        LAST_VERIFIED,
    ],
    "company": [
        OWNER,
        FieldSpec("name", FieldType.TEXT, "Name", required=True),
        FieldSpec(
            "name_key",
            FieldType.TEXT,
            "Name match key",
            read_only=True,
            description="The name without legal suffix, case and punctuation (Acme, Inc. -> acme).",
        ),
        FieldSpec("domain", FieldType.DOMAIN, "Domain"),
        FieldSpec("website", FieldType.URL, "Website"),
        FieldSpec("phone", FieldType.PHONE, "Phone"),
        FieldSpec("industry", FieldType.PICKLIST, "Industry", picklist="industry"),
        FieldSpec("size", FieldType.PICKLIST, "Size", picklist="company_size"),
        *_address(personal=False),
        FieldSpec("lifecycle_stage", FieldType.STAGE, "Lifecycle stage"),
        LAST_ACTIVITY,
        LAST_VERIFIED,
    ],
    "deal": [
        OWNER,
        FieldSpec("name", FieldType.TEXT, "Name", required=True),
        FieldSpec("pipeline", FieldType.PIPELINE, "Pipeline", required=True),
        FieldSpec("stage", FieldType.STAGE, "Stage", required=True),
        FieldSpec("amount", FieldType.MONEY, "Amount"),
        FieldSpec("currency", FieldType.CURRENCY, "Currency"),
        FieldSpec("close_date", FieldType.DATE, "Close date"),
        FieldSpec("company_id", FieldType.RECORD, "Company", target="company"),
        FieldSpec("contacts", FieldType.DEAL_CONTACTS, "Contacts", many=True),
        FieldSpec(
            "stage_entered_at",
            FieldType.DATETIME,
            "Entered stage",
            read_only=True,
            description="When the deal entered its current stage.",
        ),
        LAST_ACTIVITY,
    ],
    "activity": [
        OWNER,
        FieldSpec(
            "type",
            FieldType.CHOICE,
            "Type",
            required=True,
            choices=("email", "call", "meeting", "note"),
        ),
        FieldSpec("direction", FieldType.CHOICE, "Direction", choices=("inbound", "outbound")),
        FieldSpec("occurred_at", FieldType.DATETIME, "Time", required=True),
        FieldSpec("subject", FieldType.TEXT, "Subject"),
        FieldSpec("body", FieldType.LONGTEXT, "Body"),
        FieldSpec("participants", FieldType.PARTICIPANTS, "Participants", many=True),
        FieldSpec("links", FieldType.LINKS, "Related records", many=True),
    ],
    "task": [
        OWNER,
        FieldSpec("title", FieldType.TEXT, "Title", required=True),
        FieldSpec("description", FieldType.LONGTEXT, "Description"),
        FieldSpec("due_date", FieldType.DATE, "Due"),
        FieldSpec(
            "status",
            FieldType.CHOICE,
            "Status",
            required=True,
            choices=("open", "done", "cancelled"),
        ),
        FieldSpec("assignee_id", FieldType.USER, "Assignee"),
        FieldSpec("record", FieldType.RECORD_ANY, "Record"),
        FieldSpec("completed_at", FieldType.DATETIME, "Completed", read_only=True),
    ],
    "case": [
        OWNER,
        FieldSpec("subject", FieldType.TEXT, "Subject", required=True),
        FieldSpec("description", FieldType.LONGTEXT, "Description"),
        FieldSpec("status", FieldType.PICKLIST, "Status", picklist="case_status"),
        FieldSpec("priority", FieldType.PICKLIST, "Priority", picklist="case_priority"),
        FieldSpec("pipeline", FieldType.PIPELINE, "Pipeline", required=True),
        FieldSpec("stage", FieldType.STAGE, "Stage", required=True),
        FieldSpec("contact_id", FieldType.RECORD, "Contact", target="contact"),
        FieldSpec("company_id", FieldType.RECORD, "Company", target="company"),
        FieldSpec("stage_entered_at", FieldType.DATETIME, "Entered stage", read_only=True),
    ],
}

# Picklists standard fields rely on. A workspace that leaves one out gets these values.
STANDARD_PICKLISTS = (
    "lead_status",
    "lead_source",
    "industry",
    "company_size",
    "case_status",
    "case_priority",
    "deal_contact_role",
)

# Which objects carry lifecycle stages, and which run in pipelines.
LIFECYCLE_OBJECTS = ("contact", "company")
PIPELINE_OBJECTS = ("deal", "case")
