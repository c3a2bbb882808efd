"""Where the package's data lives: templates, migrations, defaults, prefect.yaml.

Everything is found through `importlib.resources`, so an installed wheel works the same as a
checkout. The repository keeps the layout of the design card (`templates/`, `migrations/`,
`prefect.yaml` at the top); the wheel installs them inside the one package `avtaleflyt`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _dir(package: str, *parts: str) -> Path:
    # Installed packages (wheel or editable) live on the file system, so the traversable is a
    # real path; Jinja, Alembic and Starlette need one.
    return Path(str(files(package).joinpath(*parts)))


def templates_dir(kind: str) -> Path:
    """templates/documents, templates/messages or templates/web."""
    return _dir("avtaleflyt.templates", kind)


def migrations_dir() -> Path:
    return _dir("avtaleflyt.migrations")


def static_dir() -> Path:
    return _dir("avtaleflyt.web", "static")


def defaults_toml() -> Path:
    return _dir("avtaleflyt", "defaults.toml")


def prefect_yaml() -> Path:
    return _dir("avtaleflyt", "prefect.yaml")


def data_file(name: str) -> Path:
    return _dir("avtaleflyt", "data", name)
