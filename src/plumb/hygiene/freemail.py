"""Free-mail providers: domains anyone can get an address at, so never a company's domain.

A registrable domain (``yahoo.co.uk``, not ``mail.yahoo.co.uk``) is free mail when it is in
``FREE_MAIL_DOMAINS``, or when its label before the public suffix is one of
``FREE_MAIL_FAMILIES`` (providers that run the same service under many country suffixes:
``yahoo.de``, ``hotmail.fr``, ``gmx.at``).
"""

from __future__ import annotations

FREE_MAIL_FAMILIES = frozenset({"yahoo", "ymail", "hotmail", "outlook", "live", "gmx", "aol"})

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tutanota.de",
        "tuta.io",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "zoho.com",
        "zohomail.com",
        "mail.com",
        "email.com",
        "inbox.com",
        "web.de",
        "t-online.de",
        "freenet.de",
        "posteo.de",
        "mailbox.org",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "bluewin.ch",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
        "rambler.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "naver.com",
        "daum.net",
        "rediffmail.com",
        "btinternet.com",
        "sky.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "juno.com",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        "bigpond.com",
        "optusnet.com.au",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
    }
)


def is_free_mail(registrable: str, label: str) -> bool:
    """``registrable`` is the registrable domain, ``label`` its part before the suffix."""
    return registrable in FREE_MAIL_DOMAINS or label in FREE_MAIL_FAMILIES
