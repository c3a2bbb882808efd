"""Contact persons from the dashboard: add, correct and erase (with its confirmation step),
through FastAPI's TestClient on real SQLite and PostgreSQL. Contacts are personal data and
never a flow run, so none of this needs Prefect."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.models import AccessLog, ContactPerson, Event
from avtaleflyt.services import people

from .conftest import ctx_for
from .web_support import csrf_of, logged_in, open_case

DAY = date(2026, 3, 20)


def _contacts(url: str) -> list[tuple[str, str, str, str | None, bool]]:
    with db.session_scope(url) as s:
        return [(c.name, c.role, c.email, c.phone, c.is_primary) for c in s.exec(
            select(ContactPerson).order_by(ContactPerson.id)).all()]


def _events(url: str, kind: str) -> int:
    with db.session_scope(url) as s:
        return len(s.exec(select(Event).where(Event.kind == kind)).all())


def _form(name="Kari Nordmann", role="kommunedirektør", email="kari@rodoy.example",
          phone="", primary=""):
    return {"name": name, "role": role, "email": email, "phone": phone, "primary": primary}


def test_add_a_contact_and_a_refused_email_writes_nothing(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", DAY.isoformat())
    open_case(db_url, "1836", DAY)
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    assert "Legg til kontaktperson" in page and "Ingen kontaktpersoner ennå" in page
    token = csrf_of(page)

    bad = c.post("/sak/1836/kontakt", data={"csrf_token": token,
                                            **_form(email="kari(at)rodoy")})
    assert bad.status_code == 422
    # The add form comes back open, with what was typed and the e-mail field marked.
    assert '<details open id="contact-new">' in bad.text
    assert 'id="contact-new-email" name="email" type="email" value="kari(at)rodoy" required ' \
           'aria-invalid="true"' in bad.text
    assert "«kari(at)rodoy» er ikke en gyldig e-postadresse" in bad.text
    assert 'value="Kari Nordmann"' in bad.text
    assert _contacts(db_url) == [] and _events(db_url, "contact_added") == 0

    missing = c.post("/sak/1836/kontakt", data={"csrf_token": token, **_form(name="  ")})
    assert missing.status_code == 422 and "Navn» kan ikke være tom" in missing.text
    assert 'id="contact-new-name"' in missing.text and _contacts(db_url) == []

    r = c.post("/sak/1836/kontakt", data={"csrf_token": token,
                                          **_form(phone="+47 912 34 567")})
    assert r.status_code == 303 and r.headers["location"] == "/sak/1836"
    page = c.get("/sak/1836").text
    assert "Kontaktperson lagt til for Rødøy." in page
    assert "<strong>Kari Nordmann</strong>, kommunedirektør (primær)" in page
    # The first contact becomes the primary one, as `contact add` does.
    assert _contacts(db_url) == [("Kari Nordmann", "kommunedirektør", "kari@rodoy.example",
                                  "+47 912 34 567", True)]
    assert _events(db_url, "contact_added") == 1

    dup = c.post("/sak/1836/kontakt", data={"csrf_token": token,
                                            **_form(name="Kari To", email="KARI@rodoy.example")})
    assert dup.status_code == 409 and "har allerede en kontaktperson" in dup.text
    assert len(_contacts(db_url)) == 1
    assert c.post("/sak/1836/kontakt", data={"csrf_token": "feil", **_form(
        email="per@rodoy.example")}).status_code == 403
    assert len(_contacts(db_url)) == 1


def test_edit_is_prefilled_and_erase_asks_first(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", DAY.isoformat())
    open_case(db_url, "1836", DAY)
    with db.session_scope(db_url) as s:
        people.add_contact(session=s, kommunenummer="1836", name="Kari Nordmann",
                           role="kommunedirektør", email="kari@rodoy.example", phone=None,
                           primary=True, ctx=ctx_for(DAY))
        people.add_contact(session=s, kommunenummer="1836", name="Per Hansen",
                           role="IT-leder", email="per@rodoy.example", phone="75 00 00 00",
                           primary=False, ctx=ctx_for(DAY))
        per = s.exec(select(ContactPerson.id).where(ContactPerson.name == "Per Hansen")).one()
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    assert f'id="contact-{per}-phone" name="phone" type="tel" value="75 00 00 00"' in page
    token = csrf_of(page)

    r = c.post(f"/sak/1836/kontakt/{per}", data={"csrf_token": token, **_form(
        name="Per Hansen", role="IT-sjef", email="per@rodoy.example", phone="75 00 00 00",
        primary="ja")})
    assert r.status_code == 303
    assert _contacts(db_url) == [
        ("Kari Nordmann", "kommunedirektør", "kari@rodoy.example", None, False),
        ("Per Hansen", "IT-sjef", "per@rodoy.example", "75 00 00 00", True)]

    # «Slett» leads to a page that says who and what, and erases nothing by itself.
    confirm = c.get(f"/sak/1836/kontakt/{per}/slett")
    assert confirm.status_code == 200
    assert "Slette Per Hansen?" in confirm.text and "Dette kan ikke angres" in confirm.text
    assert "Ja, slett Per Hansen for godt" in confirm.text
    assert len(_contacts(db_url)) == 2
    with db.session_scope(db_url) as s:
        logged = s.exec(select(AccessLog).where(AccessLog.username == "kari",
                                                AccessLog.object.contains("bekreft"))).all()
    assert [(a.action, a.kommunenummer) for a in logged] == [("contact_list", "1836")]

    r = c.post(f"/sak/1836/kontakt/{per}/slett",
               data={"csrf_token": csrf_of(confirm.text), "confirm": "ja"})
    assert r.status_code == 303
    page = c.get("/sak/1836").text
    assert "er slettet fra Rødøy" in page and "Per Hansen" not in page
    assert [n for n, *_ in _contacts(db_url)] == ["Kari Nordmann"]
    assert _events(db_url, "contact_erased") == 1
    with db.session_scope(db_url) as s:  # the tombstone names the id, never the person
        tomb = s.exec(select(Event).where(Event.kind == "contact_erased")).one()
    assert tomb.details == {"contact_id": per} and tomb.recorded_by == "kari"
    assert c.get(f"/sak/1836/kontakt/{per}/slett").status_code == 404


def test_another_countys_contact_is_not_found(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", DAY.isoformat())
    open_case(db_url, "1836", DAY)
    open_case(db_url, "5501", DAY)  # Tromsø, Troms
    with db.session_scope(db_url) as s:
        for knr, email in (("1836", "kari@rodoy.example"), ("5501", "tor@tromso.example")):
            people.add_contact(session=s, kommunenummer=knr, name="Navn Navnesen",
                               role="rådgiver", email=email, phone=None, primary=True,
                               ctx=ctx_for(DAY))
        tromso = s.exec(select(ContactPerson.id).where(
            ContactPerson.email == "tor@tromso.example")).one()
        rodoy = s.exec(select(ContactPerson.id).where(
            ContactPerson.email == "kari@rodoy.example")).one()
    c = logged_in(db_url)  # Nordland
    token = csrf_of(c.get("/sak/1836").text)
    # Another county's municipality, and another county's contact through our own page.
    assert c.get("/sak/5501").status_code == 404
    assert c.post("/sak/5501/kontakt", data={"csrf_token": token, **_form(
        email="ny@tromso.example")}).status_code == 404
    assert c.get(f"/sak/5501/kontakt/{tromso}/slett").status_code == 404
    assert c.get(f"/sak/1836/kontakt/{tromso}/slett").status_code == 404
    r = c.post(f"/sak/1836/kontakt/{tromso}", data={"csrf_token": token, **_form(
        email="tor@tromso.example")})
    assert r.status_code == 404 and "Fant ingen kontaktperson" in r.text
    assert c.post(f"/sak/1836/kontakt/{tromso}/slett",
                  data={"csrf_token": token, "confirm": "ja"}).status_code == 404
    # A Troms user cannot reach Rødøy's contact either.
    troms = logged_in(db_url, "tove", county="55")
    assert troms.get(f"/sak/1836/kontakt/{rodoy}/slett").status_code == 404
    assert len(_contacts(db_url)) == 2
