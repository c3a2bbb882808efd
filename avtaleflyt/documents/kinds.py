"""The document kinds and formats, and their Norwegian names.

A module of constants with no imports, so the CLI's `--help` can list the kinds without
loading the renderer or the database layer.
"""

FORMATS = ("html", "docx", "pdf")
CASE_KINDS = ("saksframlegg", "agreement", "databehandleravtale", "setup_checklist",
              "yearly_report")
# The experience report covers one county, or compares the counties (the national report).
COUNTY_KINDS = ("experience_report", "experience_comparison")

KIND_LABELS = {
    "saksframlegg": "Saksframlegg",
    "agreement": "Samarbeidsavtale",
    "databehandleravtale": "Databehandleravtale",
    "setup_checklist": "Sjekkliste for systemoppsett",
    "yearly_report": "Årsrapport",
    "experience_report": "Erfaringsrapport",
    "experience_comparison": "Erfaringer på tvers av fylkene",
}


def kinds_in_words(kinds: tuple[str, ...]) -> str:
    """«a, b eller c» — the kinds as a `--help` text lists them."""
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} eller {kinds[-1]}"
