"""The case store's tables (SQLModel). Importing this package registers them all."""

from .agreement import AgreementTerms, ResponsibilityItem
from .case import Event, OnboardingCase, Task
from .document import Document
from .notes import ExperienceNote
from .reference import ContactPerson, ContactPersonBase, County, Municipality
from .types import UTCDateTime, utcnow
from .user import FeedToken, User

__all__ = [
    "AgreementTerms", "ContactPerson", "ContactPersonBase", "County", "Event", "ExperienceNote",
    "Municipality", "OnboardingCase", "ResponsibilityItem", "Task", "UTCDateTime", "utcnow",
    "Document",
    "FeedToken", "User",
]
