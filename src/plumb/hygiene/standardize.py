"""Value standardizers: one function per kind of value, each idempotent.

Each takes the raw input and returns the standard form, or raises ``Unstandardizable`` with the
rule that failed. The records layer calls them on every write from every interface.

The work is done by field-made libraries, all offline: phonenumbers (E.164), email-validator
(syntax only, never DNS), pycountry (ISO 3166-1 and 3166-2, ISO 4217), tldextract (registrable
domains from its bundled public-suffix snapshot, never fetched), cleanco (legal suffixes) and
nameparser (full names). Results that are pure functions of the input are cached, so a column
of repeated values (a company phone on every contact of an import) is parsed once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from urllib.parse import urlsplit

import phonenumbers
import pycountry
import tldextract
from cleanco import basename
from email_validator import EmailNotValidError, validate_email
from nameparser import HumanName

from plumb.hygiene.freemail import is_free_mail


class Unstandardizable(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


KEEPABLE_RULES = frozenset({"email", "phone", "url", "domain", "country", "region"})
"""Rules a workspace may choose to keep (store as typed, flagged) rather than refuse. Others
(a NUL character, a free-mail company domain, a currency code) are always refused."""

_SPACES = re.compile(r"\s+")
_CACHE_SIZE = 16384


# C0 and C1 control characters (and DEL), but not NUL (refused), tab, line feed and carriage
# return. In one-line text, whitespace controls such as a vertical tab become a space.
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NON_SPACE_CONTROLS = re.compile(r"[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def text(value: str) -> str:
    """Unicode NFC, no control characters, single spaces, trimmed."""
    if "\x00" in value:
        raise Unstandardizable("text", "contains a NUL character")
    value = unicodedata.normalize("NFC", _NON_SPACE_CONTROLS.sub("", value))
    return _SPACES.sub(" ", value).strip()


def longtext(value: str) -> str:
    """Unicode NFC, lines ending in a line feed, no control characters but tab and line feed,
    trimmed."""
    if "\x00" in value:
        raise Unstandardizable("text", "contains a NUL character")
    value = _CONTROLS.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", value).strip()


_NOT_WORD = re.compile(r"[^0-9a-z]+")


def match_key(value: str) -> str:
    """Case, accents, dots and other punctuation removed; words kept, single-spaced."""
    if value.isascii():  # nothing to fold or strip but case (most values: the fast path)
        plain = value.lower()
    else:
        folded = unicodedata.normalize("NFKD", value.casefold())
        plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    plain = plain.replace(".", "").replace("'", "").replace("\u2019", "")
    return _NOT_WORD.sub(" ", plain).strip()


# -- e-mail ------------------------------------------------------------------------------------


def email(value: str) -> str:
    """The address as email-validator normalizes it: the domain lowercased (and in Unicode when
    it was given in punycode), the local part as typed. ``mailto:`` and a display name
    (``Ada <ada@example.com>``) are dropped."""
    value = text(value)
    if value[:7].lower() == "mailto:":
        value = value[7:].strip()
    try:
        parsed = validate_email(value, check_deliverability=False, allow_display_name=True)
    except EmailNotValidError as exc:
        raise Unstandardizable("email", f"{value!r} is not an e-mail address: {exc}") from exc
    return str(parsed.normalized)


# -- phone -------------------------------------------------------------------------------------

_PHONE_SHAPE = re.compile(
    r"^(?:tel:)?[+0-9()./\-\s]+(?:(?:;ext=|\s*(?:x|ext\.?|extension|#)\s*)\d+)?$",
    re.IGNORECASE,
)
_E164 = phonenumbers.PhoneNumberFormat.E164
PHONE_MAX_LENGTH = 40


def phone(value: str, default_region: str) -> str:
    """E.164 (``+14155550134``), with an extension as ``;ext=12`` (RFC 3966). A number without
    a country code is read as ``default_region``. Numbers that cannot exist (too short or too
    long for their country) are refused; whether a possible number is assigned is not checked.
    Letters (vanity numbers, notes typed into the field) are refused."""
    return _phone(text(value), default_region)


@lru_cache(maxsize=_CACHE_SIZE)
def _phone(value: str, region: str) -> str:
    if not _PHONE_SHAPE.match(value):
        raise Unstandardizable("phone", f"{value!r} is not a phone number")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise Unstandardizable("phone", f"{value!r} is not a phone number: {exc}") from exc
    if number.italian_leading_zero:
        # A national number written with leading zeros after the country code ("+49 0...")
        # can read differently once in E.164: use the reading its own E.164 form gives.
        number = _stable(number, region)
    if not phonenumbers.is_possible_number(number):
        read_as = (
            "" if value.removeprefix("tel:").startswith("+") else f" (read as a {region} number)"
        )
        raise Unstandardizable("phone", f"{value!r} is not a possible phone number{read_as}")
    out = phonenumbers.format_number(number, _E164)
    if number.extension:
        out += f";ext={number.extension}"
    if len(out) > PHONE_MAX_LENGTH:
        raise Unstandardizable("phone", f"{value!r} has too long an extension")
    return str(out)


def _stable(number: phonenumbers.PhoneNumber, region: str) -> phonenumbers.PhoneNumber:
    for _ in range(4):
        again = phonenumbers.parse(phonenumbers.format_number(number, _E164), region)
        again.extension = number.extension
        if phonenumbers.format_number(again, _E164) == phonenumbers.format_number(number, _E164):
            return number
        number = again
    return number


# -- web addresses and domains -----------------------------------------------------------------


def url(value: str) -> str:
    """An http(s) address with the host lowercased; ``https://`` is added when no scheme is
    given, and a bare ``/`` path is dropped."""
    typed = text(value)
    value = typed if "://" in typed else "https://" + typed
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in value:
        raise Unstandardizable("url", f"{typed!r} is not a web address")
    host = parts.netloc.lower()
    path = parts.path if parts.path not in ("", "/") else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{host}{path}{query}"


# The bundled public-suffix snapshot only: no list URLs to fetch, no cache directory to write.
_EXTRACT = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())
_ASCII_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")


def domain(value: str) -> str:
    """The registrable domain of a host, web address or e-mail address, lowercased and in
    Unicode: ``https://www.shop.acme.co.uk/x`` and ``ada@mail.acme.co.uk`` give ``acme.co.uk``."""
    return _registrable(_host(value))[0]


