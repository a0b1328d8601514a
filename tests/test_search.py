"""List search on SQLite and PostgreSQL: a case-insensitive substring match on the searched
fields, through the search indexes of migration 0012_search (FTS5 trigram tables kept by
triggers on SQLite, pg_trgm indexes on PostgreSQL), never on a field the actor may not see."""

from __future__ import annotations

from sqlalchemy import select, text

from plumb.core.context import Ctx
from plumb.models import Contact
from plumb.records import operations as ops
from plumb.records import queries
from plumb.records.search import search_clause
from plumb.runtime import Runtime
from tests.conftest import Cli, operator


def found(ctx: Ctx, obj: str, needle: str) -> list[str]:
    page = queries.list_records(ctx, obj, search=needle, sort="id", limit=100)
    return [r.id for r in page.records]


def test_search_matches_inside_words_in_any_case_and_follows_every_write(rt: Runtime) -> None:
    with rt.transaction(operator()) as ctx:
        ann = ops.create(
            ctx,
            "contact",
            {"first_name": "Annabel", "last_name": "O'Hara", "emails": ["ann@acme.example"]},
        )
        bob = ops.create(ctx, "contact", {"first_name": "Bob", "job_title": "Head of 100% Sales"})
        acme = ops.create(ctx, "company", {"name": "Acme Widgets", "domain": "acmewidgets.com"})
    with rt.reading(operator()) as ctx:
        assert found(ctx, "contact", "NABE") == [ann.id]  # inside a word, any case
        assert found(ctx, "contact", "o'har") == [ann.id]
        assert found(ctx, "contact", "acme.ex") == [ann.id]  # the primary e-mail address
        assert found(ctx, "contact", "100% s") == [bob.id]  # % and _ are plain characters
        assert found(ctx, "contact", "00_") == []
        assert found(ctx, "contact", 'he"ad') == []  # a quote cannot break the query
        assert found(ctx, "contact", "an") == [ann.id]  # shorter than a trigram: LIKE
        assert found(ctx, "contact", "annabel o") == []  # one field at a time
        assert found(ctx, "company", "widget") == [acme.id]
    with rt.transaction(operator()) as ctx:
        ops.update(ctx, "contact", queries.get(ctx, "contact", ann.id), {"first_name": "Hannah"})
        ops.update(ctx, "contact", queries.get(ctx, "contact", bob.id), {"city": "Oslo"})
    with rt.reading(operator()) as ctx:
        assert found(ctx, "contact", "annab") == []  # the old value left the index
        assert found(ctx, "contact", "hannah") == [ann.id]
        assert found(ctx, "contact", "head of") == [bob.id]  # other fields changed: still there
    with rt.transaction(operator()) as ctx:
        ops.archive(ctx, "contact", queries.get(ctx, "contact", bob.id))
    with rt.reading(operator()) as ctx:
        assert found(ctx, "contact", "head of") == []


def test_search_never_matches_a_field_the_actor_may_not_see(rt: Runtime) -> None:
    with rt.transaction(operator()) as ctx:
        spy = ops.create(ctx, "contact", {"first_name": "Sam", "job_title": "Secret agent"})
        ops.create(ctx, "contact", {"first_name": "Agent", "last_name": "Smith"})
    with rt.reading(operator()) as ctx:
        dialect = ctx.session.get_bind().dialect.name
        every = search_clause("contact", Contact, "agent", dialect=dialect)
        seen = search_clause("contact", Contact, "agent", frozenset({"job_title"}), dialect=dialect)
        nothing = search_clause(
            "contact",
            Contact,
            "agent",
            frozenset({"first_name", "last_name", "email", "job_title"}),
            dialect=dialect,
        )
        names = select(Contact.first_name).order_by(Contact.first_name)
        assert list(ctx.session.scalars(names.where(every))) == ["Agent", "Sam"]
        assert list(ctx.session.scalars(names.where(seen))) == ["Agent"]
        assert list(ctx.session.scalars(names.where(nothing))) == []
        assert spy.id not in [r for r in ctx.session.scalars(select(Contact.id).where(seen))]


def test_an_index_out_of_step_misses_rows_but_never_shows_a_wrong_one(
    rt: Runtime, cli: Cli
) -> None:
    with rt.transaction(operator()) as ctx:
        ann = ops.create(ctx, "contact", {"first_name": "Annabel", "last_name": "Hara"})
        ops.create(ctx, "contact", {"first_name": "Zebulon", "last_name": "Quist"})
    if rt.db.dialect != "sqlite":
        assert "nothing to rebuild" in cli("db", "reindex-search").stdout
        return
    with rt.transaction(operator()) as ctx:  # what a VACUUM renumbering rows could leave
        ctx.session.execute(text("DELETE FROM contacts_search"))
        ctx.session.execute(
            text(
                "INSERT INTO contacts_search(rowid, first_name, last_name) "
                "SELECT rowid, 'Zebulon', 'Quist' FROM contacts WHERE id = :id"
            ),
            {"id": ann.id},
        )
    with rt.reading(operator()) as ctx:
        assert found(ctx, "contact", "zebul") == []  # Annabel's row is not shown as a Zebulon
        assert found(ctx, "contact", "annab") == []  # missed until the index is rebuilt
    out = cli("db", "reindex-search").stdout
    assert "contacts" in out
    with rt.reading(operator()) as ctx:
        assert found(ctx, "contact", "annab") == [ann.id]
        assert len(found(ctx, "contact", "zebul")) == 1 and found(ctx, "contact", "zebul") != [
            ann.id
        ]
