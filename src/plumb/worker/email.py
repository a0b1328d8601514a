"""E-mail over SMTP. The Message-ID is derived from the outbox id, so a message delivered twice
(a worker stopped between sending and recording) can be recognised by the receiving side."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from plumb.core.settings import Settings
from plumb.worker.outcome import Delivered, Outcome, Refused, Retry


def message_id(outbox_id: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{outbox_id}.outbox@{domain}>"


def build_email(
    settings: Settings, outbox_id: str, to: str, payload: dict[str, Any], now: datetime
) -> EmailMessage:
    """The MIME message; ValueError when the payload cannot make one."""
    subject, text = payload.get("subject"), payload.get("text")
    if not isinstance(subject, str) or not isinstance(text, str):
        raise ValueError('an e-mail payload needs "subject" and "text" strings')
    msg = EmailMessage()
    # The default policy refuses header values with line breaks (no header injection).
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(outbox_id, settings.smtp_from)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    return msg


def send_email(
    settings: Settings, outbox_id: str, to: str, payload: dict[str, Any], now: datetime
) -> Outcome:
    if not settings.smtp_host:
        return Retry("PLUMB_SMTP_HOST is not set: no SMTP server to send e-mail through")
    try:
        msg = build_email(settings, outbox_id, to, payload, now)
    except ValueError as exc:
        return Refused(f"cannot build the e-mail: {exc}")
    timeout = settings.smtp_timeout_seconds
    try:
        smtp: smtplib.SMTP
        if settings.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(
            f"{rcpt}: {code} {text!r}" for rcpt, (code, text) in exc.recipients.items()
        )
        if all(code >= 500 for code in codes):
            return Refused(f"the SMTP server refused the recipient: {reason}")
        return Retry(f"the SMTP server deferred the recipient: {reason}")
    except (smtplib.SMTPException, OSError) as exc:
        return Retry(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}")
    return Delivered(f"accepted by {settings.smtp_host}")
