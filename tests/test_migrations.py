"""Schema migrations on SQLite and PostgreSQL: the migrated schema is the models' schema,
and upgrading a database that holds data (made by the previous release, one county) keeps
every row and puts its cases and users in their county."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from avtaleflyt import db
from avtaleflyt.models import Event, load_all
from avtaleflyt.services import queries
from avtaleflyt.services.reference import load_reference_data
from avtaleflyt.services.scope import scope_for_code

from .conftest import throwaway_pg_database

TABLES = ("county", "municipality", "onboarding_case", "event", "task", "experience_note",
          "app_user")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    """An empty database of its own (migrations need a fresh one, not the shared template)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    with throwaway_pg_database("avtaleflyt_migrate") as url:
        yield url


def _upgrade(url: str, revision: str) -> None:
    cfg = db.alembic_config(url)
    with db.get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_the_migrated_schema_is_the_models_schema(empty_url):
    load_all()
    db.upgrade(empty_url)
    with db.get_engine(empty_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                SQLModel.metadata)
    assert diff == []


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def test_upgrading_a_one_county_database_keeps_every_row(empty_url):
    """A database as the one-county release left it: Nordland, a case with its history, a
    task, a note and a dashboard user."""
    _upgrade(empty_url, "0004")
    now = "2026-03-02 09:00:00+00:00"
    with db.get_engine(empty_url).begin() as c:
        # No explicit ids: PostgreSQL's sequences must advance as they did for the old release.
        def one(sql: str) -> int:
            return c.execute(sa.text(sql + " RETURNING id")).scalar_one()

        county = one("INSERT INTO county (code, name, library_name) VALUES "
                     "('18', 'Nordland fylkeskommune', 'Nordland fylkesbibliotek')")
        rodoy = one("INSERT INTO municipality (kommunenummer, name, county_id) "
                    f"VALUES ('1836', 'Rødøy', {county})")
        one(f"INSERT INTO municipality (kommunenummer, name, county_id) "
            f"VALUES ('1837', 'Meløy', {county})")
        case = one(
            "INSERT INTO onboarding_case (municipality_id, stage, status, opened_on, "
            "stage_entered_on, version, created_at, updated_at) VALUES "
            f"({rodoy}, 'first_contact', 'active', '2026-03-02', '2026-03-02', 1, '{now}', "
            f"'{now}')")
        one("INSERT INTO event (municipality_id, case_id, kind, occurred_on, recorded_at, "
            f"recorded_by, details) VALUES ({rodoy}, {case}, 'case_opened', '2026-03-02', "
            f"'{now}', 'anna', '{{}}')")
        one("INSERT INTO task (case_id, stage, key, title, responsible, mandatory, due_on, "
            f"created_at) VALUES ({case}, 'first_contact', 'first_contact.meeting', "
            f"'Hold første møte med kommunen', 'county', true, '2026-03-23', '{now}')")
        one("INSERT INTO experience_note (case_id, stage, theme, text, noted_on, "
            f"recorded_by, created_at) VALUES ({case}, 'first_contact', 'engagement', "
            f"'Kommunedirektøren var med fra start.', '2026-03-02', 'anna', '{now}')")
        one("INSERT INTO event (municipality_id, case_id, kind, occurred_on, recorded_at, "
            f"recorded_by, details) VALUES ({rodoy}, {case}, 'case_on_hold', '2026-03-03', "
            f"'{now}', 'anna', '{{\"reason\": \"Venter på ny rådmann\"}}')")
        one("INSERT INTO app_user (username, password_hash, active, created_at) VALUES "
            f"('anna', '$argon2id$x', true, '{now}')")
        before = _counts(c)

    db.upgrade(empty_url)
    with db.session_scope(empty_url) as s:
        added = load_reference_data(s)
    assert added == (14, 357 - 2)
    with db.get_engine(empty_url).connect() as c:
        after = _counts(c)
        assert {t: after[t] for t in TABLES if t not in ("county", "municipality")} == \
            {t: before[t] for t in TABLES if t not in ("county", "municipality")}
        assert after["county"] == 15 and after["municipality"] == 357
        user_county = c.execute(sa.text(
            "SELECT county.code FROM app_user JOIN county ON county.id = app_user.county_id "
            "WHERE username = 'anna'")).scalar_one()
        assert user_county == "18"
        assert c.execute(sa.text("SELECT shared FROM experience_note")).scalar_one() in (False, 0)
        # Free text moved into personal_text; the note and the event refer to it by id.
        texts = dict(c.execute(sa.text("SELECT id, text FROM personal_text")).all())
        assert sorted(texts.values()) == ["Kommunedirektøren var med fra start.",
                                          "Venter på ny rådmann"]
        note_text = c.execute(sa.text("SELECT text_id FROM experience_note")).scalar_one()
        assert texts[note_text] == "Kommunedirektøren var med fra start."
    with db.session_scope(empty_url) as s:
        held = s.exec(select(Event).where(Event.kind == "case_on_hold")).one()
        assert set(held.details) == {"reason_text_id"}
        assert texts[held.details["reason_text_id"]] == "Venter på ny rådmann"
    with db.get_engine(empty_url).connect() as c:
        rodoy = c.execute(sa.text("SELECT name FROM municipality WHERE kommunenummer = '1836'"
                                  )).scalar_one()
        assert rodoy == "Rødøy"
    with db.session_scope(empty_url) as s:
        rows = queries.status_rows(s, date(2026, 3, 20))
        nordland = {r["kommunenummer"]
                    for r in queries.municipality_rows(s, scope_for_code(s, "18"))}
    assert [r["kommunenummer"] for r in rows] == ["1836"] and "1836" in nordland
