"""Min side: the user's name, role and county, and their personal calendar feed address —
made (shown once, absolute, with the request's scheme and host), listed without the token,
revoked with a confirmation — through the real app and database on each backend, with the
feed itself answering or refusing the address afterwards."""

from __future__ import annotations

import re

from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.models import FeedToken
from avtaleflyt.services import users

from .web_support import PASSWORD, client, csrf_of, logged_in

_URL = re.compile(r'id="feed-url"[^>]*value="([^"]+)"')


def _new_feed(c, base: str = "http://testserver") -> str:
    page = c.get("/min-side")
    r = c.post("/min-side/kalender", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    assert "vises bare denne ene gangen" in r.text
    url = _URL.search(r.text).group(1)
    assert url.startswith(f"{base}/kalender/") and url.endswith(".ics")
    return url


def test_min_side_shows_who_the_user_is(db_url):
    c = logged_in(db_url)
    page = c.get("/min-side")
    assert page.status_code == 200
    assert 'id="me-name">kari<' in page.text
    assert 'id="me-role">Fylkets koordinator<' in page.text
    assert 'id="me-county">Nordland fylkeskommune (18)<' in page.text
    assert 'href="/min-side" aria-current="page"' in page.text  # in the navigation
    assert "Du har ingen aktiv kalenderadresse." in page.text
    national = logged_in(db_url, "nora", None)
    page = national.get("/min-side")
    assert 'id="me-role">Nasjonal bruker<' in page.text
    assert 'id="me-county">Alle fylker<' in page.text


def test_min_side_needs_a_login(db_url):
    r = client().get("/min-side")
    assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn")
    r = client().post("/min-side/kalender", data={})
    assert r.status_code == 401
    with db.session_scope(db_url) as s:
        assert s.exec(select(FeedToken)).all() == []


def test_a_new_feed_address_is_shown_once_and_works(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-05-04")
    c = logged_in(db_url)
    url = _new_feed(c)
    token = url.removeprefix("http://testserver/kalender/").removesuffix(".ics")
    feed = client().get(f"/kalender/{token}.ics")
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    # The list shows it without the token, from now on.
    page = c.get("/min-side")
    assert token not in page.text and 'id="feed-url"' not in page.text
    assert "Resten av adressen vises ikke igjen." in page.text
    assert page.text.count('action="/min-side/kalender/') == 1
    with db.session_scope(db_url) as s:
        stored = s.exec(select(FeedToken)).one()
        assert token not in stored.token_hash
    # A second address replaces the first, as `avtaleflyt user feed-token` does.
    second = _new_feed(c)
    assert second != url
    assert client().get(f"/kalender/{token}.ics").status_code == 404
    assert c.get("/min-side").text.count('action="/min-side/kalender/') == 1


def test_the_address_follows_the_scheme_and_host_the_request_came_on(db_url):
    users_url = db_url
    with db.session_scope(users_url) as s:
        users.create_user(session=s, username="kari", password=PASSWORD, county="18")
    c = client(base_url="https://avtaleflyt.nfk.example")
    token = csrf_of(c.get("/logg-inn").text)
    r = c.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                  "csrf_token": token, "neste": "/"})
    assert r.status_code == 303
    _new_feed(c, "https://avtaleflyt.nfk.example")


def test_revoking_needs_a_confirmation_and_turns_the_feed_off(db_url):
    c = logged_in(db_url)
    url = _new_feed(c)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    page = c.get("/min-side")
    feed_id = re.search(r'action="/min-side/kalender/(\d+)/slett"', page.text).group(1)
    csrf = csrf_of(page.text)
    # Without the box ticked: refused, named, nothing changed.
    r = c.post(f"/min-side/kalender/{feed_id}/slett", data={"csrf_token": csrf})
    assert r.status_code == 422
    assert "Kryss av for «Ja, slå av denne adressen»" in r.text
    assert f'id="feed-{feed_id}-confirm" name="confirm" value="ja" aria-invalid="true"' in r.text
    assert client().get(f"/kalender/{token}.ics").status_code == 200
    # Without the form's token: refused.
    r = c.post(f"/min-side/kalender/{feed_id}/slett", data={"confirm": "ja"})
    assert r.status_code == 403
    assert client().get(f"/kalender/{token}.ics").status_code == 200
    # Confirmed: off, and the page says so.
    r = c.post(f"/min-side/kalender/{feed_id}/slett", data={"csrf_token": csrf, "confirm": "ja"})
    assert r.status_code == 303 and r.headers["location"] == "/min-side"
    page = c.get("/min-side")
    assert "Kalenderadressen er slått av." in page.text
    assert "Du har ingen aktiv kalenderadresse." in page.text
    assert client().get(f"/kalender/{token}.ics").status_code == 404
    # Again: not found, nothing else happens.
    r = c.post(f"/min-side/kalender/{feed_id}/slett", data={"csrf_token": csrf, "confirm": "ja"})
    assert r.status_code == 404 and "Fant ingen aktiv kalenderadresse" in r.text


def test_nobody_revokes_someone_elses_feed(db_url):
    kari = logged_in(db_url)
    _new_feed(kari)
    with db.session_scope(db_url) as s:
        kari_feed = s.exec(select(FeedToken)).one().id
    ola = logged_in(db_url, "ola")
    csrf = csrf_of(ola.get("/min-side").text)
    r = ola.post(f"/min-side/kalender/{kari_feed}/slett",
                 data={"csrf_token": csrf, "confirm": "ja"})
    assert r.status_code == 404
    with db.session_scope(db_url) as s:
        assert s.get(FeedToken, kari_feed).revoked_at is None
