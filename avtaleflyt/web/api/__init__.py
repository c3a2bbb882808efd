"""The JSON API, /api/v1: one router tree in the dashboard's application (`serve`).

Route modules live next to this file; each defines `router` (an `APIRouter` without a
prefix) and is included below when it exists, so adding a module needs no edit here. The
shared pieces (token auth, problems, idempotency, paging) are in `base.py`; the OpenAPI
document and the reference page in `schema.py`.
"""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter

from .base import PREFIX
from .base import router as _base_router

# The route modules, in the order their routes are matched.
ROUTE_MODULES = ("cases", "tasks", "people", "meetings", "documents", "reports")

router = APIRouter(prefix=PREFIX)
router.include_router(_base_router)
for _name in ROUTE_MODULES:
    try:
        _module = import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{_name}":
            raise  # the module exists but imports something missing: a real error
        continue
    router.include_router(_module.router)

from .schema import router as _schema_router  # noqa: E402 - after the routes it describes

router.include_router(_schema_router)
