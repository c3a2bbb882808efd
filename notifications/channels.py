"""Where digests go, and sending one through Apprise.

Recipients are stable keys ("coordinator", "leader", "contact:<id>"); this module turns them
into Apprise URLs at send time from the settings, so no URL — and no secret in one — is ever
stored. Only `Target.masked` leaves this module.
"""

from __future__ import annotations

import logging
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

    @classmethod
    def from_settings(cls, settings) -> TargetBook:
        coordinator = _split(settings.notify_urls)
        leader = _split(getattr(settings, "leader_urls", None))
        if settings.apprise_config is not None:
            c, lead = _from_apprise_config(Path(settings.apprise_config))
            coordinator += c
            leader += lead
        return cls(tuple(coordinator), tuple(leader), settings.smtp_url or None)

    @property
    def has_leader(self) -> bool:
        return bool(self.leader)

    @property
    def has_smtp(self) -> bool:
        return bool(self.smtp_url)

    def secrets(self) -> set[str]:
        out: set[str] = set()
        for u in (*self.coordinator, *self.leader, *([self.smtp_url] if self.smtp_url else [])):
            out |= secrets_of(u)
        return out

    def targets_for(self, recipient: str, contact_email: str | None = None) -> list[Target]:
        if recipient == COORDINATOR:
            return [Target(u, mask_url(u)) for u in self.coordinator]
        if recipient == LEADER:
            return [Target(u, mask_url(u)) for u in self.leader]
        if recipient.startswith(CONTACT_PREFIX) and self.smtp_url and contact_email:
            sep = "&" if "?" in self.smtp_url else "?"
            url = f"{self.smtp_url}{sep}to={quote(contact_email, safe='@')}"
            # The masked form names the contact by key, not by address (personal data).
            return [Target(url, f"{mask_url(self.smtp_url)} → {recipient}", html=True)]
        return []


def _split(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def _from_apprise_config(path: Path) -> tuple[list[str], list[str]]:
    """Entries tagged "leader" reach the leader; untagged or "coordinator" ones the
    coordinator."""
    import apprise

    from avtaleflyt.domain.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"Fant ikke Apprise-konfigurasjonen {path} (AVTALEFLYT_APPRISE_CONFIG).",
                           field="apprise_config")
    ac = apprise.AppriseConfig()
    ac.add(str(path))
    coordinator, leader = [], []
    for service in ac.services():
        tags = {str(t) for t in service.tags}
        url = service.url(privacy=False)
        if LEADER in tags:
            leader.append(url)
        if not tags or COORDINATOR in tags:
            coordinator.append(url)
    return coordinator, leader


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


Deliver = Callable[[Target, str, str, str], SendResult]


def deliver(target: Target, title: str, text: str, html: str) -> SendResult:
    """Send one message to one target. The error text has every secret scrubbed out."""
    import apprise

    a = apprise.Apprise()
    if not a.add(target.url):
        return SendResult(False, f"Ugyldig Apprise-adresse: {target.masked}")
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
