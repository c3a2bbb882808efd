"""Private files: the data directory (and the pre-0010 documents folder a downgrade writes)
are 0700, the SQLite database (and its -wal/-shm, which SQLite creates with the database's
mode), document copies and secrets 0600. Personal data must not be readable by other local users."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700; tighten an existing `path` to 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Create `path` empty as 0600 if it does not exist; tighten it to 0600 if it does."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


def private_sqlite(path: Path) -> None:
    """The database file and, where they exist, its -wal and -shm files as 0600."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.chmod(extra, FILE_MODE)
