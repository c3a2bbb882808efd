"""Errors the domain raises. Their messages are shown to users as they are (Norwegian)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the request. The message is for the user (Norwegian)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The input itself is malformed: a date that does not exist, a negative price."""


class NotFound(DomainError):
    """The thing the user named does not exist (municipality, case, task)."""


class Conflict(DomainError):
    """The request contradicts the current state, or another writer got there first."""
