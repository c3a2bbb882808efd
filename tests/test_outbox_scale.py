"""The sweep at size: its number of queries does not grow with the history or the number of
items (building digests and sending included), a digest stays the same size however many
items it holds, and 1 000 messages reach a real local SMTP server (one connection) and a real
local HTTP endpoint with no duplicates. Real SQLite and PostgreSQL, real aiosmtpd."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.models import ContactPerson, Digest, Reminder, utcnow
from avtaleflyt.notifications.channels import Sender, TargetBook
from avtaleflyt.services import reminders
from avtaleflyt.services.reference import load_reference_data
from avtaleflyt.services.sweep import run_sweep

from .conftest import ctx_for, throwaway_pg_database
from .reminder_support import HookServer, SmtpServer
from .scale_support import add_closed_history, municipalities, open_cases

TODAY = date(2026, 3, 20)


@contextmanager
def _database(backend: str, tmp_path, template, name: str):
    """A fresh migrated database with reference data (several per test)."""
    if backend == "sqlite":
        path = tmp_path / f"{name}.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        try:
            yield url
        finally:
            db.get_engine(url).dispose()
        return
    with throwaway_pg_database() as url:
        db.upgrade(url)
        with db.session_scope(url) as s:
            load_reference_data(s)
            s.commit()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    return request.param


def _queries(url: str, fn) -> list[str]:
    engine = db.get_engine(url)
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return seen


def _sweep(url: str, targets: TargetBook):
    with db.session_scope(url) as s:
        return run_sweep(session=s, ctx=ctx_for(TODAY), targets=targets)


def test_sweep_queries_do_not_grow_with_history_or_items(backend, tmp_path, request):
    """The whole sweep (advance, political deadlines, duties, reminders, digests, sending,
    access-log purge) for one county coordinator: 4 open cases and 1 000 closed ones, then
    40 open cases (ten times the items in one digest) and 10 000 closed ones."""
    hook = HookServer().start()
    template = request.getfixturevalue("sqlite_template")
    try:
        targets = TargetBook(county_coordinator={"18": (hook.url("koordinator-18"),)})
        counts, items = [], []
        for n_open, n_closed in ((4, 1_000), (40, 10_000)):
            with _database(backend, tmp_path, template, f"size{n_open}") as url:
                open_cases(url, n_open, date(2026, 1, 5), county="18")
                add_closed_history(url, n_closed)
                statements = _queries(url, lambda url=url: _sweep(url, targets))
                counts.append(len(statements))
                with db.session_scope(url) as s:
                    digest = s.exec(select(Digest)).one()
                    items.append(digest.item_count)
                    assert digest.status == "sent"
        print(f"\nsweep queries at two sizes ({backend}): {counts}, items {items}")
        assert items[1] >= 10 * items[0] > 0
        assert counts[0] == counts[1], counts
        assert len(hook.to("koordinator-18")) == 2
    finally:
        hook.stop()


def test_a_digest_has_a_fixed_size_whatever_the_number_of_items(backend, tmp_path, request):
    template = request.getfixturevalue("sqlite_template")
    sizes, totals = [], []
    for n in (20, 120):
        with _database(backend, tmp_path, template, f"digest{n}") as url:
            open_cases(url, n, date(2026, 1, 5))  # every county: 15 counties' items
            with db.session_scope(url) as s:
                ctx = ctx_for(TODAY)
                from avtaleflyt.services.deadlines import collect_reminders

                collect_reminders(session=s, ctx=ctx, targets=TargetBook())
                undigested = len(s.exec(select(Reminder)).all())
                seen = _queries(url, lambda s=s, ctx=ctx: reminders.build_digests(
                    session=s, ctx=ctx))
                # No statement carries a list of ids: the bind parameters stay few.
                assert all(st.count("?") + st.count("%(") <= 60 for st in seen), \
                    max(seen, key=len)
                digests = s.exec(select(Digest)).all()
                assert sum(d.item_count for d in digests) == undigested
                assert s.exec(select(Reminder).where(Reminder.digest_id.is_(None))).all() == []
                big = max(digests, key=lambda d: d.item_count)
                sizes.append(len(big.body_text))
                totals.append(big.item_count)
                assert big.body_text.count("   Hva du gjør:") == min(
                    big.item_count, reminders.DIGEST_ITEMS)
                if big.item_count > reminders.DIGEST_ITEMS:
                    assert f"{big.item_count} punkter i alt" in big.body_text
                    assert "Frist passert" in big.body_text and "/restanser" in big.body_text
    print(f"\ndigest body sizes {sizes} for {totals} items ({backend})")
    assert totals[1] > totals[0] > reminders.DIGEST_ITEMS
    assert abs(sizes[1] - sizes[0]) < 0.1 * sizes[0]


def _backlog(url: str, n: int, recipient_of) -> None:
    """`n` pending digests, as build_digests writes them."""
    now = utcnow()
    with db.get_engine(url).begin() as conn:
        conn.execute(sa.insert(Digest.__table__), [{
            "recipient": recipient_of(i), "sweep_on": TODAY - timedelta(days=i % 3),
            "status": "pending", "attempts": 0, "next_attempt_on": TODAY - timedelta(days=i % 3),
            "claimed_at": None, "sent_at": None, "last_error": None,
            "title": f"Avtaleflyt: 1 frist – melding {i}", "body_text": f"Melding nummer {i}.",
            "body_html": f"<p>Melding nummer {i}.</p>", "item_count": 1, "created_at": now}
            for i in range(n)])


def test_a_thousand_emails_over_one_connection_and_a_thousand_posts(backend, tmp_path,
                                                                     request, monkeypatch):
    template = request.getfixturevalue("sqlite_template")
    smtp, hook = SmtpServer().start(), HookServer().start()
    opened: list[int] = []
    real_exit = Sender.__exit__

    def count_connections(self, *exc):
        opened.append(self.connections_opened)
        return real_exit(self, *exc)

    monkeypatch.setattr(Sender, "__exit__", count_connections)
    try:
        with _database(backend, tmp_path, template, "mail") as url:
            munis = [m for m, _ in municipalities(url)]
            with db.get_engine(url).begin() as conn:
                ids = [r[0] for r in conn.execute(
                    sa.insert(ContactPerson.__table__).returning(ContactPerson.__table__.c.id),
                    [{"municipality_id": munis[i % len(munis)], "name": f"Kontakt {i}",
                      "role": "Biblioteksjef", "email": f"kontakt{i}@kommune.example",
                      "phone": None, "is_primary": False, "created_at": utcnow()}
                     for i in range(1000)])]
            _backlog(url, 1000, lambda i: f"contact:{ids[i]}")
            targets = TargetBook(smtp_url=smtp.url)
            with db.session_scope(url) as s:
                start = time.perf_counter()
                sent = reminders.send_due_digests(session=s, ctx=ctx_for(TODAY),
                                                  targets=targets)
                mail_seconds = time.perf_counter() - start
            assert [r.status for r in sent] == ["sent"] * 1000
            rcpts = Counter(r for _, tos, _ in smtp.messages for r in tos)
            assert len(smtp.messages) == 1000 and max(rcpts.values()) == 1
            assert set(rcpts) == {f"kontakt{i}@kommune.example" for i in range(1000)}
            assert opened == [1]  # one SMTP connection (and login) for all 1 000
            with db.session_scope(url) as s:  # a rerun sends nothing again
                assert reminders.send_due_digests(session=s, ctx=ctx_for(TODAY),
                                                  targets=targets) == []
            assert len(smtp.messages) == 1000

        with _database(backend, tmp_path, template, "hook") as url:
            _backlog(url, 1000, lambda i: f"coordinator:{i:04d}"[:40])
            targets = TargetBook(coordinator=(hook.url("alle"),))
            with db.session_scope(url) as s:
                start = time.perf_counter()
                sent = reminders.send_due_digests(session=s, ctx=ctx_for(TODAY),
                                                  targets=targets)
                hook_seconds = time.perf_counter() - start
            posts = hook.to("alle")
            assert len(sent) == 1000 and all(r.status == "sent" for r in sent)
            titles = Counter(p["title"] for p in posts)
            assert len(posts) == 1000 and max(titles.values()) == 1
        print(f"\n1 000 e-mails in {mail_seconds:.2f} s, 1 000 HTTP posts in "
              f"{hook_seconds:.2f} s ({backend}; no timing assertion, see bench/)")
    finally:
        smtp.stop()
        hook.stop()


def test_a_county_sweep_builds_and_sends_that_countys_digests_only(db_url):
    """The services take a county scope (the per-county sweep runs use it): Nordland's
    run builds and sends Nordland's coordinator digest and nothing of Troms's."""
    from avtaleflyt.services.scope import scope_for_code

    hook = HookServer().start()
    try:
        open_cases(db_url, 2, date(2026, 1, 5), county="18")
        open_cases(db_url, 2, date(2026, 1, 5), county="55")
        targets = TargetBook(county_coordinator={"18": (hook.url("k18"),),
                                                 "55": (hook.url("k55"),)})
        with db.session_scope(db_url) as s:
            nordland = run_sweep(session=s, ctx=ctx_for(TODAY), targets=targets,
                                 scope=scope_for_code(s, "18"))
            assert [d["recipient"] for d in nordland.sent] == ["coordinator:18"]
            assert len(hook.to("k18")) == 1 and hook.to("k55") == []
            assert all("Troms" not in p["message"] for p in hook.to("k18"))
            # Troms's reminders are not even written by Nordland's run.
            assert {r.recipient for r in s.exec(select(Reminder)).all()} == {"coordinator:18"}
            troms = run_sweep(session=s, ctx=ctx_for(TODAY), targets=targets,
                              scope=scope_for_code(s, "55"))
            assert [d["recipient"] for d in troms.sent] == ["coordinator:55"]
            assert len(hook.to("k55")) == 1 and len(hook.to("k18")) == 1
            assert s.exec(select(Reminder).where(Reminder.digest_id.is_(None))).all() == []
    finally:
        hook.stop()


def test_the_sweep_table_counts_contacts_instead_of_listing_them():
    from avtaleflyt.services.sweep import SweepResult

    result = SweepResult("2026-03-20", False, sent=[
        {"recipient": "coordinator:18", "status": "sent", "items": 40,
         "targets": [{"target": "json://…/k18", "ok": True, "error": None}]},
        *({"recipient": f"contact:{i}", "status": "sent", "items": 2,
           "targets": [{"target": f"mailto://…@smtp → contact:{i}", "ok": True,
                        "error": None}]} for i in range(500)),
        {"recipient": "contact:900", "status": "failed", "items": 1,
         "targets": [{"target": "mailto://…@smtp → contact:900", "ok": False,
                      "error": "550 ukjent mottaker"}]}])
    table = result.table()
    assert len(table) == 3
    assert table[0]["mottaker"] == "coordinator:18" and table[0]["punkter"] == 40
    assert table[1] == {"mottaker": "kontaktpersoner (1)", "status": "feilet (prøver igjen)",
                        "punkter": 1,
                        "mål": "mailto://…@smtp", "feil": "550 ukjent mottaker"}
    assert table[2]["mottaker"] == "kontaktpersoner (500)" and table[2]["punkter"] == 1000
