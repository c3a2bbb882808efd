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


def _apprise_for(url: str, *, inline: bool = False):
    """An Apprise object holding one target, or None if Apprise does not understand it.
    `inline`: the plugin runs in the calling thread (Apprise ≥ 2.0 otherwise hands every
    call to a worker thread to enforce its `service_timeout`; the plugins' own socket
    timeouts still apply) — the Sender's choice, where each hand-off is two thread
    switches per message."""
    import apprise

    kwargs = {}
    if inline and hasattr(apprise.AppriseAsset, "_service_timeout"):
        kwargs["service_timeout"] = 0
    # One target per object: Apprise's thread pool would only add a hand-off per message.
    a = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, **kwargs))
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
    it over Apprise's `AppriseSMTPController` kept open across messages. The mail server's
    URL is parsed once per sweep (the recipient, `to=`, is the only part that differs
    between contacts; it is validated as the plugin validates it). Every other target
    (json://, slack:// …) goes through Apprise as `deliver` does, with each URL parsed into
    its Apprise object once per sweep, not once per message; Apprise's JSON plugin posts
    over one kept-alive HTTP connection per server (`_keep_alive_json`) instead of opening
    one per message. Should Apprise's internals ever not fit (another version), a message
    falls back to `deliver`."""

    def __init__(self) -> None:
        self._connections: dict[tuple, object] = {}
        self._apprise: dict[str, object] = {}  # URL → its Apprise object (parsed once)
        self._mail_plugins: dict[str, object] = {}  # mail URL without `to` → its plugin
        self._http = None  # requests.Session shared by the JSON targets (keep-alive)
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
        self._mail_plugins.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def __call__(self, target: Target, title: str, text: str, html: str) -> SendResult:
        if not target.url.lower().startswith(("mailto://", "mailtos://")):
            if target.url not in self._apprise:
                self._apprise[target.url] = a = _apprise_for(target.url, inline=True)
                if a is not None:
                    self._keep_alive_json(a)
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

    def _mail_plugin(self, url: str):
        """The e-mail plugin for `url` and the message's recipients as the plugin would
        have them ((name or False, address) pairs). The URL without its `to=` is parsed
        once per sweep; `to=` is validated with the same Apprise helpers the plugin's own
        constructor uses. None if Apprise has no e-mail plugin for the URL."""
        from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

        from apprise.plugins.email.base import NotifyEmail
        from apprise.utils.parse import is_email, parse_emails

        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        to = [v for k, v in query if k.lower() == "to"]
        if len(to) != 1:  # no `to=` (the sender itself) or several: as Apprise parses it
            plugin = _instantiate(url)
            return (plugin, plugin.targets) if isinstance(plugin, NotifyEmail) else (None, [])
        base = urlunsplit(parts._replace(query=urlencode(
            [(k, v) for k, v in query if k.lower() != "to"])))
        if base not in self._mail_plugins:
            self._mail_plugins[base] = _instantiate(base)
        plugin = self._mail_plugins[base]
        if not isinstance(plugin, NotifyEmail):
            return None, []
        recipients = []
        for recipient in parse_emails(unquote(to[0])):
            found = is_email(recipient)
            if found:
                recipients.append((found["name"] or False, found["full_email"]))
        if not recipients:  # the plugin's own rule: nobody valid → the sender itself
            recipients.append((False, plugin.from_addr[1]))
        return plugin, recipients

    def _prepare(self, target: Target, title: str, text: str, html: str):
        from apprise.plugins.email.base import NotifyEmail

        plugin, recipients = self._mail_plugin(target.url)
        if plugin is None:
            return None, []
        body, fmt = (html, "html") if target.html else (text, "text")
        headers = {"X-Application": plugin.app_id}
        headers.update(plugin.headers)
        headers.update(plugin._protocol_headers(body))
        messages = list(NotifyEmail.prepare_emails(
            subject=title, body=body, notify_format=plugin.resolve_format(fmt),
            from_addr=plugin.from_addr, to=recipients, cc=plugin.cc, bcc=plugin.bcc,
            reply_to=plugin.reply_to, smtp_host=plugin.smtp_host, attach=None,
            headers=headers, names=plugin.names, pgp=plugin.pgp, pgp_mode=plugin.pgp_mode,
            inline=plugin.inline, tzinfo=plugin.tzinfo))
        return plugin, messages

    def _keep_alive_json(self, a) -> None:
        """Let the JSON plugin in Apprise object `a` post over this Sender's HTTP session,
        which keeps the connection to each server open between messages (Apprise's plugin
        calls `requests.request`, a new connection per message). Only the plugin instance
        held by this Sender is changed; the message is the plugin's own (`_json_send`).
        An Apprise without that module keeps its own way of posting."""
        try:
            from apprise.plugins.custom_json import JSONPayloadField, NotifyJSON  # noqa: F401
        except ImportError:
            return
        for plugin in list(a):
            if type(plugin) is NotifyJSON:
                if self._http is None:
                    import requests

                    self._http = requests.Session()
                plugin.send = functools.partial(_json_send, plugin, self._http)

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


def _instantiate(url: str):
    import apprise

    return apprise.Apprise.instantiate(url)


def _json_send(plugin, http, body, title="", notify_type=None, attach=None, **kwargs) -> bool:
    """Apprise's `NotifyJSON.send` (apprise 1.x–2.x) with `http.request` for its
    `requests.request`: the same method, URL, headers, Basic auth, JSON payload, timeouts
    and log lines, over a kept-alive connection. With attachments (never sent here) the
    plugin's own `send` runs."""
    from json import dumps

    import requests
    from apprise.common import NotifyType
    from apprise.plugins.custom_json import JSONPayloadField, NotifyJSON

    notify_type = notify_type or NotifyType.INFO
    if attach:
        return NotifyJSON.send(plugin, body, title=title, notify_type=notify_type,
                               attach=attach, **kwargs)
    headers = {"User-Agent": plugin.app_id, "Content-Type": "application/json"}
    headers.update(plugin.headers)
    payload = {
        JSONPayloadField.VERSION: plugin.json_version,
        JSONPayloadField.TITLE: title,
        JSONPayloadField.MESSAGE: body,
        JSONPayloadField.ATTACHMENTS: [],
        JSONPayloadField.MESSAGETYPE: notify_type.value,
    }
    for key, value in plugin.payload_extras.items():
        if key in payload:
            if not value:
                del payload[key]
            else:
                payload[value] = payload.pop(key)
        else:
            payload[key] = value
    auth = (plugin.user, plugin.password) if plugin.user else None
    url = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
    if isinstance(plugin.port, int):
        url += f":{plugin.port}"
    url += plugin.fullpath
    plugin.throttle()
    try:
        # Bytes (the JSON is ASCII: the same bytes Apprise sends), so http.client sends
        # the headers and the body in one write rather than two.
        r = http.request(plugin.method, url, data=dumps(payload).encode("ascii"),
                         params=plugin.params,
                         headers=headers, auth=auth, verify=plugin.verify_certificate,
                         timeout=plugin.request_timeout, allow_redirects=plugin.redirects)
        r.content  # read to the end, so the connection goes back to the pool
        if r.status_code < 200 or r.status_code >= 300:
            status_str = NotifyJSON.http_response_code_lookup(r.status_code)
            plugin.logger.warning("Failed to send JSON %s notification: %s%serror=%s.",
                                  plugin.method, status_str, ", " if status_str else "",
                                  r.status_code)
            return False
        plugin.logger.info("Sent JSON %s notification.", plugin.method)
    except requests.RequestException as e:
        plugin.logger.warning("A Connection error occurred sending JSON "
                              f"notification to {plugin.host}.")
        plugin.logger.debug(f"Socket Exception: {e!s}")
        return False
    return True
