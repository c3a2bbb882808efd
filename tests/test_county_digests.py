"""Several counties in one database (Nordland 18 and Troms 55), on SQLite and PostgreSQL,
with real HTTP endpoints receiving Apprise json:// posts: each county's coordinator and
leader get that county's cases only, in a digest that names that county's library; targets,
configuration and templates per county; old installation-wide outbox rows still sent."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.config import load_config
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.models import Delivery, Digest, Reminder, utcnow
from avtaleflyt.notifications.channels import TargetBook
from avtaleflyt.services import cases, documents, facts, reminders
from avtaleflyt.services.context import make_ctx
from avtaleflyt.services.store import case_tasks, get_case
from avtaleflyt.services.sweep import dry_run_session, run_sweep
from avtaleflyt.settings import Settings

from .conftest import ctx_for
from .reminder_support import HookServer

NORDLAND, TROMS = "1836", "5501"  # Rødøy, Tromsø
OPENED = date(2027, 4, 1)
SWEEP = date(2027, 5, 21)  # the first-contact tasks are overdue, "intent" escalates
N_SECRET, T_SECRET = "Nordland-Hemmelig-18x", "Troms-Hemmelig-55y"
NL_SECRET, TL_SECRET = "NordLeder-Hemmelig-1", "TromsLeder-Hemmelig-2"
G_SECRET = "Felles-Hemmelig-00z"


@pytest.fixture
def hook():
    h = HookServer().start()
    yield h
    h.stop()


def _open_both(session, ctx=None):
    for knr in (NORDLAND, TROMS):
        cases.open_case(session=session, kommunenummer=knr, opened_on=OPENED,
                        ctx=ctx or ctx_for(OPENED))


def _messages(hook, path) -> list[str]:
    return [p["title"] + "\n" + p["message"] for p in hook.to(path)]


def _only_nordland(text: str) -> None:
    assert "Rødøy (1836)" in text and "Nordland fylkesbibliotek" in text
    assert "Tromsø" not in text and "5501" not in text and "Troms fylkesbibliotek" not in text


def _only_troms(text: str) -> None:
    assert "Tromsø (5501)" in text and "Troms fylkesbibliotek" in text
    assert "Rødøy" not in text and "1836" not in text and "Nordland" not in text


def _clear_notify_env(monkeypatch):
    for var in ("AVTALEFLYT_NOTIFY_URLS", "AVTALEFLYT_LEADER_URLS", "AVTALEFLYT_APPRISE_CONFIG",
                "AVTALEFLYT_SMTP_URL"):
        monkeypatch.delenv(var, raising=False)


def test_each_county_gets_its_own_cases_from_per_county_variables(
        db_url, session, hook, monkeypatch):
    _clear_notify_env(monkeypatch)
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS", hook.url("global", G_SECRET))
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS_18", hook.url("nordland", N_SECRET))
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS_55", hook.url("troms", T_SECRET))
    monkeypatch.setenv("AVTALEFLYT_LEADER_URLS_18", hook.url("nordland-leder", NL_SECRET))
    monkeypatch.setenv("AVTALEFLYT_LEADER_URLS_55", hook.url("troms-leder", TL_SECRET))
    settings = Settings()
    assert set(settings.county_notify_urls) == set(settings.county_leader_urls) == {"18", "55"}
    _open_both(session)

    result = run_sweep(session=session, ctx=ctx_for(SWEEP),
                       targets=TargetBook.from_settings(settings))

    assert {s["recipient"] for s in result.sent} == {
        "coordinator:18", "coordinator:55", "leader:18", "leader:55"}
    assert result.failed_count == 0
    [nordland] = _messages(hook, "nordland")
    [troms] = _messages(hook, "troms")
    _only_nordland(nordland)
    _only_troms(troms)
    assert "Hei koordinator i Nordland fylkesbibliotek" in nordland
    assert "Hei koordinator i Troms fylkesbibliotek" in troms
    [nordland_leader] = _messages(hook, "nordland-leder")
    [troms_leader] = _messages(hook, "troms-leder")
    _only_nordland(nordland_leader)
    _only_troms(troms_leader)
    assert hook.to("global") == []  # every county has its own target
    recipients = set(session.exec(select(Reminder.recipient)).all())
    assert recipients == {"coordinator:18", "coordinator:55", "leader:18", "leader:55"}


def test_with_only_the_global_variable_each_county_still_gets_its_own_digest(
        db_url, session, hook, monkeypatch):
    _clear_notify_env(monkeypatch)
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS", hook.url("global", G_SECRET))
    _open_both(session)

    result = run_sweep(session=session, ctx=ctx_for(SWEEP),
                       targets=TargetBook.from_settings(Settings()))

    # No leader anywhere: escalations go to each county's coordinator.
    assert sorted(s["recipient"] for s in result.sent) == ["coordinator:18", "coordinator:55"]
    posts = _messages(hook, "global")
    assert len(posts) == 2
    [nordland] = [p for p in posts if "Rødøy" in p]
    [troms] = [p for p in posts if "Tromsø" in p]
    _only_nordland(nordland)
    _only_troms(troms)
    assert "Eskalert" in nordland and "Eskalert" in troms


def test_apprise_yaml_tags_route_per_county(db_url, session, hook, monkeypatch, tmp_path):
    _clear_notify_env(monkeypatch)
    config = tmp_path / "apprise.yml"
    config.write_text(
        "urls:\n"
        f"  - {hook.url('global', G_SECRET)}\n"
        f"  - {hook.url('global-leder', NL_SECRET)}:\n"
        "    - tag: leader\n"
        f"  - {hook.url('troms', T_SECRET)}:\n"
        "    - tag: fylke-55\n"
        f"  - {hook.url('troms-leder', TL_SECRET)}:\n"
        "    - tag: fylke-55-leder\n", encoding="utf-8")
    monkeypatch.setenv("AVTALEFLYT_APPRISE_CONFIG", str(config))
    _open_both(session)

    run_sweep(session=session, ctx=ctx_for(SWEEP), targets=TargetBook.from_settings(Settings()))

    # Troms has tagged entries of its own; Nordland has none and uses the untagged/leader ones.
    [troms] = _messages(hook, "troms")
    [troms_leader] = _messages(hook, "troms-leder")
    [nordland] = _messages(hook, "global")
    [nordland_leader] = _messages(hook, "global-leder")
    _only_troms(troms)
    _only_troms(troms_leader)
    _only_nordland(nordland)
    _only_nordland(nordland_leader)


def test_old_installation_wide_rows_are_still_sent_and_reported(db_url, session, hook):
    """Outbox rows written before digests were per county ("coordinator", "leader") are
    kept and reach the installation-wide targets; a failure of one is reported to the
    installation-wide coordinator, not to a county."""
    _open_both(session)
    _, case = get_case(session, NORDLAND)
    task = case_tasks(session, case.id)[0]
    session.add(Reminder(task_id=task.id, case_id=case.id, kind="due", due_on=task.due_on,
                         step=0, recipient="coordinator", created_on=SWEEP - timedelta(days=1),
                         created_at=utcnow()))
    old = Digest(recipient="leader", sweep_on=SWEEP - timedelta(days=1), status="failed",
                 attempts=1, next_attempt_on=SWEEP, title="Avtaleflyt: 1 frist",
                 body_text="Gammel oppsummering", body_html="<p>Gammel oppsummering</p>",
                 item_count=1)
    session.add(old)
    session.flush()
    session.add(Delivery(digest_id=old.id, target="json://koord:****@127.0.0.1/x",
                         status="failed", attempt=1, error="500", at=utcnow()))
    session.commit()
    targets = TargetBook(coordinator=(hook.url("global", G_SECRET),),
                         leader=(hook.url("global-leder", NL_SECRET),),
                         county_coordinator={"18": (hook.url("nordland", N_SECRET),),
                                             "55": (hook.url("troms", T_SECRET),)})

    result = run_sweep(session=session, ctx=ctx_for(SWEEP), targets=targets)

    status = {s["recipient"]: s["status"] for s in result.sent}
    assert status == {"coordinator": "sent", "leader": "sent", "coordinator:18": "sent",
                      "coordinator:55": "sent", "leader:18": "sent", "leader:55": "sent"}
    # The old leader digest, and each county's escalations (no county leader of its own).
    leader_posts = _messages(hook, "global-leder")
    assert len(leader_posts) == 3
    assert sum("Gammel oppsummering" in p for p in leader_posts) == 1
    _only_nordland(next(p for p in leader_posts if "Rødøy" in p))
    _only_troms(next(p for p in leader_posts if "Tromsø" in p))
    [old_coordinator] = _messages(hook, "global")
    assert "Rødøy (1836)" in old_coordinator and "kom ikke fram" in old_coordinator
    for county in ("nordland", "troms"):
        assert "kom ikke fram" not in _messages(hook, county)[0]


def test_a_county_digest_failure_is_reported_to_that_county_only(db_url, session, hook):
    broken = HookServer().start()
    broken.failing = True
    try:
        _open_both(session)
        targets = TargetBook(county_coordinator={
            "18": (hook.url("nordland", N_SECRET),),
            "55": (hook.url("troms", T_SECRET), broken.url("troms-2", "Brukket-Hemmelig-9"))})
        run_sweep(session=session, ctx=ctx_for(SWEEP), targets=targets)
        broken.failing = False
        run_sweep(session=session, ctx=ctx_for(date(2027, 5, 24)), targets=targets)
    finally:
        broken.stop()
    troms = _messages(hook, "troms")
    assert any("kom ikke fram" in t for t in troms)
    assert not any("kom ikke fram" in t for t in _messages(hook, "nordland"))
    assert all("Brukket-Hemmelig-9" not in t for t in troms)


def test_no_per_county_secret_reaches_logs_tables_results_or_the_outbox_list(
        db_url, session, hook, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    _clear_notify_env(monkeypatch)
    broken = HookServer().start()
    broken.failing = True
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS_18", hook.url("nordland", N_SECRET))
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS_55",
                       f"{hook.url('troms', T_SECRET)},{broken.url('t2', 'Brukket-Hemmelig-9')}")
    monkeypatch.setenv("AVTALEFLYT_LEADER_URLS_55", hook.url("troms-leder", TL_SECRET))
    try:
        settings = Settings()
        targets = TargetBook.from_settings(settings)
        _open_both(session)
        result = run_sweep(session=session, ctx=ctx_for(SWEEP), targets=targets)
        with dry_run_session(db_url) as dry:
            preview = run_sweep(session=dry, ctx=ctx_for(SWEEP + timedelta(days=3)),
                                targets=targets, dry_run=True)
    finally:
        broken.stop()
    assert result.failed_count == 1
    dump = json.dumps([result.as_dict(), result.table(), preview.as_dict(),
                       reminders.reminder_rows(session)], default=str)
    dump += repr(settings) + repr(targets) + str(settings.model_dump(exclude={
        "county_notify_urls", "county_leader_urls", "notify_urls", "leader_urls"}))
    with db.get_engine(db_url).connect() as c:
        for table in ("digest", "delivery", "reminder", "event"):
            dump += json.dumps([list(r) for r in c.execute(sa.text(f"select * from {table}"))],
                               default=str)
    dump += caplog.text
    assert "****" in dump
    for secret in (N_SECRET, T_SECRET, TL_SECRET, "Brukket-Hemmelig-9"):
        assert secret not in dump
    assert targets.secrets() >= {N_SECRET, T_SECRET, TL_SECRET, "Brukket-Hemmelig-9"}


# --- configuration per county ------------------------------------------------------------

COUNTY_TOML = """
[agreement]
yearly_price = 120000

