"""Stored documents as the tests read them: from the database, by name (not a test module).

`stored_documents() / "1836/agreement-v1.html"` reads like the files the documents folder
held before migration 0010, so a test states what a user downloads; the bytes come from
`document_blob` through the same functions the CLI's `doc get` and the dashboard use.
"""

from __future__ import annotations

from avtaleflyt import runtime
from avtaleflyt.domain.errors import NotFound
from avtaleflyt.models import Document
from avtaleflyt.services import document_store
from sqlmodel import select


class StoredDocument:
    def __init__(self, name: str) -> None:
        self.name = name.strip("/")

    def __truediv__(self, part: str) -> "StoredDocument":
        return StoredDocument(f"{self.name}/{part}")

    def __repr__(self) -> str:
        return f"<stored {self.name}>"

    def read_bytes(self) -> bytes:
        with runtime.session() as s:
            return document_store.content(s, document_store.by_name(s, self.name))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def exists(self) -> bool:
        try:
            self.read_bytes()
        except NotFound:
            return False
        return True


class StoredDocuments:
    def __truediv__(self, name: str) -> StoredDocument:
        return StoredDocument(str(name))

    def names(self) -> set[str]:
        with runtime.session() as s:
            return set(s.exec(select(Document.path)).all())

    def rglob(self, _pattern: str = "*") -> set[str]:
        return self.names()


def stored_documents() -> StoredDocuments:
    return StoredDocuments()
