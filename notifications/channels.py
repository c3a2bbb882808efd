"""Where digests go, and sending one through Apprise.

Recipients are stable keys: "coordinator:<fylkesnummer>", "leader:<fylkesnummer>" (one
coordinator and one leader per county, so a county's digest holds its own cases only) and
"contact:<id>". Plain "coordinator" and "leader" are the keys of outbox rows written before
digests were per county; they reach the installation-wide targets. This module turns keys
into Apprise URLs at send time from the settings, so no URL — and no secret in one — is ever
stored. Only `Target.masked` leaves this module.

A county's targets: AVTALEFLYT_NOTIFY_URLS_<nr> / AVTALEFLYT_LEADER_URLS_<nr>, plus entries
tagged "fylke-<nr>" / "fylke-<nr>-leder" in the Apprise file. A county with none of its own
uses the installation-wide ones (AVTALEFLYT_NOTIFY_URLS, AVTALEFLYT_LEADER_URLS, untagged or
"coordinator"/"leader"-tagged entries) — still in a digest of its own.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .masking import mask_url, scrub, secrets_of

logging.getLogger("apprise").setLevel(logging.WARNING)

COORDINATOR = "coordinator"
LEADER = "leader"
CONTACT_PREFIX = "contact:"


def contact_key(contact_id: int) -> str:
    return f"{CONTACT_PREFIX}{contact_id}"


def coordinator_key(county: str | None) -> str:
    """The county's coordinator ("coordinator:18"); plain "coordinator" without a county."""
    return f"{COORDINATOR}:{county}" if county else COORDINATOR


def leader_key(county: str | None) -> str:
    return f"{LEADER}:{county}" if county else LEADER


def role_and_county(recipient: str) -> tuple[str, str | None]:
    """("coordinator", "18") for "coordinator:18", ("leader", None) for the old "leader",
    ("contact", None) for a contact."""
    if recipient.startswith(CONTACT_PREFIX):
        return "contact", None
    role, _, county = recipient.partition(":")
    return role, county or None


def county_tag(county: str, leader: bool = False) -> str:
    return f"fylke-{county}-leder" if leader else f"fylke-{county}"


_COUNTY_TAG = re.compile(r"^fylke-(\d{2})(-leder)?$")


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)  # holds secrets: never logged, shown or stored
    masked: str
    html: bool = False

    @property
    def secrets(self) -> set[str]:
        return secrets_of(self.url)


@dataclass(frozen=True)
class TargetBook:
    """The configured targets. Build with `from_settings`."""

    # Full URLs with their secrets: kept out of repr so a log line or traceback never shows them.
    coordinator: tuple[str, ...] = field(default=(), repr=False)
    leader: tuple[str, ...] = field(default=(), repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    # fylkesnummer → that county's own targets, which replace the installation-wide ones.
    county_coordinator: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    county_leader: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings) -> TargetBook:
        coordinator = _split(settings.notify_urls)
        leader = _split(getattr(settings, "leader_urls", None))
        county_c = {k: _split(v) for k, v in
                    (getattr(settings, "county_notify_urls", None) or {}).items()}
        county_l = {k: _split(v) for k, v in
                    (getattr(settings, "county_leader_urls", None) or {}).items()}
        if settings.apprise_config is not None:
            c, lead, by_county = _from_apprise_config(Path(settings.apprise_config))
            coordinator += c
            leader += lead
            for (county, is_leader), urls in by_county.items():
                (county_l if is_leader else county_c).setdefault(county, []).extend(urls)
        return cls(tuple(coordinator), tuple(leader), settings.smtp_url or None,
                   {k: tuple(v) for k, v in county_c.items() if v},
                   {k: tuple(v) for k, v in county_l.items() if v})

    @property
    def has_leader(self) -> bool:
        return bool(self.leader)

    def has_leader_for(self, county: str | None) -> bool:
        return bool(self._leader_urls(county))

    @property
    def has_smtp(self) -> bool:
        return bool(self.smtp_url)

    def secrets(self) -> set[str]:
        out: set[str] = set()
        for u in (*self.coordinator, *self.leader, *([self.smtp_url] if self.smtp_url else []),
                  *(u for urls in self.county_coordinator.values() for u in urls),
                  *(u for urls in self.county_leader.values() for u in urls)):
            out |= secrets_of(u)
        return out

    def _coordinator_urls(self, county: str | None) -> tuple[str, ...]:
        return self.county_coordinator.get(county, self.coordinator) if county else \
            self.coordinator

    def _leader_urls(self, county: str | None) -> tuple[str, ...]:
        return self.county_leader.get(county, self.leader) if county else self.leader

    def targets_for(self, recipient: str, contact_email: str | None = None) -> list[Target]:
        role, county = role_and_county(recipient)
        if role == COORDINATOR:
            return [Target(u, _masked(u)) for u in self._coordinator_urls(county)]
        if role == LEADER:
            return [Target(u, _masked(u)) for u in self._leader_urls(county)]
        if recipient.startswith(CONTACT_PREFIX) and self.smtp_url and contact_email:
            sep = "&" if "?" in self.smtp_url else "?"
            url = f"{self.smtp_url}{sep}to={quote(contact_email, safe='@')}"
            # The masked form names the contact by key, not by address (personal data).
            return [Target(url, f"{_masked(self.smtp_url)} → {recipient}", html=True)]
        return []


