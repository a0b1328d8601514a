"""The one settings object. Every setting is a ``PLUMB_*`` environment variable.

Each field's description is the documentation: ``docs/settings.md`` is generated from it
and a test fails when the two disagree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLUMB_", env_file=None, extra="ignore")

    database_url: str = Field(
        "sqlite:///./plumb.db",
        description=(
            "SQLAlchemy URL of the database. The embedded default is a SQLite file; "
            "for PostgreSQL use postgresql://user@host:5432/dbname (the psycopg 3 driver is used)."
        ),
    )
    workspace: Path = Field(
        Path("./plumb.yaml"),
        description=(
            "Path of the workspace definition (fields, picklists, stages, pipelines). "
            "When the file does not exist the built-in default definition is used; "
            "`plumb init` writes it out so it can be edited."
        ),
    )
    host: str = Field("127.0.0.1", description="Address `plumb serve` listens on.")
    port: int = Field(8000, description="Port `plumb serve` listens on.")
    cli_user: str | None = Field(
        None,
        description=(
            "E-mail of the user the CLI acts as when `--as` is not given. Without either, "
            "the CLI acts as the local operator (full rights, recorded as source `cli`)."
        ),
    )
    session_hours: int = Field(
        12,
        ge=1,
        le=24 * 30,
        description="How long a web sign-in lasts before the user signs in again.",
    )
    cookie_secure: bool = Field(
        True,
        description=(
            "Mark the session cookie Secure (sent over HTTPS only). Turn off only for a local "
            "instance served over plain HTTP on 127.0.0.1."
        ),
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description=(
            "Failed sign-ins for one e-mail address within `login_window_minutes` after which "
            "further attempts are refused until the window passes (four times as many from one "
            "network address, across accounts)."
        ),
    )
    login_window_minutes: int = Field(
        15, ge=1, description="The window over which failed sign-ins are counted."
    )
    log_level: str = Field("info", description="Log level of the server: debug, info, warning.")
    chain_lanes: int = Field(
        16,
        ge=1,
        le=256,
        description=(
            "Number of independent hash-chain lanes of the change log on PostgreSQL. Concurrent "
            "writers take different lanes, so they never wait on one global lock. SQLite "
            "serializes writers anyway and always uses lane 0. Only read when lanes are created."
        ),
    )

    import_workers: int | None = Field(
        None,
        ge=1,
        description=(
            "Processes that standardize an import's rows (phones, e-mails, countries, ...) "
            "ahead of its writes, two batches ahead of the one being written. Unset: one "
            "per CPU core; 1: everything in the importing process. Results are the same "
            "either way."
        ),
    )

    smtp_host: str | None = Field(
        None,
        description=(
            "SMTP server the worker sends e-mail through. Without it, e-mail messages in the "
            "outbox fail with that reason, are retried, and end as dead letters."
        ),
    )
    smtp_port: int = Field(25, description="Port of the SMTP server (587 with STARTTLS, 465 SSL).")
    smtp_from: str = Field(
        "plumb@localhost",
        description=(
            "Sender address of e-mail the worker sends; its domain also names the Message-ID."
        ),
    )
    smtp_user: str | None = Field(
        None, description="User name to authenticate to the SMTP server (none: no AUTH)."
    )
    smtp_password: SecretStr | None = Field(
        None, description="Password to authenticate to the SMTP server."
    )
    smtp_starttls: bool = Field(
        False, description="Upgrade the SMTP connection with STARTTLS before authenticating."
    )
    smtp_ssl: bool = Field(
        False, description="Connect to the SMTP server over TLS from the start (port 465)."
    )
    smtp_timeout_seconds: float = Field(
        30, gt=0, description="Timeout of each SMTP network operation."
    )
    webhook_timeout_seconds: float = Field(
        10,
        gt=0,
        description=(
            "Timeout of connecting to a webhook receiver and of each read of its answer; a "
            "timeout counts as a failed attempt and is retried."
        ),
    )
    worker_poll_seconds: float = Field(
        2,
        gt=0,
        description="How long `plumb worker` waits before looking again when nothing was due.",
    )
    outbox_max_attempts: int = Field(
        8,
        ge=1,
        description=(
            "Delivery attempts of an outbox message before it becomes a dead letter (status "
            "`dead`, shown by `plumb outbox list --status dead`, replayable)."
        ),
    )
    outbox_backoff_base_seconds: float = Field(
        10,
        gt=0,
        description=(
            "Wait before the second attempt; each later wait doubles, with random jitter "
            "(between half and all of the doubled wait), up to `outbox_backoff_cap_seconds`."
        ),
    )
    outbox_backoff_cap_seconds: float = Field(
        3600, gt=0, description="Longest wait between two attempts of one message."
    )
    outbox_lease_seconds: float = Field(
        300,
        gt=0,
        description=(
            "How long a claimed batch is reserved for the worker delivering it. A worker that "
            "dies mid-delivery leaves its messages to be delivered again once this passes; keep "
            "it above the batch size times the slowest delivery."
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_markdown() -> str:
    """The reference page of every setting (docs/settings.md is this, checked by a test)."""
    lines = [
        "# Settings",
        "",
        "Plumb reads its settings from `PLUMB_*` environment variables (nothing else: no",
        "settings file, so a deployment states them where it runs the process).",
        "The workspace definition (fields, stages, pipelines) is a separate file: see",
        "[workspace.md](workspace.md).",
        "",
        "| Variable | Default | What it does |",
        "|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        default = "(none)" if info.default is None else f"`{info.default}`"
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `PLUMB_{name.upper()}` | {default} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
