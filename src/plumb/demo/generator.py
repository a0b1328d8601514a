"""A realistic demo workspace, dirt included.

A year of CRM life is replayed week by week through the operations layer, with the clock set
to that week: companies and contacts arrive (some from a messy trade-show list), contacts move
through the lifecycle stages (``plumb.demo.lifecycle``), deals are opened and move through the
pipeline, activities are logged, tasks and cases come and go. So the demo has a real change
history (``as_of``, ``plumb history`` and the funnel show something) and the dirt real
CRMs have: duplicate people and companies, blank fields, phones and countries typed every which
way, contacts without a company, deals nobody touched for months with close dates in the past.

The same seed gives the same data.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import func, select

from plumb.access.tokens import create_token
from plumb.access.users import create_user
from plumb.core.actor import Actor, ActorKind, Source
from plumb.core.clock import FixedClock
from plumb.core.collector import fewer_collections
from plumb.core.context import Ctx
from plumb.core.errors import Conflict, PlumbError
from plumb.demo.lifecycle import Lifecycle
from plumb.models import Contact
from plumb.records import operations as ops
from plumb.records import queries
from plumb.runtime import Runtime

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``."""

WEEKS = 52
ADMIN_EMAIL = "admin@demo.plumb.example"
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "web.de", "gmx.net")
COUNTRY_SPELLINGS = {
    "en_US": ("US", "USA", "United States", "U.S.A.", "united states", None),
    "en_GB": ("GB", "UK", "United Kingdom", "England", None),
    "de_DE": ("DE", "Germany", "Deutschland", None),
    "fr_FR": ("FR", "France", None),
}
LOCALES = ("en_US", "en_US", "en_US", "en_GB", "de_DE", "fr_FR")
LEAD_SOURCES = ("website", "web", "online form", "referral", "event", "trade show", "outbound")
INDUSTRIES = ("software", "saas", "manufacturing", "retail", "finance", "healthcare", "services")
SIZES = ("1-10", "11_50", "51_200", "201-1000", "1001_plus")
TEAMS = {
    "East": ("Maya Okafor", ["Liam Becker", "Sofia Marin", "Noah Patel"]),
    "West": ("Ethan Brooks", ["Ava Lindqvist", "Lucas Moreau", "Zoe Tanaka"]),
}


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)
    admin_email: str = ADMIN_EMAIL
    since: str = ""
    token: str = ""
    lifecycle_moves: dict[str, int] = field(default_factory=dict)
    """Contacts moved to each lifecycle stage over the simulated weeks."""
    lifecycle_refused: dict[str, int] = field(default_factory=dict)
    """Lifecycle moves a stage gate refused, by "stage (blank fields)"."""

    def lines(self) -> list[str]:
        made = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        moved = ", ".join(f"{n} to {k}" for k, n in self.lifecycle_moves.items())
        refused = ", ".join(f"{n} to {k}" for k, n in self.lifecycle_refused.items())
        return [
            f"demo loaded: {made}",
            f"lifecycle moves: {sum(self.lifecycle_moves.values())} ({moved or 'none'})",
            f"lifecycle moves refused by a stage gate: {sum(self.lifecycle_refused.values())}"
            + (f" ({refused}; those contacts stayed where they were)" if refused else ""),
            f"admin user: {self.admin_email}; API token (shown once): {self.token}",
            "try: plumb contacts list --search smith   |   plumb report funnel --from "
            f"{self.since}   |   plumb audit verify",
        ]


@dataclass
class _Plan:
    """Everything to create, keyed by the week it happens in."""

    companies: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contacts: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())[:24] or "company"


