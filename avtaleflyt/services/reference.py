"""Reference data: counties and municipalities (loaded by `avtaleflyt init`)."""

from __future__ import annotations

from sqlmodel import Session, select

from avtaleflyt.reference_data import NORDLAND, NORDLAND_MUNICIPALITIES
from models import County, Municipality


def load_reference_data(session: Session) -> tuple[int, int]:
    """Insert what is missing; never rename or delete. Returns (counties, municipalities) added."""
    county = session.exec(select(County).where(County.code == NORDLAND["code"])).first()
    added_counties = 0
    if county is None:
        county = County(**NORDLAND)
        session.add(county)
        session.flush()
        added_counties = 1
    known = set(session.exec(select(Municipality.kommunenummer)).all())
    added = 0
    for knr, name in NORDLAND_MUNICIPALITIES:
        if knr not in known:
            session.add(Municipality(kommunenummer=knr, name=name, county_id=county.id))
            added += 1
    session.commit()
    return added_counties, added