@functools.lru_cache(maxsize=256)
def _masked(url: str) -> str:
    """mask_url, once per configured URL (it parses the URL with Apprise)."""
    return mask_url(url)


def _split(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def _from_apprise_config(path: Path) -> tuple[list[str], list[str],
                                              dict[tuple[str, bool], list[str]]]:
    """Entries tagged "leader" reach the leader; untagged or "coordinator" ones the
    coordinator; "fylke-55" the coordinator of county 55 and "fylke-55-leder" its leader
    (returned keyed by (fylkesnummer, is_leader))."""
    import apprise

    from avtaleflyt.domain.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"Fant ikke Apprise-konfigurasjonen {path} (AVTALEFLYT_APPRISE_CONFIG).",
                           field="apprise_config")
    ac = apprise.AppriseConfig()
    ac.add(str(path))
    coordinator, leader = [], []
    by_county: dict[tuple[str, bool], list[str]] = {}
    for service in ac.services():
        tags = {str(t) for t in service.tags}
        url = service.url(privacy=False)
        if LEADER in tags:
            leader.append(url)
        if not tags or COORDINATOR in tags:
            coordinator.append(url)
        for tag in sorted(tags):
            match = _COUNTY_TAG.match(tag)
            if match:
                by_county.setdefault((match.group(1), bool(match.group(2))), []).append(url)
    return coordinator, leader, by_county


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


Deliver = Callable[[Target, str, str, str], SendResult]


def deliver(target: Target, title: str, text: str, html: str) -> SendResult:
    """Send one message to one target. The error text has every secret scrubbed out."""
    a = _apprise_for(target.url)
    if a is None:
        return SendResult(False, f"Ugyldig Apprise-adresse: {target.masked}")
    return _notify(a, target, title, text, html)


def _apprise_for(url: str):
    """An Apprise object holding one target, or None if Apprise does not understand it."""
    import apprise

    # One target per object: Apprise's thread pool would only add a hand-off per message.
    a = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    return a if a.add(url) else None


def _notify(a, target: Target, title: str, text: str, html: str) -> SendResult:
    import apprise

    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as logs:
        try:
            ok = bool(a.notify(body=html if target.html else text, title=title,
                               body_format="html" if target.html else "text"))
        except Exception as e:  # noqa: BLE001 - a plugin bug must not stop the sweep
            ok = False
            logs.write(f"{type(e).__name__}: {e}")
        captured = logs.getvalue()
    if ok:
        return SendResult(True)
    error = " ".join(captured.split()) or "Sendingen feilet."
    return SendResult(False, scrub(error, target.secrets)[:500])