[county."55".agreement]
yearly_price = 150000

[county."55".tasks.due]
"first_contact.intent" = 60
"""


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "avtaleflyt.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_county_sections_override_deadlines_and_the_standard_price(db_url, session, tmp_path):
    path = _config_file(tmp_path, COUNTY_TOML)
    ctx = make_ctx(today=OPENED, actor="testkoordinator", config_file=str(path))
    assert ctx.for_county("55").config.agreement.yearly_price == 150000
    assert ctx.for_county("18").config is ctx.config
    _open_both(session, ctx)

    due = {knr: {t.key: t.due_on for t in case_tasks(session, get_case(session, knr)[1].id)}
           for knr in (NORDLAND, TROMS)}
    assert due[NORDLAND]["first_contact.intent"] == date(2027, 5, 13)  # 42 days, the default
    assert due[TROMS]["first_contact.intent"] == date(2027, 5, 31)  # 60 days (30 May a Sunday)
    assert due[NORDLAND]["first_contact.meeting"] == due[TROMS]["first_contact.meeting"]

    def price(knr):
        fact = facts.build_case_fact(session=session, kommunenummer=knr, kind="terms-set",
                                     occurred_on=OPENED, ctx=ctx,
                                     options={"start": "2028-01-01", "years": "3",
                                              "notice_months": "6"})
        return fact.terms.yearly_price

    assert (price(NORDLAND), price(TROMS)) == (120000, 150000)
    # The drafts offer each county's standard price.
    for knr, amount, other in ((TROMS, "150 000", "120 000"), (NORDLAND, "120 000", "150 000")):
        html = documents.render(session=session, kind="agreement", formats=("html",), ctx=ctx,
                                kommunenummer=knr).files["html"].decode()
        assert amount in html.replace("\xa0", " ") and other not in html.replace("\xa0", " ")


def test_the_sweep_uses_each_county_s_deadlines(db_url, session, tmp_path, hook):
    """With Troms's intent due on 31 May, Troms's coordinator hears nothing on 21 May about
    it being late, while Nordland's hears it is 5 working days late (and escalated)."""
    path = _config_file(tmp_path, COUNTY_TOML + '\n[county."55".reminders]\n'
                        'upcoming_working_days = [6]\n')
    ctx = make_ctx(today=OPENED, actor="testkoordinator", config_file=str(path))
    _open_both(session, ctx)
    targets = TargetBook(coordinator=(hook.url("global", G_SECRET),))
    run_sweep(session=session, ctx=make_ctx(today=SWEEP, actor="t", config_file=str(path)),
              targets=targets)
    posts = _messages(hook, "global")
    [nordland] = [p for p in posts if "Rødøy" in p]
    [troms] = [p for p in posts if "Tromsø" in p]
    assert "Kommunen bekrefter" in nordland and "5 arbeidsdager på overtid" in nordland
    intent = troms.split("Kommunen bekrefter")[1].split("Hva du gjør")[0]
    assert "31. mai 2027" in intent and "om 6 arbeidsdager" in intent


