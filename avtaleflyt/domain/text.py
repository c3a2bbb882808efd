"""Free text as both databases accept it: no control characters (PostgreSQL refuses NUL in
text outright, SQLite stores it and cuts strings at it elsewhere), bounded length."""

from __future__ import annotations

import re

from .errors import InvalidInput, ref

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def check_text(value: str | None, field: str, limit: int, *, required: bool = True,
               multiline: bool = False, label: str | None = None) -> str | None:
    """The stripped text, or None when empty and not required. `label` is how the message
    names the field (default: by its id, which each front end words, see `errors.ref`)."""
    name = label or ref(field)
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"{name} kan ikke være tom.", field=field)
        return None
    if (_CONTROL if multiline else _CONTROL_ONE_LINE).search(value):
        raise InvalidInput(f"{name} inneholder ugyldige tegn (kontrolltegn som NUL); skriv "
                           "vanlig tekst.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{name} er for lang (høyst {limit} tegn).", field=field)
    return value