def company_domain(value: str) -> str:
    """``domain`` for a company: a free-mail provider's domain is refused."""
    registrable, label = _registrable(_host(value))
    if is_free_mail(registrable, label):
        raise Unstandardizable(
            "free_mail_domain", f"{registrable!r} is a free-mail provider, not a company's domain"
        )
    return registrable


def is_free_mail_domain(value: str) -> bool:
    """Whether a host, web address or e-mail address belongs to a free-mail provider."""
    registrable, label = _registrable(_host(value))
    return is_free_mail(registrable, label)


def _host(value: str) -> str:
    value = text(value).lower()
    if "@" in value:
        value = value.rpartition("@")[2]
    try:
        host = urlsplit(value if "://" in value else "//" + value).hostname or ""
    except ValueError as exc:
        raise Unstandardizable("domain", f"{value!r} is not a domain") from exc
    return host.rstrip(".")


@lru_cache(maxsize=_CACHE_SIZE)
def _registrable(host: str) -> tuple[str, str]:
    """(registrable domain in Unicode, its label before the public suffix)."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise Unstandardizable("domain", f"{host!r} is not a domain") from exc
    if not _ASCII_HOST.fullmatch(ascii_host):
        raise Unstandardizable("domain", f"{host!r} is not a domain")
    parts = _EXTRACT(ascii_host)
    if not parts.suffix or not parts.domain:
        raise Unstandardizable("domain", f"{host!r} has no registrable domain")
    registrable = f"{parts.domain}.{parts.suffix}"
    if "xn--" in registrable:
        try:
            registrable = registrable.encode("ascii").decode("idna")
        except UnicodeError as exc:
            raise Unstandardizable("domain", f"{host!r} is not a domain") from exc
    return registrable, parts.domain


# -- countries and regions ---------------------------------------------------------------------

# Names people type that ISO 3166 does not list. "UK" is the reserved code for GB, and a
# constituent country of the United Kingdom (England, Scotland, Wales, Northern Ireland) stands
# for GB as a country; the constituent country itself is an ISO 3166-2 region (GB-ENG, ...).
COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "america": "US",
    "deutschland": "DE",
    "holland": "NL",
    "nederland": "NL",
    "russia": "RU",
    "turkey": "TR",
    "espana": "ES",
    "italia": "IT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "osterreich": "AT",
    "brasil": "BR",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "ivory coast": "CI",
    "uae": "AE",
    "emirates": "AE",
    "north korea": "KP",
    "vatican": "VA",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
    "cape verde": "CV",
    "east timor": "TL",
    "laos": "LA",
    "syria": "SY",
    "moldova": "MD",
    "tanzania": "TZ",
    "venezuela": "VE",
}


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            name = getattr(c, attr, None)
            if name:
                index.setdefault(match_key(name), c.alpha_2)
    for name, code in COUNTRY_ALIASES.items():
        index.setdefault(match_key(name), code)
    return index


def country(value: str) -> str:
    """ISO 3166-1 alpha-2: codes (alpha-2, alpha-3, with or without dots: ``U.S.A.``), English
    names in any case (short, common and official), and the aliases above."""
    key = match_key(text(value))
    index = _country_index()
    code = index.get(key) or index.get(key.removeprefix("the "))
    if code is None:
        raise Unstandardizable("country", f"{value!r} is not a country (ISO 3166-1 code or name)")
    return code


def is_country_code(value: str) -> bool:
    return len(value) == 2 and value.isupper() and _country_index().get(value.lower()) == value


@cache
def _region_index(country_code: str) -> dict[str, str]:
    subs = pycountry.subdivisions.get(country_code=country_code) or []
    # Top-level subdivisions first, so a name shared with a lower level means the top one.
    ordered = sorted(subs, key=lambda s: (s.parent_code is not None, s.code))
    index: dict[str, str] = {}
    for s in ordered:
        for name in (s.code, s.code.partition("-")[2], s.name):
            index.setdefault(match_key(name), s.code)
    return index


def region(value: str, country_code: str) -> str:
    """ISO 3166-2 code of a subdivision of ``country_code`` (an alpha-2 code): the full code
    (``US-CA``), the part after the dash (``CA``) or the ISO name (``California``). A country
    ISO lists no subdivisions for keeps the text as given."""
    value = text(value)
    index = _region_index(country_code)
    if not index:
        return value
    code = index.get(match_key(value))
    if code is None:
        raise Unstandardizable(
            "region", f"{value!r} is not a region of {country_code} (ISO 3166-2 code or name)"
        )
    return code


# -- currency ----------------------------------------------------------------------------------


def currency(value: str) -> str:
    code = text(value).upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or pycountry.currencies.get(alpha_3=code) is None:
        raise Unstandardizable("currency", f"{value!r} is not an ISO 4217 currency code")
    return code


# -- names -------------------------------------------------------------------------------------


@lru_cache(maxsize=_CACHE_SIZE)
def company_key(name: str) -> str:
    """A company's match key: legal suffixes (cleanco), a leading "the", case, accents and
    punctuation removed. ``Acme, Inc.``, ``ACME Inc`` and ``Acme GmbH & Co. KG`` all give
    ``acme``. Suffixes are stripped until none is left, so the key of a key is itself; a name
    that is nothing but a suffix keeps it (``Inc.`` gives ``inc``)."""
    name = text(name)
    # cleanco reads the name as typed first ("& Co. KG" needs its punctuation), then its key.
    key = match_key(basename(name)).removeprefix("the ") or match_key(name)
    while True:
        step = match_key(basename(key)).removeprefix("the ")
        if not step or step == key:
            return key
        key = step


def person_name(value: str) -> tuple[str, str]:
    """(first, last) of a full name, parsed by nameparser: ``Lovelace, Ada`` and ``ada lovelace``
    give ("Ada", "Lovelace"). Middle names join the first name, a suffix (Jr., III) the last;
    a title (Dr., Ms.) is dropped. Input all in one case is capitalized; mixed case is kept."""
    full = text(value)
    parsed = HumanName(full)
    parsed.capitalize()
    first = " ".join(p for p in (parsed.first, parsed.middle) if p)
    last = " ".join(p for p in (parsed.last, parsed.suffix) if p)
    if not first and not last:
        return full, ""
    return first, last