@pytest.mark.parametrize("text, name", [
    ('[county."55".agreement]\ncolour = "blå"\n', "county.55.agreement.colour"),
    ('[county."55"]\nunknown_section = 1\n', "county.55.unknown_section"),
    ('[county."5".agreement]\nyearly_price = 1\n', "county.5"),
    ('[county."99".agreement]\nyearly_price = 1\n', "county.99"),
    ('[county."55".agreement]\nyearly_price = -5\n', "county.55.agreement.yearly_price"),
    ('[county."55".tasks.due]\n"no.such.task" = 5\n', "county.55.tasks.due.no.such.task"),
    ('county = 5\n', "county"),
    # Installation-wide tables would be accepted and never used: refused instead.
    ('[county."55".cli]\nallow_by = true\n', "county.55.cli"),
    ('[county."55".privacy]\naccess_log_days = 1\n', "county.55.privacy"),
    ('[county."55".prefect]\nretention_days = 1\n', "county.55.prefect"),
    ('[county."55".dashboard]\nsession_idle_minutes = 5\n', "county.55.dashboard"),
])
def test_county_sections_are_checked_as_strictly_as_the_top_level(tmp_path, text, name):
    with pytest.raises(InvalidInput) as e:
        load_config(_config_file(tmp_path, text))
    assert e.value.field == name
    assert name in e.value.message or name.startswith("county.55.") and \
        name.removeprefix("county.55.") in e.value.message


