"""The case store's tables (SQLModel). Importing this package registers them all."""

from .access import AccessLog
from .agreement import AgreementTerms, CaseSplitRow, ResponsibilityItem
from .case import Event, OnboardingCase, Task
from .commands import Command, PersonalText
from .meeting import Meeting, Saksgang
from .document import Document, DocumentBlob
from .notes import ExperienceNote
from .outbox import Delivery, Digest, Reminder
from .reference import ContactPerson, ContactPersonBase, County, Municipality
from .types import UTCDateTime, utcnow
from .user import FeedToken, LoginAttempt, User, UserSession

__all__ = [
    "AccessLog",
    "AgreementTerms", "Command", "ContactPerson", "ContactPersonBase", "County", "Delivery",
    "Digest", "Event", "ExperienceNote", "Meeting", "Municipality", "OnboardingCase",
    "PersonalText", "Reminder",
    "ResponsibilityItem", "Task", "UTCDateTime", "utcnow",
    "Document", "DocumentBlob",
    "FeedToken", "LoginAttempt", "User", "UserSession",
    "CaseSplitRow", "Saksgang",
]
