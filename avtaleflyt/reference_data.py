"""Reference data loaded by `avtaleflyt init`: Norway's counties and municipalities.

The lists are Statistics Norway's classifications as of 1 January 2024 (KLASS 104 for counties,
131 for municipalities), shipped as CSV files in `avtaleflyt/data/`. Parallel Sámi and Kven
names are written as SSB writes them, joined with " - " (e.g. "Fauske - Fuossko").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from avtaleflyt.resources import data_file


@dataclass(frozen=True)
class CountyRow:
    code: str  # fylkesnummer, two digits
    name: str  # "Nordland fylkeskommune"
    library_name: str  # "Nordland fylkesbibliotek"
    classification_name: str  # SSB's name, e.g. "Troms - Romsa - Tromssa"


@dataclass(frozen=True)
class MunicipalityRow:
    kommunenummer: str
    name: str
    county_code: str


def _rows(name: str) -> list[dict[str, str]]:
    with data_file(name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


@cache
def counties() -> tuple[CountyRow, ...]:
    return tuple(CountyRow(r["code"], r["name"], r["library_name"], r["classification_name"])
                 for r in _rows("counties_2024.csv"))


@cache
def municipalities() -> tuple[MunicipalityRow, ...]:
    return tuple(MunicipalityRow(r["kommunenummer"], r["name"], r["county_code"])
                 for r in _rows("municipalities_2024.csv"))