# --- templates per county ----------------------------------------------------------------


def test_a_county_template_folder_wins_for_that_county_only(db_url, session, tmp_path):
    _open_both(session)
    overrides = tmp_path / "maler"
    (overrides / "55").mkdir(parents=True)
    (overrides / "55" / "agreement.html.j2").write_text(
        "<h1>Troms-mal for {{ doc.municipality.name }}</h1>\n", encoding="utf-8")
    (overrides / "saksframlegg.html.j2").write_text(
        "<h1>Felles mal for {{ doc.municipality.name }}</h1>\n", encoding="utf-8")
    settings = Settings(template_dir=overrides)
    ctx = ctx_for(OPENED)

    def html(knr, kind):
        return documents.render(session=session, kind=kind, formats=("html",), ctx=ctx,
                                kommunenummer=knr, settings=settings).files["html"].decode()

    assert "Troms-mal for Tromsø" in html(TROMS, "agreement")
    nordland = html(NORDLAND, "agreement")
    assert "Troms-mal" not in nordland and "Rødøy" in nordland  # the built-in template
    # The flat folder still applies to every county without its own file.
    assert "Felles mal for Rødøy" in html(NORDLAND, "saksframlegg")
    assert "Felles mal for Tromsø" in html(TROMS, "saksframlegg")
