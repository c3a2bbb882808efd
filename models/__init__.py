"""The case store's tables (SQLModel).

A name imported from here loads the module that defines it, and the modules of the tables its
foreign keys point to, so a read-only command pays only for the tables it reads (building the
SQLModel classes is the largest part of `avtaleflyt status`'s start-up). Whatever needs every
table in `SQLModel.metadata` (migrations, database copies, tests that list the tables) calls
`load_all()`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# module -> (the names it defines, the tables its foreign keys point to)
_MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "types": (("UTCDateTime", "utcnow"), ()),
    "reference": (("ContactPerson", "ContactPersonBase", "County", "Municipality"), ()),
    "case": (("Event", "OnboardingCase", "Task"), ("municipality", "contact_person")),
    "access": (("AccessLog",), ("onboarding_case",)),
    "agreement": (("AgreementTerms", "CaseSplitRow", "ResponsibilityItem"),
                  ("onboarding_case",)),
    "commands": (("Command", "PersonalText"), ("municipality", "onboarding_case")),
    "meeting": (("Meeting", "Saksgang"), ("county", "municipality")),
    "document": (("Document", "DocumentBlob"), ("onboarding_case", "municipality", "county")),
    "notes": (("ExperienceNote",), ("onboarding_case", "personal_text")),
    "outbox": (("Delivery", "Digest", "Reminder"), ("task", "onboarding_case")),
    "user": (("FeedToken", "LoginAttempt", "User", "UserSession"), ("county",)),
    "token": (("ApiToken",), ("app_user",)),
}
# table -> module
_TABLES = {
    "county": "reference", "municipality": "reference", "contact_person": "reference",
    "onboarding_case": "case", "event": "case", "task": "case", "personal_text": "commands",
    "app_user": "user",
}
_WHERE = {name: module for module, (names, _fks) in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


def _load(module: str) -> Any:
    loaded = import_module(f"{__name__}.{module}")
    # The tables a foreign key points to are loaded too: the ORM resolves them on a flush.
    for table in _MODULES[module][1]:
        if f"{__name__}.{_TABLES[table]}" != loaded.__name__:
            _load(_TABLES[table])
    return loaded


def load_all() -> None:
    """Register every table in `SQLModel.metadata`."""
    for module in _MODULES:
        _load(module)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
