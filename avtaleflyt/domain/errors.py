"""Errors the domain raises. Their messages are for users (Norwegian).

A message names a field neutrally, by its id in a marker: `f"{ref('outcome')} mangler"`.
Each front end words the marker its own way (`DomainError.worded`): the command line as
the option («--outcome»), the dashboard as the form field's label («Utfall»). `message`
is the neutral wording, with the field's Norwegian label.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_REF = re.compile(r"‹([a-z][a-z0-9_]*)›")

# Labels of fields that are not a fact's (a fact's fields are in `facts.FACT_FIELDS`).
FIELD_LABELS: dict[str, str] = {
    "date": "Dato",
    "fact": "Hva skjedde",
    "text": "Tekst",
    "theme": "Tema",
    "reason": "Begrunnelse",
    "task": "Oppgave",
    "task_id": "Oppgave",
    "responsible": "Ansvar",
    "row": "Rad",
    "name": "Navn",
    "role": "Rolle",
    "email": "E-post",
    "phone": "Telefon",
    "primary": "Primærkontakt",
    "contact": "Kontaktperson",
    "user": "Bruker",
    "assignee": "Ansvarlig",
    "action": "Endring",
    "confirm": "Bekreft",
}


def ref(field: str) -> str:
    """A field named in a message, worded later by the front end."""
    return f"‹{field}›"


def is_field(name: str) -> bool:
    """Whether `name` is a known field id (then a message can name it with `ref`)."""
    from .facts import FACT_FIELDS

    return name in FIELD_LABELS or name in FACT_FIELDS


def field_label(field: str) -> str:
    """The field's Norwegian label, as a form shows it."""
    from .facts import FACT_FIELDS

    spec = FACT_FIELDS.get(field)
    return spec.label if spec is not None else FIELD_LABELS.get(field, field)


class DomainError(Exception):
    """A rule of the domain refused the request. The message is for the user (Norwegian)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.template = message
        self.field = field

    def worded(self, name: Callable[[str], str]) -> str:
        """The message with each field marker worded as `«name(field)»`."""
        return _REF.sub(lambda m: f"«{name(m.group(1))}»", self.template)

    @property
    def message(self) -> str:
        return self.worded(field_label)

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """The input itself is malformed: a date that does not exist, a negative price."""


class NotFound(DomainError):
    """The thing the user named does not exist (municipality, case, task)."""


class Conflict(DomainError):
    """The request contradicts the current state, or another writer got there first."""
