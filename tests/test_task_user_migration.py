"""Migration 0013 on SQLite and PostgreSQL: existing tasks keep their owner (no user), a
task can then be assigned to a dashboard user, and the migration goes back down cleanly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from avtaleflyt import db

from .test_migrations import _upgrade, empty_url  # noqa: F401 - fixture


def test_0013_adds_the_assigned_user_and_goes_back_down(empty_url):  # noqa: F811
    _upgrade(empty_url, "0012")
    now = "2026-03-02 09:00:00+00:00"
    with db.get_engine(empty_url).begin() as c:
        def one(sql: str) -> int:
            return c.execute(sa.text(sql + " RETURNING id")).scalar_one()

        county = one("INSERT INTO county (code, name, library_name) VALUES "
                     "('18', 'Nordland fylkeskommune', 'Nordland fylkesbibliotek')")
        m = one(f"INSERT INTO municipality (kommunenummer, name, county_id) "
                f"VALUES ('1836', 'Rødøy', {county})")
        case = one("INSERT INTO onboarding_case (municipality_id, stage, status, opened_on, "
                   "stage_entered_on, version, created_at, updated_at) VALUES "
                   f"({m}, 'first_contact', 'active', '2026-03-02', '2026-03-02', 1, "
                   f"'{now}', '{now}')")
        task = one("INSERT INTO task (case_id, stage, key, title, responsible, mandatory, "
                   f"due_on, created_at) VALUES ({case}, 'first_contact', "
                   "'first_contact.meeting', 'Hold første møte med kommunen', 'county', true, "
                   f"'2026-03-23', '{now}')")
        user = one("INSERT INTO app_user (username, password_hash, active, county_id, "
                   f"created_at) VALUES ('kari', '$argon2id$x', true, {county}, '{now}')")

    db.upgrade(empty_url)
    with db.get_engine(empty_url).begin() as c:
        assert c.execute(sa.text("SELECT id, title, assigned_user_id FROM task")).all() == [
            (task, "Hold første møte med kommunen", None)]
        c.execute(sa.text(f"UPDATE task SET assigned_user_id = {user}"))
        indexes = {i["name"] for i in sa.inspect(c).get_indexes("task")}
        assert "ix_task_assigned_user_id" in indexes
    # The column is a foreign key: a user that does not exist is refused.
    with pytest.raises(sa.exc.IntegrityError):
        with db.get_engine(empty_url).begin() as c:
            if c.dialect.name == "sqlite":
                c.exec_driver_sql("PRAGMA foreign_keys = ON")
            c.execute(sa.text("UPDATE task SET assigned_user_id = 999"))

    db.downgrade(empty_url, "0012")
    with db.get_engine(empty_url).connect() as c:
        columns = {col["name"] for col in sa.inspect(c).get_columns("task")}
        assert "assigned_user_id" not in columns
        assert c.execute(sa.text("SELECT id, title FROM task")).all() == [
            (task, "Hold første møte med kommunen")]