def _messy_phone(rng: random.Random, locale: str) -> str:
    if locale == "en_US":
        area, mid, last = rng.randint(201, 989), rng.randint(200, 989), rng.randint(1000, 9999)
        return rng.choice(
            (
                f"({area}) {mid}-{last}",
                f"+1 {area}.{mid}.{last}",
                f"{area}{mid}{last}",
                f"1-{area}-{mid}-{last}",
                f"{area}-{mid}-{last} ext. {rng.randint(10, 99)}",
            )
        )
    # The demo workspace reads numbers without a country code as US numbers, so numbers
    # abroad carry theirs, typed the ways people type them.
    if locale == "en_GB":
        return rng.choice(("+44 20 7946 0", "+44 (0)20 7946 0", "+442079460")) + str(
            rng.randint(100, 999)
        )
    if locale == "de_DE":
        return rng.choice(("+49 30 ", "+49 (0)30 ", "+49-30-")) + str(rng.randint(1000000, 9999999))
    return rng.choice(("+33 1 ", "+33 (0)1 ")) + " ".join(
        f"{rng.randint(10, 99)}" for _ in range(4)
    )


class _Generator:
    def __init__(self, rt: Runtime, contacts: int, seed: int, progress: Progress | None) -> None:
        self.rt = rt
        self.rng = random.Random(seed)
        # one Faker per locale, seeded in a fixed order (a set's order changes from one
        # process to the next with string hashing, and the names with it)
        self.fakers = {loc: Faker(loc) for loc in dict.fromkeys(LOCALES)}
        for i, fk in enumerate(self.fakers.values()):
            fk.seed_instance(seed + i)
        self.n_contacts = contacts
        self.progress = progress or (lambda step, done, total: None)
        self.end = rt.clock.now().replace(microsecond=0)
        self.start = self.end - timedelta(weeks=WEEKS)
        self.actor = Actor(kind=ActorKind.IMPORT, source=Source.IMPORT, label="demo loader")
        self.reps: list[str] = []
        self.rep_names: dict[str, str] = {}
        self.email_capture = Actor(ActorKind.INTEGRATION, Source.EMAIL, "email capture")
        self.companies: list[dict[str, Any]] = []  # {id, domain, locale, owner}
        self.contacts: list[dict[str, Any]] = []  # {id, company, name, locale, item}
        self.deals: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.lifecycle = Lifecycle(
            self.rng,
            [s.key for s in rt.loaded.workspace.lifecycle_stages],
            self.end,
            self.ctx_at,
            lambda person: _messy_phone(self.rng, person["locale"]),
        )

    # -- plumbing -----------------------------------------------------------------------------

    def ctx_at(self, session: Any, at: datetime) -> Ctx:
        return Ctx(
            session=session,
            actor=self.actor,
            loaded=self.rt.loaded,
            clock=FixedClock(at),
            hooks=self.rt.hooks,
        )

    def week_time(self, week: int) -> datetime:
        at = self.start + timedelta(weeks=week, hours=self.rng.randint(9, 17))
        return min(at, self.end)

    def create(self, ctx: Ctx, obj: str, items: list[dict[str, Any]]) -> list[str | None]:
        ids: list[str | None] = []
        for result in ops.create_many(ctx, obj, items):
            if result.error is not None:
                raise PlumbError(f"demo {obj} item {result.index}: {result.error}")
            ids.append(result.record_id)
        self.counts[obj] = self.counts.get(obj, 0) + len(items)
        return ids

    # -- the year -----------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        summary = DemoSummary()
        with self.rt.db.write_session() as session:
            ctx = self.ctx_at(session, self.start - timedelta(days=7))
            admin = create_user(ctx, email=ADMIN_EMAIL, name="Ada Admin", role="admin")
            summary.token = create_token(ctx, admin, "demo", ["admin"]).secret
            for team, (manager, reps) in TEAMS.items():
                lead = create_user(
                    ctx, email=self.email_of(manager), name=manager, role="manager", team=team
                )
                for rep in reps:
                    user = create_user(
                        ctx,
                        email=self.email_of(rep),
                        name=rep,
                        role="rep",
                        team=team,
                        manager=lead.id,
                    )
                    self.reps.append(user.id)
                    self.rep_names[user.id] = rep
        n_companies = max(10, self.n_contacts // 6)
        for week in range(WEEKS + 1):
            with self.rt.db.write_session() as session:
                ctx = self.ctx_at(session, self.week_time(week))
                self.week(ctx, week, n_companies)
            self.progress("a year of CRM life", week + 1, WEEKS + 1)
        summary.counts = self.counts
        summary.lifecycle_moves = self.lifecycle.moves()
        summary.lifecycle_refused = self.lifecycle.refusals()
        summary.since = self.start.date().isoformat()
        return summary

    def email_of(self, name: str) -> str:
        first, last = name.lower().split(" ", 1)
        return f"{first}.{last}@demo.plumb.example"

    def share(self, total: int, week: int) -> int:
        """How many of ``total`` arrive in ``week`` (growing through the year)."""
        weights = [1 + w / WEEKS for w in range(WEEKS + 1)]
        before = sum(weights[:week]) / sum(weights)
        upto = sum(weights[: week + 1]) / sum(weights)
        return round(total * upto) - round(total * before)

    def week(self, ctx: Ctx, week: int, n_companies: int) -> None:
        self.make_companies(ctx, self.share(n_companies, week))
        self.make_contacts(ctx, self.share(self.n_contacts, week), week)
        self.make_deals(ctx, self.share(self.n_contacts // 4, week))
        self.advance_deals(ctx, week)
        self.make_activities(ctx, week)
        self.make_tasks_and_cases(ctx, week)
        # last: the week's lifecycle moves happen after its other writes, in the days after
        self.lifecycle.advance(ctx.session, ctx.now(), self.start + timedelta(weeks=week + 1))

    # -- companies and people -----------------------------------------------------------------

    def make_companies(self, ctx: Ctx, n: int) -> None:
        rng = self.rng
        items, meta = [], []
        for _ in range(n):
            locale = rng.choice(LOCALES)
            fk = self.fakers[locale]
            if self.companies and rng.random() < 0.04:
                # the same company typed again: another spelling, no domain
                twin = rng.choice(self.companies)
                name = rng.choice((twin["name"].upper(), twin["name"] + " Inc.", twin["name"]))
                items.append({"name": name, "owner_id": rng.choice(self.reps)})
                meta.append({**twin, "name": name, "twin": True})
                continue
            name = fk.company()
            domain = f"{_slug(name)}.{rng.choice(('com', 'io', 'co', 'net'))}"
            item: dict[str, Any] = {
                "name": name,
                "owner_id": rng.choice(self.reps),
                "city": fk.city(),
                "country": rng.choice(COUNTRY_SPELLINGS[locale]),
            }
            if rng.random() < 0.7:
                item["domain"] = domain
            if rng.random() < 0.5:
                item["website"] = rng.choice((f"https://www.{domain}/", f"http://{domain}", domain))
            if rng.random() < 0.75:
                item["industry"] = rng.choice(INDUSTRIES)
            if rng.random() < 0.6:
                item["size"] = rng.choice(SIZES)
            if rng.random() < 0.4:
                item["phone"] = _messy_phone(rng, locale)
            items.append(item)
            meta.append({"name": name, "domain": domain, "locale": locale})
        for ident, m, item in zip(self.create(ctx, "company", items), meta, items, strict=True):
            self.companies.append({**m, "id": ident, "owner": item["owner_id"]})

    def make_contacts(self, ctx: Ctx, n: int, week: int) -> None:
        rng = self.rng
        items: list[dict[str, Any]] = []
        meta: list[dict[str, Any]] = []
        trade_show = week % 13 == 6  # a messy list arrives each quarter
        for _ in range(n):
            if self.contacts and rng.random() < (0.15 if trade_show else 0.03):
                item, m = self.duplicate_of(rng.choice(self.contacts))
            else:
                item, m = self.new_person()
            items.append(item)
            meta.append(m)
        for ident, m in zip(self.create(ctx, "contact", items), meta, strict=True):
            person = {**m, "id": ident}
            self.contacts.append(person)
            self.lifecycle.arrived(person, ctx.now())

    def new_person(self) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        company = rng.choice(self.companies) if self.companies and rng.random() < 0.8 else None
        locale = company["locale"] if company else rng.choice(LOCALES)
        fk = self.fakers[locale]
        first, last = fk.first_name(), fk.last_name()
        local = f"{_slug(first)}.{_slug(last)}"
        domain = company["domain"] if company and rng.random() < 0.8 else rng.choice(FREE_MAIL)
        item: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "owner_id": company["owner"] if company else rng.choice(self.reps),
        }
        if rng.random() < 0.93:
            item["email"] = f"{local}@{domain}"
        if rng.random() < 0.75:
            item["phone"] = _messy_phone(rng, locale)
        if rng.random() < 0.7:
            item["job_title"] = fk.job()
        if rng.random() < 0.5:
            item["city"] = fk.city()
            item["country"] = rng.choice(COUNTRY_SPELLINGS[locale])
        if company:
            item["company_id"] = company["id"]
        source = rng.choice(LEAD_SOURCES) if rng.random() < 0.8 else None
        if source:
            item["lead_source"] = source
        stage = self.pick_stage(source is not None, "phone" in item)
        if stage:
            item["lifecycle_stage"] = stage
        if stage in ("lead", "mql") and rng.random() < 0.7:
            item["lead_status"] = rng.choice(("new", "attempting", "connected"))
        return item, {"name": f"{first} {last}", "company": company, "item": item, "locale": locale}

    def pick_stage(self, has_source: bool, has_phone: bool) -> str | None:
        """The stage a contact arrives in: most at the top of the funnel (the lifecycle moves
        take some further), a few already qualified, existing customers brought in."""
        roll = self.rng.random()
        if not has_source:
            return "subscriber" if roll < 0.6 else None
        if roll < 0.25:
            return "subscriber"
        if roll < 0.72:
            return "lead"
        if roll < 0.8:
            return "mql"
        if roll < 0.84 and has_phone:
            return "sql"
        if roll < 0.95:
            return "customer"
        return "other"

    def duplicate_of(self, other: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The same person again, as a trade-show scanner or a second rep would type them."""
        rng = self.rng
        src = other["item"]
        item: dict[str, Any] = {"owner_id": rng.choice(self.reps), "lead_source": "trade show"}
        first, last = src["first_name"], src["last_name"]
        variant = rng.random()
        if variant < 0.3:
            item["first_name"], item["last_name"] = first.upper(), last.upper()
        elif variant < 0.5:
            item["first_name"], item["last_name"] = first[0] + ".", last
        else:
            item["first_name"], item["last_name"] = first, last
        if src.get("email") and rng.random() < 0.7:
            item["email"] = src["email"].upper() if rng.random() < 0.3 else src["email"]
        if src.get("phone") and rng.random() < 0.6:
            # digits only, the extension left off
            item["phone"] = re.sub(r"[^\d+]", "", src["phone"].partition(" ext")[0])
        if src.get("company_id") and rng.random() < 0.5:
            item["company_id"] = src["company_id"]
        item["lifecycle_stage"] = "lead"
        return item, {**other, "item": item}

    # -- deals --------------------------------------------------------------------------------

    def make_deals(self, ctx: Ctx, n: int) -> None:
        rng = self.rng
        if not self.contacts:
            return
        items: list[dict[str, Any]] = []
        meta: list[dict[str, Any]] = []
        now = ctx.now()
        customers = [c for c in self.contacts if c["item"].get("lifecycle_stage") == "customer"]
        for _ in range(n):
            # first the sales-qualified contacts due a deal; then expansions and renewals for
            # customers, and new business with anyone (a deal on a subscriber is dirt too)
            qualified = self.lifecycle.ready_for_deal(now)
            kind = rng.choice(("new business", "expansion", "renewal", "pilot"))
            if qualified:
                person, kind = qualified, "new business"
            elif kind in ("expansion", "renewal") and customers:
                person = rng.choice(customers)
            else:
                person = rng.choice(self.contacts)
            company = person.get("company")
            item: dict[str, Any] = {
                "name": f"{company['name'] if company else person['name']} - {kind}",
                "pipeline": "sales",
                "stage": "qualification",
                "owner_id": company["owner"] if company else rng.choice(self.reps),
            }
            if qualified or rng.random() < 0.85:
                item["contacts"] = [
                    {
                        "contact_id": person["id"],
                        "role": rng.choice(("decision_maker", "champion", "influencer", None)),
                    }
                ]
            if company and rng.random() < 0.9:
                item["company_id"] = company["id"]
            if rng.random() < 0.6:
                item["amount"] = str(Decimal(rng.randrange(20, 2000) * 250))
                item["currency"] = rng.choice(("USD", "USD", "EUR", "GBP"))
            if rng.random() < 0.7:
                item["close_date"] = (now + timedelta(days=rng.randint(20, 150))).date().isoformat()
            items.append(item)
            # how the deal will go: stalls somewhere, wins, loses, or rots untouched; a deal
            # for a contact a rep qualified moves faster (need, budget and timing are known)
            fate = rng.random()
            pace = (7, 21) if qualified else (10, 45)
            meta.append(
                {
                    "item": item,
                    "fate": "won"
                    if fate < 0.25
                    else "lost"
                    if fate < 0.45
                    else "stale"
                    if fate < 0.65
                    else "open",
                    "next_move": now + timedelta(days=rng.randint(7, pace[1] - 5)),
                    "pace": pace,
                    "stage_index": 0,
                    "contact": person,
                }
            )
        for ident, m in zip(self.create(ctx, "deal", items), meta, strict=True):
            self.deals.append({**m, "id": ident})
            if m["item"].get("contacts") and self.lifecycle.before(m["contact"], "opportunity"):
                self.lifecycle.deal_opened(m["contact"], now)

    def advance_deals(self, ctx: Ctx, week: int) -> None:
        """Move deals whose next step falls in this week, filling what each gate asks for."""
        rng = self.rng
        now = ctx.now()
        order = ("qualification", "discovery", "proposal_sent", "negotiation")
        for deal in self.deals:
            if deal.get("done") or deal["next_move"] > now:
                continue
            if deal["fate"] == "stale" and deal["stage_index"] >= 1:
                deal["done"] = True  # nobody touches it again
                continue
            values: dict[str, Any] = {}
            item = deal["item"]
            if deal["stage_index"] >= 2 and deal["fate"] in ("won", "lost"):
                target = "closed_won" if deal["fate"] == "won" else "closed_lost"
                deal["done"] = True
            elif deal["stage_index"] + 1 < len(order):
                deal["stage_index"] += 1
                target = order[deal["stage_index"]]
            else:
                deal["done"] = True
                continue
            if target != "qualification" and not item.get("company_id"):
                company = deal["contact"].get("company") or rng.choice(self.companies)
                values["company_id"] = item["company_id"] = company["id"]
            if target in ("proposal_sent", "negotiation", "closed_won"):
                if not item.get("amount"):
                    values["amount"] = item["amount"] = str(rng.randrange(20, 2000) * 250)
                    values["currency"] = "USD"
                if not item.get("close_date") or target == "closed_won":
                    close = now + timedelta(days=rng.randint(10, 60))
                    if target == "closed_won":
                        close = now
                    values["close_date"] = item["close_date"] = close.date().isoformat()
            record = queries.get(ctx, "deal", deal["id"])
            ops.move_stage(ctx, "deal", record, target, values=values)
            deal["next_move"] = now + timedelta(days=rng.randint(*deal["pace"]))
            self.counts["deal stage moves"] = self.counts.get("deal stage moves", 0) + 1
            if target == "closed_won" and item.get("contacts"):
                self.lifecycle.deal_won(deal["contact"], now)

    # -- activities, tasks, cases -------------------------------------------------------------

    def logged_by(self, kind: str, owner: str) -> Actor:
        """Who writes an activity down: e-mails arrive through e-mail capture; calls, meetings
        and notes are logged in the UI by the rep who owns the deal (else the contact)."""
        if kind == "email":
            return self.email_capture
        return Actor(ActorKind.USER, Source.UI, self.rep_names[owner], owner, owner, "rep")

    def make_activities(self, ctx: Ctx, week: int) -> None:
        rng = self.rng
        now = ctx.now()
        by_actor: dict[Actor, list[dict[str, Any]]] = {}
        recent = self.contacts[-400:]
        for _ in range(self.share(self.n_contacts * 2, week)):
            if not recent:
                break
            person = rng.choice(recent)
            kind = rng.choice(("email", "email", "call", "call", "meeting", "note"))
            links = [{"type": "contact", "id": person["id"]}]
            if person.get("company"):
                links.append({"type": "company", "id": person["company"]["id"]})
            open_deals = [
                d for d in self.deals[-200:] if d["contact"] is person and d["fate"] != "stale"
            ]
            owner = person["item"]["owner_id"]
            if open_deals:
                links.append({"type": "deal", "id": open_deals[0]["id"]})
                owner = open_deals[0]["item"]["owner_id"]
            item: dict[str, Any] = {
                "type": kind,
                "occurred_at": (now - timedelta(hours=rng.randint(0, 120))).isoformat(),
                "subject": rng.choice(
                    (
                        "Intro call",
                        "Follow-up on pricing",
                        "Demo",
                        "Re: proposal",
                        "Check-in",
                        "Contract questions",
                    )
                ),
                "links": links,
            }
            if kind in ("email", "call"):
                item["direction"] = rng.choice(("inbound", "outbound"))
            if kind == "email" and person["item"].get("email"):
                item["participants"] = [person["item"]["email"]]
            if kind == "note":
                item["body"] = self.fakers["en_US"].paragraph(nb_sentences=3)
            by_actor.setdefault(self.logged_by(kind, owner), []).append(item)
        loader = ctx.actor
        for actor, items in by_actor.items():
            ctx.actor = actor
            self.create(ctx, "activity", items)
        ctx.actor = loader

    def make_tasks_and_cases(self, ctx: Ctx, week: int) -> None:
        rng = self.rng
        today = ctx.now().date()
        tasks = []
        for _ in range(self.share(self.n_contacts // 10, week)):
            if not self.contacts:
                break
            person = rng.choice(self.contacts[-300:])
            tasks.append(
                {
                    "title": rng.choice(("Call back", "Send proposal", "Book a demo", "Chase")),
                    "due_date": (today + timedelta(days=rng.randint(-3, 14))).isoformat(),
                    "record": f"contact:{person['id']}",
                    "assignee_id": rng.choice(self.reps),
                    "status": "done" if week < WEEKS - 4 and rng.random() < 0.7 else "open",
                }
            )
        if tasks:
            self.create(ctx, "task", tasks)
        cases = []
        customers = [c for c in self.contacts if c["item"].get("lifecycle_stage") == "customer"]
        for _ in range(self.share(self.n_contacts // 30, week)):
            if not customers:
                break
            person = rng.choice(customers)
            case: dict[str, Any] = {
                "subject": rng.choice(
                    ("Cannot log in", "Invoice is wrong", "Export fails", "Feature question")
                ),
                "pipeline": "support",
                "stage": "resolved" if week < WEEKS - 3 else "new",
                "status": "closed" if week < WEEKS - 3 else "open",
                "priority": rng.choice(("low", "normal", "normal", "high", "critical")),
                "contact_id": person["id"],
            }
            if person.get("company"):
                case["company_id"] = person["company"]["id"]
            cases.append(case)
        if cases:
            self.create(ctx, "case", cases)


@fewer_collections()
def load_demo(
    rt: Runtime,
    *,
    contacts: int = 3000,
    seed: int = 7,
    if_empty: bool = False,
    progress: Progress | None = None,
) -> DemoSummary | None:
    """Generate the demo into ``rt``'s database. Returns None when ``if_empty`` and data exists."""
    with rt.db.read_session() as session:
        existing = session.scalar(select(func.count()).select_from(Contact)) or 0
    if existing and if_empty:
        return None
    if existing:
        raise Conflict(
            f"the database already holds {existing} contacts; load the demo into an empty "
            "database (or pass --if-empty to skip)"
        )
    return _Generator(rt, contacts, seed, progress).run()