class Sender:
    """Sends the messages of one sweep. A `Deliver` that keeps one SMTP connection open per
    mail server for the whole sweep, so a thousand e-mails cost one connection and login,
    not a thousand. Use as a context manager; the connections close at its end.

    Why not plain Apprise: Apprise opens, authenticates and closes an SMTP connection inside
    every `notify()` call (it shares one connection only among the recipients of one
    message, and every digest here is its own message). So the e-mail path uses Apprise's
    own pieces: it parses the mailto:// URL into Apprise's e-mail plugin (host, port, TLS
    mode, login, sender), builds each message with the plugin's `prepare_emails`, and sends
    it over Apprise's `AppriseSMTPController` kept open across messages. Every other
    target (json://, slack:// …) goes through Apprise as `deliver` does, with each URL
    parsed into its Apprise object once per sweep, not once per message. Should Apprise's
    internals ever not fit (another version), a message falls back to `deliver`."""

    def __init__(self) -> None:
        self._connections: dict[tuple, object] = {}
        self._apprise: dict[str, object] = {}  # URL → its Apprise object (parsed once)
        self.connections_opened = 0

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for controller in self._connections.values():
            try:
                controller.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - closing a dead connection must not fail a sweep
                pass
        self._connections.clear()
        self._apprise.clear()

    def __call__(self, target: Target, title: str, text: str, html: str) -> SendResult:
        if not target.url.lower().startswith(("mailto://", "mailtos://")):
            if target.url not in self._apprise:
                self._apprise[target.url] = _apprise_for(target.url)
            a = self._apprise[target.url]
            if a is None:
                return SendResult(False, f"Ugyldig Apprise-adresse: {target.masked}")
            return _notify(a, target, title, text, html)
        try:
            plugin, messages = self._prepare(target, title, text, html)
        except Exception:  # noqa: BLE001 - Apprise's internals differ, or the message
            # cannot be built: plain Apprise sends it, or reports why it cannot.
            return deliver(target, title, text, html)
        if plugin is None:
            return SendResult(False, f"Ugyldig Apprise-adresse: {target.masked}")
        import apprise

        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as logs:
            pending = list(messages)
            for _attempt in (1, 2):  # a connection the server has closed is opened again
                try:
                    smtp = self._connection(plugin)
                except Exception as e:  # noqa: BLE001 - connection or login refused
                    logs.write(f"{type(e).__name__}: {e}")
                    break
                while pending and smtp.sendmail(plugin.from_addr[1], pending[0].to_addrs,
                                                pending[0].body):
                    pending.pop(0)  # sent: never sent again on the retry
                if not pending:
                    break
                if _connection_alive(smtp):
                    break  # the server refused the message itself: no retry
                self._drop(plugin)
            ok = not pending
            captured = logs.getvalue()
        if ok:
            return SendResult(True)
        error = " ".join(captured.split()) or "Sendingen feilet."
        return SendResult(False, scrub(error, target.secrets)[:500])

    @staticmethod
    def _prepare(target: Target, title: str, text: str, html: str):
        import apprise
        from apprise.plugins.email.base import NotifyEmail

        plugin = apprise.Apprise.instantiate(target.url)
        if plugin is None or not isinstance(plugin, NotifyEmail):
            return None, []
        body, fmt = (html, "html") if target.html else (text, "text")
        headers = {"X-Application": plugin.app_id}
        headers.update(plugin.headers)
        headers.update(plugin._protocol_headers(body))
        messages = list(NotifyEmail.prepare_emails(
            subject=title, body=body, notify_format=plugin.resolve_format(fmt),
            from_addr=plugin.from_addr, to=plugin.targets, cc=plugin.cc, bcc=plugin.bcc,
            reply_to=plugin.reply_to, smtp_host=plugin.smtp_host, attach=None,
            headers=headers, names=plugin.names, pgp=plugin.pgp, pgp_mode=plugin.pgp_mode,
            inline=plugin.inline, tzinfo=plugin.tzinfo))
        return plugin, messages

    @staticmethod
    def _key(plugin) -> tuple:
        return (plugin.smtp_host, plugin.port, plugin.secure_mode, plugin.user,
                plugin.password, plugin.verify_certificate)

    def _connection(self, plugin):
        key = self._key(plugin)
        smtp = self._connections.get(key)
        if smtp is None:
            from apprise.plugins.email.smtp import AppriseSMTPController

            smtp = AppriseSMTPController(
                host=plugin.smtp_host, port=plugin.port, secure_mode=plugin.secure_mode,
                user=plugin.user, password=plugin.password,
                verify_certificate=plugin.verify_certificate,
                socket_connect_timeout=plugin.socket_connect_timeout).__enter__()
            self._connections[key] = smtp
            self.connections_opened += 1
        return smtp

    def _drop(self, plugin) -> None:
        smtp = self._connections.pop(self._key(plugin), None)
        if smtp is not None:
            try:
                smtp.__exit__(None, None, None)
            except Exception:  # noqa: BLE001
                pass


def _connection_alive(smtp) -> bool:
    try:
        return smtp._socket is not None and smtp._socket.noop()[0] == 250
    except Exception:  # noqa: BLE001 - a closed socket raises
        return False
