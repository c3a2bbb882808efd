"""`avtaleflyt login` / `logout`: make this user's CLI a client of an avtaleflyt server's
JSON API (avtaleflyt/client.py), with a personal token made by `avtaleflyt token create`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .output import console, fail


def login(
    url: Annotated[str, typer.Option(
        "--url", help="Serverens adresse, f.eks. https://avtaleflyt.example.no.")],
    token: Annotated[Optional[str], typer.Option(
        "--token", help="Tokenet (fra «avtaleflyt token create NAVN» på serveren). Uten: "
        "spørres det om (skjult), eller det leses fra standard inn. En kommandolinje kan "
        "leses av andre brukere på maskinen; la helst være å bruke --token.")] = None,
) -> None:
    """Logg inn på en avtaleflyt-server: kommandoene går deretter gjennom API-et.

    Tokenet lages på serveren med «avtaleflyt token create NAVN» og lagres her i en fil
    som bare du kan lese (mappen for brukerens innstillinger). Sjekkes mot serveren før
    det lagres. «avtaleflyt logout» sletter det."""
    from avtaleflyt import client

    try:
        base = client.normalise_url(url)
    except client.ApiError as e:
        raise fail(e.detail, e.exit_code) from None
    if token is None:
        token = typer.prompt("Token (fra «avtaleflyt token create NAVN»)", hide_input=True)
    token = token.strip()
    t = client.Target(base, token, "login")
    try:
        answer = client.call(t, "POST", "/ping", {})
    except client.ApiError as e:
        detail = e.detail
        if e.status == 401:
            detail = (f"Tokenet ble avvist av {base} (ukjent, utløpt eller trukket tilbake). "
                      "Lag et nytt med «avtaleflyt token create NAVN» på serveren.")
        raise fail(detail, e.exit_code) from None
    path = client.save_login(base, token)
    console.print(f"Logget inn på {base} som [bold]{answer.get('user', '?')}[/]. Kommandoene "
                  f"går nå gjennom API-et (lagret i {path}).", highlight=False)


def logout() -> None:
    """Logg ut: slett det lagrede tokenet; kommandoene kjører lokalt igjen.

    Tokenet virker på serveren til det trekkes tilbake («avtaleflyt token revoke»)."""
    from avtaleflyt import client

    if client.forget_login():
        console.print("Logget ut. Tokenet er slettet her; trekk det tilbake på serveren med "
                      "«avtaleflyt token revoke» om det ikke skal brukes igjen.")
    else:
        console.print("Ikke innlogget; ingenting å slette.")
