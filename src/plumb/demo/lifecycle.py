"""Demo contacts moving through the lifecycle stages over the simulated year.

A contact arrives at a stage (most as a subscriber or a lead); week by week some go on to the
next stage and the rest stall where they are: a subscriber fills in a form and becomes a lead,
marketing qualifies some leads, a rep qualifies some of those in a call (sales qualified), a
sales-qualified contact who goes on gets a deal opened (opportunity), and a contact whose deal
is won becomes a customer in the days after. A deal opened or won for any contact moves it the
same way, as the stage definitions say ("at least one open deal", "a deal closed won").

Every move is ``ops.move_stage`` at the simulated time, so stage gates apply and the change log
holds the moves the funnel and status-usage reports read. What a gate asks for is read from the
workspace definition; the loader fills what a real user has at hand (the lead source of someone
who just filled in a form; a phone number, when the rep got one in the qualifying call). A move
a gate still refuses is counted in the demo summary, and the contact stays where it was.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from plumb.core.context import Ctx
from plumb.core.errors import StageGateError
from plumb.records import operations as ops
from plumb.records import queries

GO_ON = {"subscriber": 0.25, "lead": 0.3, "mql": 0.45, "sql": 0.7, "customer": 0.06}
"""The chance a contact at a stage goes on to the next one. From ``sql`` the next step is a deal
being opened (``opportunity``); from ``opportunity`` it is that deal being won (``customer``)."""
NEXT = {"subscriber": "lead", "lead": "mql", "mql": "sql", "customer": "evangelist"}
DELAY_DAYS = (7, 42)
"""How long after reaching a stage a contact who goes on does so."""
GOT_PHONE = 0.6
"""The chance that a rep qualifying a contact with no phone number on record got one."""
FORM_SOURCES = ("website", "website", "paid", "event")
"""Where someone who arrived without a lead source says they came from, when they convert."""
LEAD_STATUS = {"lead": "new", "mql": "connected", "sql": "qualified"}

Person = dict[str, Any]
"""The generator's record of a contact: ``id``, ``item`` (its current values), ``locale``."""


@dataclass(order=True)
class _Move:
    at: datetime
    seq: int
    target: str = field(compare=False)
    person: Person = field(compare=False)


class Lifecycle:
    """The lifecycle moves planned for the demo's contacts, made week by week."""

    def __init__(
        self,
        rng: random.Random,
        stages: list[str],
        end: datetime,
        ctx_at: Callable[[Session, datetime], Ctx],
        phone_for: Callable[[Person], str],
    ) -> None:
        self.rng = rng
        self.rank = {key: i for i, key in enumerate(stages)}
        self.end = end
        self.ctx_at = ctx_at
        self.phone_for = phone_for
        self.pending: list[_Move] = []
        self.want_deal: list[_Move] = []  # sales qualified, going on: a deal is opened for them
        self.seq = 0
        self.moved: Counter[str] = Counter()  # target stage -> moves made
        self.refused: Counter[str] = Counter()  # "stage (missing fields)" -> moves refused

    def stage(self, person: Person) -> str | None:
        stage: str | None = person["item"].get("lifecycle_stage")
        return stage

    def before(self, person: Person, target: str) -> bool:
        """The contact's stage comes before ``target`` (no stage comes before every stage)."""
        here = self.stage(person)
        return (self.rank.get(here, -1) if here else -1) < self.rank[target]

    # -- what happens to a contact ------------------------------------------------------------

    def arrived(self, person: Person, at: datetime) -> None:
        """A contact was created at ``at`` (or reached its stage then): does it go on, and when?"""
        stage = self.stage(person)
        if stage not in GO_ON or self.rng.random() >= GO_ON[stage]:
            return  # stalls here
        when = at + timedelta(days=self.rng.randint(*DELAY_DAYS), hours=self.rng.randint(0, 8))
        if stage == "sql":
            bisect.insort(self.want_deal, self._move(when, "opportunity", person))
        else:
            self.pending.append(self._move(when, NEXT[stage], person))

    def ready_for_deal(self, now: datetime) -> Person | None:
        """The next sales-qualified contact due a deal by ``now``, if any."""
        while self.want_deal and self.want_deal[0].at <= now:
            person = self.want_deal.pop(0).person
            if self.before(person, "opportunity"):  # else another deal got there first
                return person
        return None

    def deal_opened(self, person: Person, at: datetime) -> None:
        self.pending.append(
            self._move(at + timedelta(hours=self.rng.randint(1, 48)), "opportunity", person)
        )

    def deal_won(self, person: Person, at: datetime) -> None:
        self.pending.append(
            self._move(at + timedelta(hours=self.rng.randint(1, 72)), "customer", person)
        )

    def _move(self, at: datetime, target: str, person: Person) -> _Move:
        self.seq += 1
        return _Move(at, self.seq, target, person)

    # -- making the moves ---------------------------------------------------------------------

    def advance(self, session: Session, now: datetime, stop: datetime) -> None:
        """Make, in time order, the moves due before ``stop`` (the next week) and not after the
        demo's end; none earlier than ``now``, when the week's other writes happened."""
        due = sorted(m for m in self.pending if m.at < stop and m.at <= self.end)
        if not due:
            return
        self.pending = [m for m in self.pending if not (m.at < stop and m.at <= self.end)]
        for m in due:
            if not self.before(m.person, m.target):
                continue  # planned earlier, overtaken since (a deal moved the contact past it)
            at = max(m.at, now)
            if self.make(self.ctx_at(session, at), m.person, m.target):
                self.arrived(m.person, at)

    def make(self, ctx: Ctx, person: Person, target: str) -> bool:
        """Move the contact to ``target`` through the write path, with what the target's gate
        asks for when the loader has it; a refusal is counted, and the contact stays."""
        item = person["item"]
        values = self.gate_values(ctx, person, target)
        record = queries.get(ctx, "contact", person["id"])
        try:
            ops.move_stage(ctx, "contact", record, target, values=values)
        except StageGateError as exc:
            missing = ", ".join(exc.extra.get("missing_fields", []))
            self.refused[f"{target} ({missing} blank)"] += 1
            return False
        item.update(values)
        item["lifecycle_stage"] = target
        self.moved[target] += 1
        return True

    def gate_values(self, ctx: Ctx, person: Person, target: str) -> dict[str, Any]:
        item = person["item"]
        stage = ctx.workspace.lifecycle_stage(target)
        values: dict[str, Any] = {}
        for name in stage.required_fields if stage else []:
            if name == "lead_source" and not item.get("lead_source"):
                values["lead_source"] = self.rng.choice(FORM_SOURCES)
            elif name == "phones" and not item.get("phone") and self.rng.random() < GOT_PHONE:
                values["phone"] = self.phone_for(person)
        status = LEAD_STATUS.get(target)
        if status and item.get("lead_status") != status:
            values["lead_status"] = status
        return values

    # -- the summary --------------------------------------------------------------------------

    def moves(self) -> dict[str, int]:
        """Moves made, by the stage moved to, in the definition's order."""
        order = sorted(self.moved, key=lambda key: self.rank.get(key, len(self.rank)))
        return {key: self.moved[key] for key in order}

    def refusals(self) -> dict[str, int]:
        """Moves a stage gate refused, by "stage (the fields it found blank)"."""
        return dict(sorted(self.refused.items()))
