"""Reference data: counties and municipalities (loaded by `avtaleflyt init`)."""

from __future__ import annotations

from sqlmodel import Session, select

from avtaleflyt.models import County, Municipality
from avtaleflyt.reference_data import counties, municipalities


def load_reference_data(session: Session) -> tuple[int, int]:
    """Insert what is missing; never rename or delete, so a rerun changes nothing and a
    county's own edits survive. Returns (counties, municipalities) added."""
    by_code = {c.code: c for c in session.exec(select(County)).all()}
    added_counties = 0
    for row in counties():
        if row.code not in by_code:
            county = County(code=row.code, name=row.name, library_name=row.library_name)
            session.add(county)
            by_code[row.code] = county
            added_counties += 1
    session.flush()
    known = set(session.exec(select(Municipality.kommunenummer)).all())
    added = 0
    for m in municipalities():
        if m.kommunenummer not in known:
            session.add(Municipality(kommunenummer=m.kommunenummer, name=m.name,
                                     county_id=by_code[m.county_code].id))
            added += 1
    session.commit()
    return added_counties, added
