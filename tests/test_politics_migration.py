"""Migration 0011 on SQLite and PostgreSQL: existing agreements get 0 months and a fixed
term; each existing case gets its own split — its agreement's, or the built-in default —
and the migration goes back down cleanly."""

from __future__ import annotations

import sqlalchemy as sa

from avtaleflyt import db

from .test_migrations import _upgrade, empty_url  # noqa: F401 - fixture


def test_0011_gives_each_case_its_split_and_goes_back_down(empty_url):  # noqa: F811
    _upgrade(empty_url, "0009")
    now = "2026-03-02 09:00:00+00:00"
    with db.get_engine(empty_url).begin() as c:
        def one(sql: str) -> int:
            return c.execute(sa.text(sql + " RETURNING id")).scalar_one()

        county = one("INSERT INTO county (code, name, library_name) VALUES "
                     "('18', 'Nordland fylkeskommune', 'Nordland fylkesbibliotek')")
        cases = []
        for knr, name in (("1836", "Rødøy"), ("1837", "Meløy")):
            m = one(f"INSERT INTO municipality (kommunenummer, name, county_id) "
                    f"VALUES ('{knr}', '{name}', {county})")
            cases.append(one(
                "INSERT INTO onboarding_case (municipality_id, stage, status, opened_on, "
                "stage_entered_on, version, created_at, updated_at) VALUES "
                f"({m}, 'contract_signing', 'active', '2026-03-02', '2026-03-02', 1, "
                f"'{now}', '{now}')"))
        terms = one("INSERT INTO agreement_terms (case_id, set_on, start_date, years, "
                    "notice_months, yearly_price, position_share, site_visits_per_year) "
                    f"VALUES ({cases[0]}, '2026-03-02', '2026-09-01', 3, 6, 120000, 20, 4)")
        for i, (task, who) in enumerate((("Lokaler", "municipality"),
                                         ("Bibliotekplan", "county"))):
            one("INSERT INTO responsibility_item (terms_id, position, task, responsible) "
                f"VALUES ({terms}, {i}, '{task}', '{who}')")

    db.upgrade(empty_url)
    with db.get_engine(empty_url).connect() as c:
        assert c.execute(sa.text("SELECT months, renewal FROM agreement_terms")).one() == \
            (0, "none")
        rows = c.execute(sa.text("SELECT case_id, position, task, responsible FROM "
                                 "case_split_row ORDER BY case_id, position")).all()
    first = [(p, t, r) for cid, p, t, r in rows if cid == cases[0]]
    second = [(p, t, r) for cid, p, t, r in rows if cid == cases[1]]
    assert first == [(0, "Lokaler", "municipality"), (1, "Bibliotekplan", "county")]
    assert len(second) == 12 and second[0] == (0, "Bibliotekplan og strategi", "county")

    # Through db.downgrade: foreign-key checks off during SQLite's table rebuilds (0012
    # rebuilds onboarding_case), checked with PRAGMA foreign_key_check before the commit.
    db.downgrade(empty_url, "0009")
    with db.get_engine(empty_url).connect() as c:
        tables = set(sa.inspect(c).get_table_names())
        columns = {col["name"] for col in sa.inspect(c).get_columns("agreement_terms")}
    assert "case_split_row" not in tables and "saksgang" not in tables
    assert "months" not in columns and "renewal" not in columns
