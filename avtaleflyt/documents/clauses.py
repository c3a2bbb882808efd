"""Agreement clauses that counties word differently: the `[documents]` configuration.

The built-in wording is in `defaults.toml`; a county changes it in its own
`[county."NR".documents]` section. Everything is checked when the configuration is loaded,
so a typo stops the program with a message naming the key instead of printing a document
with a hole in it. Nothing here touches a database.

About the law: the samarbeidsavtale quotes folkebibliotekloven § 4 second paragraph, § 5
and FOR-2013-12-20-1656 § 2 as they read since 1 January 2014 (sources in
docs/documents.md); `regulation_quote` replaces the regulation's text if it is amended.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from avtaleflyt.domain.errors import InvalidInput

# The organisational forms a county may choose, with the label the documents use.
ORGANISATIONAL_FORMS = {
    "kjop_av_tjenester": "kjøp av tjenester",
    "samarbeid_etter_kommuneloven": "samarbeid etter kommuneloven",
}
_TEXT_KEYS = ("county_contact", "price_adjustment", "vat", "invoicing", "travel_costs",
              "breach", "disputes", "security_measures")
_OPTIONAL_KEYS = ("county_org_number", "regulation_quote")
_MAX_TEXT = 2000


@dataclass(frozen=True)
class Clauses:
    """The county's own wording, as the documents print it."""

    organisational_form: str = "kjop_av_tjenester"
    county_org_number: str | None = None
    county_contact: str = "Fylkesbiblioteksjefen"
    price_adjustment: str = ""
    vat: str = ""
    invoicing: str = ""
    travel_costs: str = ""
    breach: str = ""
    disputes: str = ""
    security_measures: str = ""
    # Hours within which the county (processor) tells the municipality of a personal data
    # breach; GDPR art. 33(2) says "without undue delay", the agreement sets a limit.
    breach_notice_hours: int = 24
    regulation_quote: str | None = None

    @property
    def organisational_form_label(self) -> str:
        return ORGANISATIONAL_FORMS[self.organisational_form]

    @property
    def is_purchase(self) -> bool:
        return self.organisational_form == "kjop_av_tjenester"


def _text(raw: Any, name: str, *, required: bool) -> str | None:
    if not isinstance(raw, str):
        raise InvalidInput(f"«documents.{name}» må være en tekst, ikke {raw!r}.",
                           field=f"documents.{name}")
    text = " ".join(raw.split())
    if required and not text:
        raise InvalidInput(f"«documents.{name}» kan ikke være tom.", field=f"documents.{name}")
    if len(text) > _MAX_TEXT:
        raise InvalidInput(f"«documents.{name}» er for lang (høyst {_MAX_TEXT} tegn).",
                           field=f"documents.{name}")
    return text or None


def parse_clauses(section: dict[str, Any]) -> Clauses:
    """The `[documents]` table (defaults merged with the user's file), checked."""
    form = section["organisational_form"]
    if form not in ORGANISATIONAL_FORMS:
        raise InvalidInput(
            f"«documents.organisational_form»: «{form}» er ikke en kjent organisasjonsform. "
            f"Velg {' eller '.join(ORGANISATIONAL_FORMS)}.",
            field="documents.organisational_form")
    hours = section["breach_notice_hours"]
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 72:
        # GDPR art. 33(1): the controller must report to the authority within 72 hours.
        raise InvalidInput("«documents.breach_notice_hours» må være et heltall mellom 1 og "
                           f"72, ikke {hours!r}.", field="documents.breach_notice_hours")
    values: dict[str, Any] = {k: _text(section[k], k, required=True) for k in _TEXT_KEYS}
    values.update({k: _text(section[k], k, required=False) for k in _OPTIONAL_KEYS})
    return Clauses(organisational_form=form, breach_notice_hours=hours, **values)


@lru_cache(maxsize=1)
def default_clauses() -> Clauses:
    """The built-in wording from `defaults.toml`, for documents made without a configuration
    (tests, previews)."""
    from avtaleflyt.resources import defaults_toml

    data = tomllib.loads(defaults_toml().read_text(encoding="utf-8"))
    return parse_clauses(data["documents"])
