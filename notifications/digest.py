"""Rendering a digest: one message per recipient per day, plain text and HTML (Jinja2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from avtaleflyt.formatting import format_date, format_working_days
from avtaleflyt.resources import templates_dir

TEMPLATES = templates_dir("messages")

HEADINGS = {
    "upcoming": "Frist nærmer seg",
    "due": "Frist i dag",
    "overdue": "Frist passert",
    "escalation": "Eskalert: frist passert",
    "moved": "Flyttet til neste møte",
    "no_plan": "Ingen møte å sikte mot",
}


@dataclass(frozen=True)
class Item:
    kind: str
    municipality: str
    kommunenummer: str | None
    title: str
    deadline: str
    when: str
    action: str

    @property
    def heading(self) -> str:
        return HEADINGS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    html: str
    items: int


@dataclass
class DigestContent:
    greeting: str
    items: list[Item] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    library: str | None = None  # the county library whose digest this is
    # All the recipient's items, when `items` holds only the most urgent of them: the total
    # and (heading, county name, count) per kind and county. A digest's size stays the same
    # however many items there are.
    total: int | None = None
    summary: list[tuple[str, str, int]] = field(default_factory=list)


@cache
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                    default_for_string=False),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def when_text(kind: str, due_on: date, today: date, working_days: int) -> str:
    """"om 7 arbeidsdager", "i dag", "3 arbeidsdager på overtid"."""
    if kind == "no_plan":
        return "ingen dato før møteplanen har et møte som kan nås"
    if kind == "moved":
        return f"nytt møte {format_date(due_on)}"
    if due_on == today:
        return "i dag"
    if due_on > today:
        days = (due_on - today).days
        return f"om {format_working_days(working_days)} ({days} kalenderdager)"
    return f"{format_working_days(abs(working_days))} på overtid"


def render(content: DigestContent, today: date) -> Rendered:
    n = content.total if content.total is not None else len(content.items)
    what = f"{n} {'frist' if n == 1 else 'frister'}" if n else "leveringsfeil"
    sender = f"Avtaleflyt, {content.library}" if content.library else "Avtaleflyt"
    title = f"{sender}: {what} – {format_date(today)}"
    ctx: dict[str, Any] = {
        "title": title, "greeting": content.greeting, "today": format_date(today),
        "sender": sender,
        "items": content.items, "failures": [{"text": f} for f in content.failures],
        "total": n, "more": n - len(content.items),
        "summary": [{"heading": h, "county": c, "count": k} for h, c, k in content.summary],
    }
    return Rendered(title, _env().get_template("digest.txt.j2").render(**ctx),
                    _env().get_template("digest.html.j2").render(**ctx),
                    n + len(content.failures))
