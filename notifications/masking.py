"""Rendering Apprise URLs without their secrets, and scrubbing secrets out of any text.

A URL's password or token must never reach a log, a page, an artifact or the database, so
every URL that is shown or stored passes through `mask_url`, and every error text through
`scrub`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

logging.getLogger("apprise").setLevel(logging.WARNING)

_MASK = "****"
# Query parameters that are addresses or options, not secrets.
_PLAIN_QUERY = frozenset({"to", "from", "name", "cc", "bcc", "mode", "format", "overflow",
                          "smtp", "user", "reply", "verify", "method"})


def mask_url(url: str) -> str:
    """The URL as Apprise renders it with privacy on; a plain masking when Apprise does not
    know the scheme. Never returns the password, token or key."""
    import apprise

    try:
        obj = apprise.Apprise.instantiate(url)
    except Exception:  # noqa: BLE001 - any failure falls back to the plain masking
        obj = None
    if obj is not None:
        try:
            return _without_apprise_options(scrub(obj.url(privacy=True), secrets_of(url)))
        except Exception:  # noqa: BLE001
            pass
    return _plain_mask(url)


# Apprise appends its options (overflow, retry, cto, …) to every URL it renders; a person
# reading which target a message went to needs the addresses only.
_ADDRESS_QUERY = frozenset({"to", "from", "cc", "bcc", "name"})


def _without_apprise_options(url: str) -> str:
    from urllib.parse import urlencode, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() in _ADDRESS_QUERY]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*@:")))


def _plain_mask(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return _MASK
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:{_MASK}@" if parts.username else ""
    path = "/" + _MASK if parts.path.strip("/") else ""
    return f"{parts.scheme}://{user}{host}{path}"


def secrets_of(url: str) -> set[str]:
    """Every piece of a URL that could be a secret: the password, path segments and query
    values (except plain addresses and options). Short pieces are left out, so that
    scrubbing does not blank out every "1" in a message."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    if parts.password:
        found.update({parts.password, unquote(parts.password)})
    for seg in parts.path.split("/"):
        if seg:
            found.update({seg, unquote(seg)})
    for k, v in parse_qsl(parts.query, keep_blank_values=False):
        if k.lower() not in _PLAIN_QUERY and v:
            found.add(v)
    # A token in the host position (e.g. tgram://TOKEN/...) is still a secret.
    hostport = parts.netloc.rsplit("@", 1)[-1]
    host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        found.update({hostport, port})
    if len(host) >= 20 and "." not in host:
        found.add(host)
    return {s for s in found if len(s) >= 4}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ****, longest first."""
    for s in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(s, _MASK)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1" + _MASK + "@", text)
