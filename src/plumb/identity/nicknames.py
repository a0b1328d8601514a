"""Common English given-name variants, for comparing first names (``Bob`` is ``Robert``).

Each line is the formal name and the short forms people go by. A short form that belongs to
several names (``Al``: Albert, Alan, Alfred) maps to the first listed; comparing names still
falls back to string similarity, so the table only has to cover the cases similarity misses.
"""

from __future__ import annotations

_TABLE = """
alexander: alex, alec, sandy, xander
alexandra: alex, alexa, sandra, sasha
andrew: andy, drew
anthony: tony
barbara: barb, babs
benjamin: ben, benny, benji
catherine: cathy, kate, katie, kat, cat, kathy
charles: charlie, chuck, chas
christopher: chris, kit, topher
christine: chris, tina, chrissy
daniel: dan, danny
david: dave, davy
deborah: deb, debbie
donald: don, donnie
dorothy: dot, dottie
edward: ed, eddie, ted, ned
elizabeth: liz, beth, betty, eliza, lisa, libby, betsy
frances: fran, frannie
francis: frank, frankie
frederick: fred, freddie
gregory: greg
harold: harry, hal
henry: hank, harry
isabella: bella, izzy
james: jim, jimmy, jamie
jennifer: jen, jenny
john: johnny, jack, jon
jonathan: jon, jonny, nathan
joseph: joe, joey
joshua: josh
katherine: kate, katie, kathy, kat
kenneth: ken, kenny
lawrence: larry
margaret: maggie, meg, peggy, marge, greta
matthew: matt
michael: mike, mikey, mick
nicholas: nick, nicky
patricia: pat, patty, tricia, trish
patrick: pat, paddy
peter: pete
rebecca: becky, becca
richard: rick, rich, dick, richie
robert: bob, rob, bobby, robbie, bert
ronald: ron, ronnie
samuel: sam, sammy
samantha: sam, sammy
stephen: steve, stevie
steven: steve
susan: sue, susie
theodore: ted, teddy, theo
thomas: tom, tommy
timothy: tim, timmy
victoria: vicky, tori
william: will, bill, billy, willy, liam
zachary: zach, zack
"""


def _parse(table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in table.strip().splitlines():
        formal, _, variants = line.partition(":")
        formal = formal.strip()
        out.setdefault(formal, formal)
        for variant in variants.split(","):
            out.setdefault(variant.strip(), formal)
    return out


NICKNAMES = _parse(_TABLE)
"""short form (lowercase) -> formal name (lowercase)."""

VARIANTS: dict[str, list[str]] = {}
for _short, _formal in NICKNAMES.items():
    if _short != _formal:
        VARIANTS.setdefault(_formal, []).append(_short)


def canonical(first_name: str) -> str:
    """The formal name of a (lowercase, plain) first name, or the name itself."""
    return NICKNAMES.get(first_name, first_name)
