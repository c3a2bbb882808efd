"""Reference data loaded by `avtaleflyt init`: the provider county and its municipalities."""

from __future__ import annotations

NORDLAND = {"code": "18", "name": "Nordland fylkeskommune", "library_name": "Nordland fylkesbibliotek"}

# Kommunenummer and name as in Statistics Norway's classification 131 (KLASS), which writes
# parallel Sámi names with " - " (e.g. "Fauske - Fuossko"); Nordland was unchanged in 2024.
NORDLAND_MUNICIPALITIES: tuple[tuple[str, str], ...] = (
    ("1804", "Bodø"), ("1806", "Narvik"), ("1811", "Bindal"), ("1812", "Sømna"),
    ("1813", "Brønnøy"), ("1815", "Vega"), ("1816", "Vevelstad"), ("1818", "Herøy"),
    ("1820", "Alstahaug"), ("1822", "Leirfjord"), ("1824", "Vefsn"), ("1825", "Grane"),
    ("1826", "Aarborte - Hattfjelldal"), ("1827", "Dønna"), ("1828", "Nesna"), ("1832", "Hemnes"),
    ("1833", "Rana"), ("1834", "Lurøy"), ("1835", "Træna"), ("1836", "Rødøy"), ("1837", "Meløy"),
    ("1838", "Gildeskål"), ("1839", "Beiarn"), ("1840", "Saltdal"), ("1841", "Fauske - Fuossko"),
    ("1845", "Sørfold"), ("1848", "Steigen"), ("1851", "Lødingen"),
    ("1853", "Evenes - Evenášši"), ("1856", "Røst"), ("1857", "Værøy"), ("1859", "Flakstad"),
    ("1860", "Vestvågøy"), ("1865", "Vågan"), ("1866", "Hadsel"), ("1867", "Bø"),
    ("1868", "Øksnes"), ("1870", "Sortland - Suortá"), ("1871", "Andøy"), ("1874", "Moskenes"),
    ("1875", "Hábmer - Hamarøy"),
)
