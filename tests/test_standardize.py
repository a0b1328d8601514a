"""The value standardizers: real-world variants, refusals with their rule, and idempotence
(standardizing a standard value changes nothing) checked with hypothesis."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains, urls

from plumb.hygiene import standardize as std

IDEMPOTENCE = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def refused(rule: str, func: object, *args: str) -> std.Unstandardizable:
    with pytest.raises(std.Unstandardizable) as info:
        func(*args)  # type: ignore[operator]
    assert info.value.rule == rule
    return info.value


def twice_is_once(func: object, value: str, *extra: str) -> None:
    """If ``value`` standardizes, its standard form standardizes to itself."""
    try:
        once = func(value, *extra)  # type: ignore[operator]
    except std.Unstandardizable:
        return
    assert func(once, *extra) == once  # type: ignore[operator]


# -- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0134", "US", "+14155550134"),
        ("415.555.0134", "US", "+14155550134"),
        ("1-415-555-0134", "US", "+14155550134"),
        ("+1 415 555 0134", "DE", "+14155550134"),
        ("  +1 (415) 555-0134  ", "US", "+14155550134"),
        ("415-555-0134 ext. 12", "US", "+14155550134;ext=12"),
        ("+1 415 555 0134 x12", "US", "+14155550134;ext=12"),
        ("+14155550134;ext=12", "US", "+14155550134;ext=12"),
        ("tel:+1-415-555-0134", "US", "+14155550134"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("+44 (0)20 7946 0000", "US", "+442079460000"),
        ("030 1234567", "DE", "+49301234567"),
        ("+49 30 1234567", "US", "+49301234567"),
        ("01 23 45 67 89", "FR", "+33123456789"),
    ],
)
def test_phone_to_e164(raw: str, region: str, expected: str) -> None:
    assert std.phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw", ["12", "call me maybe", "1-800-FLOWERS", "020 7946 0000", "+1 415 555 0134 5555"]
)
def test_impossible_phone_numbers_are_refused(raw: str) -> None:
    error = refused("phone", std.phone, raw, "US")
    assert repr(raw.strip()) in error.message


def test_a_local_number_names_the_region_it_was_read_in() -> None:
    assert "read as a US number" in refused("phone", std.phone, "020 7946 0000", "US").message


phone_like = st.builds(
    lambda prefix, groups, seps, ext: (
        prefix + "".join(g + s for g, s in zip(groups, seps, strict=False)) + ext
    ),
    st.sampled_from(["", "+1 ", "+44 ", "+49 ", "1-", "(0)", "+33 (0)", "tel:+"]),
    st.lists(st.from_regex(r"\d{1,4}", fullmatch=True), min_size=1, max_size=5),
    st.lists(st.sampled_from([" ", "-", ".", "", "/"]), min_size=5, max_size=5),
    st.sampled_from(["", " x12", " ext. 7", ";ext=99", " #4"]),
)


@IDEMPOTENCE
@given(
    value=st.one_of(phone_like, st.text(alphabet="0123456789 +()-./x#", max_size=30)),
    region=st.sampled_from(["US", "GB", "DE", "FR", "IN"]),
)
def test_phone_is_idempotent(value: str, region: str) -> None:
    twice_is_once(std.phone, value, region)


# -- e-mail ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Grace.Hopper@ACME.de", "Grace.Hopper@acme.de"),
        ("  ada@example.com ", "ada@example.com"),
        ("mailto:Ada@Example.COM", "Ada@example.com"),
        ("Ada Lovelace <ada@Example.com>", "ada@example.com"),
        ("ada@xn--bcher-kva.de", "ada@bücher.de"),
        ("ada@BÜCHER.de", "ada@bücher.de"),
    ],
)
def test_email_normalized(raw: str, expected: str) -> None:
    assert std.email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["ada", "ada@", "@example.com", "ada@@example.com", "ada@example", "ada@localhost"]
)
def test_bad_email_is_refused(raw: str) -> None:
    refused("email", std.email, raw)


@IDEMPOTENCE
@given(
    local=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True),
    host=domains(),
    upper=st.booleans(),
)
def test_email_is_idempotent(local: str, host: str, upper: bool) -> None:
    twice_is_once(std.email, f"{local}@{host.upper() if upper else host}")


# -- web addresses and domains -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.shop.acme.co.uk/x", "acme.co.uk"),
        ("WWW.Globex.com", "globex.com"),
        ("http://globex.com:8080/path?q=1", "globex.com"),
        ("ada@mail.acme.co.uk", "acme.co.uk"),
        ("acme.com.", "acme.com"),
        ("xn--bcher-kva.de", "bücher.de"),
        ("blog.acme.github.io", "github.io"),
    ],
)
def test_domain_is_the_registrable_domain(raw: str, expected: str) -> None:
    assert std.domain(raw) == expected


@pytest.mark.parametrize("raw", ["localhost", "192.168.1.10", "co.uk", "not a domain", "acme"])
def test_a_host_without_registrable_domain_is_refused(raw: str) -> None:
    refused("domain", std.domain, raw)


@pytest.mark.parametrize(
    "raw",
    [
        "gmail.com",
        "ada@GMAIL.com",
        "yahoo.co.uk",
        "mail.yahoo.de",
        "hotmail.fr",
        "gmx.net",
        "web.de",
    ],
)
def test_free_mail_is_never_a_company_domain(raw: str) -> None:
    assert std.is_free_mail_domain(raw)
    error = refused("free_mail_domain", std.company_domain, raw)
    assert "free-mail" in error.message
    assert std.company_domain("https://www.acme.co.uk/") == "acme.co.uk"
    assert not std.is_free_mail_domain("acme.co.uk")


@IDEMPOTENCE
@given(value=st.one_of(domains(), urls()))
def test_domain_is_idempotent(value: str) -> None:
    twice_is_once(std.domain, value)


@IDEMPOTENCE
@given(value=urls())
def test_url_is_idempotent(value: str) -> None:
    twice_is_once(std.url, value)


# -- countries and regions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("U.S.", "US"),
        ("United States", "US"),
        ("united states", "US"),
        ("United States of America", "US"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("DEU", "DE"),
        ("UK", "GB"),
        ("England", "GB"),
        ("United Kingdom", "GB"),
        ("the Netherlands", "NL"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("Côte d'Ivoire", "CI"),
        ("cote d'ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Türkiye", "TR"),
        ("Vietnam", "VN"),
    ],
)
def test_country_to_iso_alpha_2(raw: str, expected: str) -> None:
    assert std.country(raw) == expected


@pytest.mark.parametrize("raw", ["Narnia", "U", "Europe", "XX"])
def test_unknown_country_is_refused(raw: str) -> None:
    refused("country", std.country, raw)


country_spellings = st.sampled_from(
    [
        spelling
        for c in pycountry.countries
        for spelling in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", c.name))
    ]
    + list(std.COUNTRY_ALIASES)
)


@IDEMPOTENCE
@given(value=st.one_of(country_spellings, st.text(max_size=20)), shout=st.booleans())
def test_country_is_idempotent(value: str, shout: bool) -> None:
    twice_is_once(std.country, value.upper() if shout else value)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("California", "US", "US-CA"),
        ("CA", "US", "US-CA"),
        ("ca", "US", "US-CA"),
        ("US-CA", "US", "US-CA"),
        ("new york", "US", "US-NY"),
        ("Bayern", "DE", "DE-BY"),
        ("BY", "DE", "DE-BY"),
        ("England", "GB", "GB-ENG"),
        ("Ontario", "CA", "CA-ON"),
    ],
)
def test_region_to_iso_3166_2(raw: str, country: str, expected: str) -> None:
    assert std.region(raw, country) == expected


def test_region_of_another_country_is_refused() -> None:
    error = refused("region", std.region, "Texas", "DE")
    assert "'Texas'" in error.message and "DE" in error.message
    refused("region", std.region, "US-CA", "DE")


@IDEMPOTENCE
@given(data=st.data())
def test_region_is_idempotent(data: st.DataObject) -> None:
    country = data.draw(st.sampled_from(["US", "DE", "GB", "FR", "CA", "IN", "BR"]))
    subs = list(pycountry.subdivisions.get(country_code=country))
    sub = data.draw(st.sampled_from(subs))
    value = data.draw(st.sampled_from([sub.code, sub.code.partition("-")[2], sub.name]))
    twice_is_once(std.region, value, country)


# -- currency ----------------------------------------------------------------------------------


def test_currency() -> None:
    assert std.currency(" eur ") == "EUR"
    refused("currency", std.currency, "EURO")
    refused("currency", std.currency, "XYZ")


@IDEMPOTENCE
@given(value=st.one_of(st.sampled_from([c.alpha_3 for c in pycountry.currencies]), st.text()))
def test_currency_is_idempotent(value: str) -> None:
    twice_is_once(std.currency, value.lower())


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme, Inc.", "acme"),
        ("ACME Inc", "acme"),
        ("Acme Inc.", "acme"),
        ("acme", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("The Acme Company Ltd.", "acme"),
        ("ACME S.A.", "acme"),
        ("Müller GmbH", "muller"),
        ("Acme Holdings LLC", "acme holdings"),
        ("Inc.", "inc"),
    ],
)
def test_company_key(raw: str, expected: str) -> None:
    assert std.company_key(raw) == expected


company_names = st.builds(
    lambda words, sep, suffix: sep.join(words) + suffix,
    st.lists(st.from_regex(r"[A-Za-zÀ-ÿ&'-]{1,10}", fullmatch=True), min_size=1, max_size=4),
    st.sampled_from([" ", ", ", "-", " & "]),
    st.sampled_from(["", " Inc.", ", Inc", " GmbH", " Ltd", " S.A.", " LLC", " Co. KG", " AG"]),
)


@IDEMPOTENCE
@given(value=st.one_of(company_names, st.text(max_size=40)))
def test_company_key_is_idempotent(value: str) -> None:
    twice_is_once(std.company_key, value)


@pytest.mark.parametrize(
    ("raw", "first", "last"),
    [
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("ada lovelace", "Ada", "Lovelace"),
        ("ADA LOVELACE", "Ada", "Lovelace"),
        ("Lovelace, Ada", "Ada", "Lovelace"),
        ("Dr. Ada M. Lovelace Jr.", "Ada M.", "Lovelace Jr."),
        ("Juan de la Vega", "Juan", "de la Vega"),
        ("Cher", "Cher", ""),
        ("  Grace   Brewster Hopper ", "Grace Brewster", "Hopper"),
    ],
)
def test_person_name(raw: str, first: str, last: str) -> None:
    assert std.person_name(raw) == (first, last)


full_names = st.builds(
    lambda title, first, middle, last, suffix, case: case(
        " ".join(p for p in (title, first, middle, last, suffix) if p)
    ),
    st.sampled_from(["", "Dr.", "Ms.", "Mr."]),
    st.sampled_from(["Ada", "Grace", "José", "Zoë", "Mary-Jane", "Li"]),
    st.sampled_from(["", "M.", "Brewster", "Anne Marie"]),
    st.sampled_from(["Lovelace", "Hopper", "de la Vega", "O'Neil", "van der Berg", "Müller"]),
    st.sampled_from(["", "Jr.", "III", "PhD"]),
    st.sampled_from([str, str.lower, str.upper]),
)


@IDEMPOTENCE
@given(value=full_names)
def test_person_name_is_idempotent(value: str) -> None:
    first, last = std.person_name(value)
    assert std.person_name(f"{first} {last}") == (first, last)


# -- text --------------------------------------------------------------------------------------


def test_text_refuses_nul() -> None:
    refused("text", std.text, "a\x00b")


@IDEMPOTENCE
@given(value=st.text())
def test_text_is_idempotent(value: str) -> None:
    twice_is_once(std.text, value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada\x07 Love\x1blace", "Ada Lovelace"),
        ("Acme\x0bCorp", "Acme Corp"),  # a vertical tab separates words like a space
        ("\x85Eng\u0080ineer\x9f\x7f", "Engineer"),  # C1 controls and DEL
        ("tab\tand\nline", "tab and line"),
    ],
)
def test_text_drops_control_characters(raw: str, expected: str) -> None:
    assert std.text(raw) == expected


def test_longtext_keeps_lines_and_tabs_but_no_other_control() -> None:
    assert std.longtext("a\x07\tb\r\nc\rd\x0b\x1b\x9fe\n") == "a\tb\nc\nde"


@IDEMPOTENCE
@given(value=st.text())
def test_longtext_is_idempotent(value: str) -> None:
    twice_is_once(std.longtext, value)
