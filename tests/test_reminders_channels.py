"""Recipients from the settings and an Apprise YAML file; masking of every URL shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.settings import Settings
from avtaleflyt.notifications.channels import TargetBook, deliver
from avtaleflyt.notifications.masking import mask_url, scrub, secrets_of

from .reminder_support import HookServer


@pytest.mark.parametrize("url, secret", [
    ("json://user:Passord-123@127.0.0.1:8080/hook", "Passord-123"),
    ("mailtos://kari:Smtp-Hemmelig@smtp.example.no:587?from=a@b.no", "Smtp-Hemmelig"),
    ("tgram://123456789:ABCdefGhIJKlmnOPqrsTUVwxyZ12345678/12345",
     "ABCdefGhIJKlmnOPqrsTUVwxyZ12345678"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
     "TIiajkdnlazkcOXrIdevi7FQ"),
    ("unknownscheme://user:Hemmelig-99@host/path/Token-abcdef", "Hemmelig-99"),
])
def test_masked_urls_never_hold_the_secret(url, secret):
    masked = mask_url(url)
    assert secret not in masked
    assert secret in secrets_of(url)
    assert secret not in scrub(f"failed to post to {url}", secrets_of(url))


def test_masked_urls_name_the_target_without_apprise_internals():
    masked = mask_url("mailtos://kari:hemmelig@smtp.example.org:587?from=post@example.org")
    assert masked.startswith("mailtos://kari:****@smtp.example.org")
    assert "hemmelig" not in masked
    for internal in ("overflow=", "retry=", "cto=", "rto=", "optional="):
        assert internal not in masked


def test_targets_from_env_and_apprise_yaml(tmp_path: Path, monkeypatch):
    config = tmp_path / "apprise.yml"
    config.write_text(
        "urls:\n"
        "  - json://a:Yaml-Hemmelig-1@127.0.0.1:9/coord\n"
        "  - json://b:Yaml-Hemmelig-2@127.0.0.1:9/lead:\n"
        "    - tag: leader\n", encoding="utf-8")
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS",
                       "json://x:Env-Hemmelig@127.0.0.1:9/env, ")
    monkeypatch.setenv("AVTALEFLYT_APPRISE_CONFIG", str(config))
    monkeypatch.setenv("AVTALEFLYT_SMTP_URL", "mailto://u:Smtp-Hemmelig@127.0.0.1:25?from=avtaleflyt@fylket.example")
    book = TargetBook.from_settings(Settings())
    coordinator = book.targets_for("coordinator")
    leader = book.targets_for("leader")
    assert [t.url.split("@")[1].split("?")[0] for t in coordinator] == \
        ["127.0.0.1:9/env", "127.0.0.1:9/coord"]
    assert len(leader) == 1 and "lead" in leader[0].url
    [mail] = book.targets_for("contact:7", "ola@kommune.example")
    assert "to=ola@kommune.example" in mail.url and mail.html
    assert "ola@" not in mail.masked and "contact:7" in mail.masked
    shown = repr(book) + "".join(t.masked + repr(t) for t in (*coordinator, *leader, mail))
    for s in ("Yaml-Hemmelig-1", "Yaml-Hemmelig-2", "Env-Hemmelig", "Smtp-Hemmelig"):
        assert s not in shown
    assert book.targets_for("contact:7", None) == []
    monkeypatch.setenv("AVTALEFLYT_APPRISE_CONFIG", str(tmp_path / "missing.yml"))
    with pytest.raises(InvalidInput):
        TargetBook.from_settings(Settings())


def test_a_failed_send_reports_a_scrubbed_error(caplog):
    caplog.set_level(logging.DEBUG)
    hook = HookServer().start()
    hook.failing = True
    try:
        book = TargetBook(coordinator=(hook.url("x", "Feil-Hemmelig-42"),))
        [target] = book.targets_for("coordinator")
        result = deliver(target, "Tittel", "Tekst", "<p>Tekst</p>")
    finally:
        hook.stop()
    assert not result.ok and result.error
    assert "Feil-Hemmelig-42" not in result.error + caplog.text
    assert logging.getLogger("apprise").getEffectiveLevel() >= logging.WARNING
