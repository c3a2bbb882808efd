"""Migration 0015 on SQLite and PostgreSQL: a running case whose agreement renews itself,
wrongly marked «every duty planned» by the previous release, is planned again by the next
sweep; a fixed-term case keeps its mark."""

from __future__ import annotations

import sqlalchemy as sa

from avtaleflyt import db

from .test_migrations import _upgrade, empty_url  # noqa: F401 - fixture


def test_0015_clears_the_all_planned_mark_of_renewing_agreements(empty_url):  # noqa: F811
    _upgrade(empty_url, "0012")
    now = "2026-03-02 09:00:00+00:00"
    with db.get_engine(empty_url).begin() as c:
        def one(sql: str) -> int:
            return c.execute(sa.text(sql + " RETURNING id")).scalar_one()

        county = one("INSERT INTO county (code, name, library_name) VALUES "
                     "('18', 'Nordland fylkeskommune', 'Nordland fylkesbibliotek')")
        cases = {}
        for knr, name, renewal in (("1836", "Rødøy", "auto"), ("1837", "Meløy", "none")):
            m = one(f"INSERT INTO municipality (kommunenummer, name, county_id) "
                    f"VALUES ('{knr}', '{name}', {county})")
            cases[renewal] = one(
                "INSERT INTO onboarding_case (municipality_id, stage, status, opened_on, "
                "stage_entered_on, version, created_at, updated_at, duties_until) VALUES "
                f"({m}, 'running_operation', 'active', '2025-03-02', '2025-04-01', 1, "
                f"'{now}', '{now}', '9999-12-31')")
            one("INSERT INTO agreement_terms (case_id, set_on, start_date, years, months, "
                "notice_months, yearly_price, position_share, site_visits_per_year, renewal) "
                f"VALUES ({cases[renewal]}, '2025-03-02', '2025-04-01', 1, 0, 3, 120000, 20, "
                f"4, '{renewal}')")

    _upgrade(empty_url, "0015")
    with db.get_engine(empty_url).connect() as c:
        marks = dict(c.execute(sa.text("SELECT id, duties_until FROM onboarding_case")).all())
    assert marks[cases["auto"]] is None
    assert str(marks[cases["none"]]) == "9999-12-31"
