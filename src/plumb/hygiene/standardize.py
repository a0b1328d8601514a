"""Value standardizers: one function per kind of value, each idempotent.

Each takes the raw input and returns the standard form, or raises ``Unstandardizable`` with the
rule that failed. The records layer calls them on every write from every interface.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit


class Unstandardizable(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


_SPACES = re.compile(r"\s+")


def text(value: str) -> str:
    """Unicode NFC, no control characters, single spaces, trimmed."""
    value = unicodedata.normalize("NFC", value)
    if "\x00" in value:
        raise Unstandardizable("text", "contains a NUL character")
    return _SPACES.sub(" ", value).strip()


def longtext(value: str) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    if "\x00" in value:
        raise Unstandardizable("text", "contains a NUL character")
    return value.strip()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email(value: str) -> str:
    value = text(value)
    if value.lower().startswith("mailto:"):
        value = value[7:]
    if not _EMAIL.match(value):
        raise Unstandardizable("email", f"{value!r} is not an e-mail address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower().rstrip('.')}"


_PHONE_CHARS = re.compile(r"^[+0-9()./\-\s]+(?:\s*(?:x|ext\.?|#)\s*\d+)?$", re.IGNORECASE)


def phone(value: str, default_region: str) -> str:
    value = text(value)
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.match(value) or digits < 5 or digits > 20:
        raise Unstandardizable("phone", f"{value!r} is not a phone number")
    return value


def url(value: str) -> str:
    value = text(value)
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in value:
        raise Unstandardizable("url", f"{value!r} is not a web address")
    host = parts.netloc.lower()
    path = parts.path if parts.path not in ("", "/") else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{host}{path}{query}"


def domain(value: str) -> str:
    value = text(value).lower()
    if "@" in value:
        value = value.rpartition("@")[2]
    host = urlsplit(value if "://" in value else "//" + value).hostname or ""
    host = host.removeprefix("www.").rstrip(".")
    if "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host):
        raise Unstandardizable("domain", f"{value!r} is not a domain")
    return host


def country(value: str) -> str:
    return text(value)


def currency(value: str) -> str:
    code = text(value).upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise Unstandardizable("currency", f"{value!r} is not a three-letter currency code")
    return code
