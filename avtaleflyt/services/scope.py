"""Which counties a reader may see.

A county's coordinator sees that county only; a national user (and the command line, which
runs with the database's own credentials) sees every county unless told `--county NR`. Every
read model and every lookup by kommunenummer takes a `Scope`, so a case of another county is
simply not there: it answers "not found", exactly as a municipality that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.models import County


@dataclass(frozen=True)
class Scope:
    county_id: int | None = None  # None: every county
    county_code: str | None = None
    county_name: str | None = None

    @property
    def national(self) -> bool:
        return self.county_id is None

    def allows(self, county_id: int | None) -> bool:
        return self.county_id is None or county_id == self.county_id

    def where(self, query: Any, county_id_column: Any) -> Any:
        """Limit a SELECT to this scope (`county_id_column` is e.g. Municipality.county_id)."""
        return query if self.county_id is None else query.where(county_id_column == self.county_id)


EVERYWHERE = Scope()


def county_by_code(session: Session, code: str, field: str = "county") -> County:
    """The county with this fylkesnummer, or an error that names the option."""
    code = str(code).strip()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    county = session.exec(select(County).where(County.code == code)).first()
    if county is None:
        known = ", ".join(c for c in session.exec(select(County.code).order_by(County.code)))
        raise InvalidInput(f"Fant ikke fylke «{code}». Fylkesnummer er to siffer, for eksempel "
                           f"18 for Nordland (kjente: {known or 'ingen – kjør «avtaleflyt init»'}).",
                           field=field)
    return county


def scope_of_county(county: County | None) -> Scope:
    if county is None:
        return EVERYWHERE
    return Scope(county_id=county.id, county_code=county.code, county_name=county.name)


def scope_for_code(session: Session, code: str | None, field: str = "county") -> Scope:
    """`--county NR` on the command line: that county, or every county without it."""
    if code is None or str(code).strip() == "":
        return EVERYWHERE
    return scope_of_county(county_by_code(session, code, field))
