"""What every /api/v1 route module uses: the token user, problems, idempotency, paging.

- `ApiUser`: the user of the request's `Authorization: Bearer <token>` (services/tokens.py),
  with the user's county scope. Missing, malformed, unknown, expired or revoked tokens, and a
  disabled user's, all get the same 401 problem with `WWW-Authenticate: Bearer`.
- Errors are RFC 9457 `application/problem+json`. A `DomainError` becomes a problem whose
  `detail` is the message the CLI prints for it (fields worded as options, «--outcome»),
  `field` its neutral field id, `error` its class name and `exit_code` the CLI's exit code
  (a client in front of the API prints `detail` and exits with `exit_code`).
- Writes run as the CLI's do: `preflight` (services/preflight.py) first, then `run_write`,
  which is `runtime.run_command` with the request's `Idempotency-Key` and the token's user
  as the actor, plus `next_step` as the CLI adds it. Routes that write are `def`, not
  `async def`: a flow run blocks, so it runs in the server's thread pool.
- `Page` / `paged`: `?page=1&per_page=50` (at most 100) → {items, total, page, per_page}.

The dashboard's session cookie and CSRF check do not apply here: an API call authenticates
with its token on every request and never reads the session (so a page on another site
cannot make a browser's cookie write through the API).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from avtaleflyt import runtime
from avtaleflyt.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from avtaleflyt.services.users import UserView

_log = logging.getLogger("avtaleflyt.api")

PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://avtaleflyt.no/problemer/"
MAX_PER_PAGE = 100


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


# --- problems --------------------------------------------------------------------------------

class Problem(Exception):
    """An error answered as `application/problem+json` (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str, *, field: str | None = None,
                 error: str = "Error", exit_code: int = 1, type_: str = "about:blank",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.field, self.error, self.exit_code = field, error, exit_code
        self.type, self.headers = type_, headers or {}

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status,
                "detail": self.detail, "field": self.field, "error": self.error,
                "exit_code": self.exit_code}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, media_type=MEDIA_TYPE,
                            headers={"Cache-Control": "no-store", **self.headers})


# (class, status, title, slug), the first match wins.
_DOMAIN = (
    (InvalidInput, 422, "Ugyldig inndata", "ugyldig-inndata"),
    (NotFound, 404, "Fant ikke", "fant-ikke"),
    (Conflict, 409, "Konflikt", "konflikt"),
)


def problem_for_domain(e: DomainError) -> Problem:
    """A refusal from the domain (or a service), with the CLI's wording and exit code."""
    from avtaleflyt.cli.output import cli_message, exit_code
    from avtaleflyt.prefect_faults import PrefectUnavailable

    if isinstance(e, PrefectUnavailable):
        status, title, slug = 503, "Prefect svarer ikke", "prefect-utilgjengelig"
    else:
        status, title, slug = next(((st, ti, sl) for cls, st, ti, sl in _DOMAIN
                                    if isinstance(e, cls)), (422, "Avvist", "avvist"))
    return Problem(status, title, cli_message(e), field=e.field, error=type(e).__name__,
                   exit_code=exit_code(e), type_=PROBLEM_BASE + slug)


def unauthorized(detail: str, *, token_given: bool) -> Problem:
    challenge = 'Bearer realm="avtaleflyt"' + (', error="invalid_token"' if token_given else "")
    return Problem(401, "Ikke autentisert", detail, error="Unauthorized", exit_code=1,
                   type_=PROBLEM_BASE + "ikke-autentisert",
                   headers={"WWW-Authenticate": challenge})


_HTTP_TITLES = {404: ("Fant ikke", "Adressen finnes ikke i API-et."),
                405: ("Metoden er ikke tillatt", "Denne adressen tar ikke imot slike "
                      "forespørsler."),
                401: ("Ikke autentisert", "Du må være innlogget.")}

# Pydantic's error types, worded for the field they concern.
_PYDANTIC = {
    "missing": "mangler",
    "int_parsing": "må være et heltall",
    "int_type": "må være et heltall",
    "int_from_float": "må være et heltall",
    "bool_parsing": "må være true eller false",
    "bool_type": "må være true eller false",
    "string_type": "må være tekst",
    "list_type": "må være en liste",
    "dict_type": "må være et JSON-objekt",
    "model_attributes_type": "må være et JSON-objekt",
    "extra_forbidden": "er ikke et kjent felt",
    "string_too_long": "er for lang",
}


def _validation_problem(exc: RequestValidationError) -> Problem:
    """Pydantic's first complaint, naming the field (the body's key, or the query
    parameter), in Norwegian."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "type": ""}
    loc = [str(p) for p in first.get("loc", ()) if not isinstance(p, int)]
    where = loc[0] if loc else ""
    name = loc[-1] if len(loc) > 1 else None
    kind = first.get("type", "")
    if kind == "json_invalid":
        detail, name = "Forespørselen er ikke gyldig JSON.", None
    elif name is None and where == "body":
        detail = ("Forespørselen mangler en JSON-kropp." if kind == "missing"
                  else "Forespørselen må være et JSON-objekt.")
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ctx = first.get("ctx") or {}
        bound = next(iter(ctx.values()), "")
        word = {"greater_than_equal": "minst", "greater_than": "større enn",
                "less_than_equal": "høyst", "less_than": "mindre enn"}[kind]
        detail = f"«{name}» må være {word} {bound}."
    else:
        detail = f"«{name}» {_PYDANTIC.get(kind, 'er ugyldig')}."
    return Problem(422, "Ugyldig inndata", detail, field=name, error="InvalidInput",
                   exit_code=2, type_=PROBLEM_BASE + "ugyldig-inndata")


def problem_response(request: Request, exc: Exception) -> Response:
    """Any exception raised under /api/v1, as problem+json (the app's handlers call this
    for API paths instead of drawing the dashboard's HTML error page)."""
    if isinstance(exc, Problem):
        return exc.response()
    if isinstance(exc, DomainError):
        return problem_for_domain(exc).response()
    if isinstance(exc, RequestValidationError):
        return _validation_problem(exc).response()
    if isinstance(exc, StarletteHTTPException):
        title, detail = _HTTP_TITLES.get(exc.status_code, ("Feil", str(exc.detail)))
        return Problem(exc.status_code, title, detail, error="HTTPError",
                       headers=dict(exc.headers or {})).response()
    ref = secrets.token_hex(4).upper()
    _log.error("Feil %s ved %s %s", ref, request.method, request.url.path, exc_info=exc)
    return Problem(500, "Noe gikk galt på serveren",
                   "Noe gikk galt på serveren. Se på saken om endringen kom med før du "
                   f"prøver igjen. Oppgi referansen {ref} hvis du kontakter IT-avdelingen.",
                   error="InternalError").response()


def install(app: FastAPI, fallback: Callable[[Request, Exception], Any]) -> None:
    """Problems and domain refusals raised by API routes. A `DomainError` that escapes a
    dashboard route (they catch their own) goes to `fallback`, the dashboard's error page."""

    async def _problem(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return problem_response(request, exc)
        return await fallback(request, exc)

    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(DomainError, _problem)


# --- authentication --------------------------------------------------------------------------

def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer …`; "" for a malformed header, None for none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def api_user(request: Request) -> UserView:
    """FastAPI dependency: the active user of a valid token, else a 401 problem."""
    from avtaleflyt.services.tokens import user_for_token

    token = bearer_token(request)
    if token is None:
        raise unauthorized("Mangler token: send «Authorization: Bearer TOKEN». Et token lages "
                           "med «avtaleflyt token create NAVN».", token_given=False)
    user = None
    local = False
    if token:
        with runtime.session() as s:
            user = user_for_token(session=s, token=token)
            if user is not None:
                from avtaleflyt.services.local_token import is_local

                local = is_local(session=s, token=token)
    if user is None:
        raise unauthorized("Tokenet er ugyldig, utløpt eller trukket tilbake, eller brukeren "
                           "er deaktivert.", token_given=True)
    request.state.user = user
    request.state.local_cli = local  # serve's token for the CLI on this machine
    return user


ApiUser = Annotated[UserView, Depends(api_user)]


def api_or_session_user(request: Request) -> UserView:
    """A token user, or (without an Authorization header) the dashboard's logged-in user:
    for reading the API's own description from a browser. Never for writes: a cookie is
    sent by the browser on its own, a token is not."""
    if bearer_token(request) is None:
        from avtaleflyt.web.auth import session_user

        user = session_user(request)
        if user is not None:
            request.state.user = user
            return user
    return api_user(request)


# --- idempotency -----------------------------------------------------------------------------

def idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header, checked as the CLI's `--idempotency-key` is (None: the
    command gets a new key, so it is not protected against a retry)."""
    from avtaleflyt.services.inbox import check_key

    value = request.headers.get("idempotency-key")
    if value is None or not value.strip():
        return None
    try:
        return check_key(value)
    except InvalidInput as e:
        raise Problem(422, "Ugyldig inndata", "«Idempotency-Key» må være 8–80 tegn: bokstaver "
                      "a–z, sifre, bindestrek, understrek, punktum eller kolon.",
                      field="idempotency_key", error=type(e).__name__, exit_code=2,
                      type_=PROBLEM_BASE + "ugyldig-inndata") from None


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


# --- writes ----------------------------------------------------------------------------------

def visible(user: UserView, knr: str) -> str:
    """The municipality exists and lies in the user's county scope; another county's is
    "not found" (404), exactly as one that does not exist."""
    from avtaleflyt.services.store import get_municipality

    with runtime.session() as s:
        get_municipality(s, knr, user.scope)
    return knr


def preflight(check: Callable[..., Any], *, user: UserView, key: str | None,
              **params: Any) -> None:
    """The domain's refusal before a flow starts (services/preflight.py), as the CLI asks
    it. Skipped for a retry whose change is already saved (its key `applied` or `done`): the
    inbox answers or finishes that command."""
    from avtaleflyt.services import inbox

    params.setdefault("ctx", runtime.ctx(actor=user.username))
    with runtime.session() as s:
        if key is not None and inbox.status_of(s, key) in (inbox.APPLIED, inbox.DONE):
            return
        check(session=s, **params)


def check_key_owner(user: UserView, key: str | None) -> None:
    """A key is its user's: another user's key is refused, never answered with that user's
    result (the inbox itself only checks that a key names the same command)."""
    if key is None:
        return
    from sqlmodel import select

    from avtaleflyt.models import Command

    with runtime.session() as s:
        actor = s.exec(select(Command.actor).where(Command.idempotency_key == key)).first()
    if actor is not None and actor != user.username:
        raise Conflict("«Idempotency-Key» er allerede brukt for en annen kommando. Bruk en "
                       "ny nøkkel.", field="idempotency_key")


def run_command(user: UserView, kind: str, key: str | None, **params: Any) -> dict[str, Any]:
    """`runtime.run_command` as the token's user, on the business date."""
    check_key_owner(user, key)
    return runtime.run_command(kind, key=key, actor=user.username, today=runtime.today(),
                               **params)


def run_write(user: UserView, kind: str, key: str | None, **params: Any) -> dict[str, Any]:
    """Run a command through the inbox as a Prefect flow run, recorded as the token's user;
    the answer is what the CLI's `--json` prints, with `next_step`."""
    from avtaleflyt.cli.output import _add_next_step

    result = run_command(user, kind, key, **params)
    _add_next_step(result)
    return result


# --- paging ----------------------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


class Paging:
    """`?page=1&per_page=50` as a dependency: `paging: Paging = Depends()`."""

    def __init__(self, page: Annotated[int, Query(ge=1, description="Sidenummer, fra 1.")] = 1,
                 per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE,
                                                description="Rader per side (høyst 100).")]
                 = 50) -> None:
        self.page, self.per_page = page, per_page


PageParams = Annotated[Paging, Depends()]


def paged(items: Sequence[Any] | Any, page: int, per_page: int, *,
          session: Any = None) -> dict[str, Any]:
    """One page of a list, or of a SQL SELECT (then `session` runs it: a COUNT and one page
    of rows, never the whole result)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    start = (page - 1) * per_page
    if session is not None:
        from sqlalchemy import func, select

        total = session.execute(select(func.count()).select_from(items.subquery())).scalar_one()
        rows = list(session.exec(items.offset(start).limit(per_page)).all())
        return {"items": rows, "total": int(total), "page": page, "per_page": per_page}
    items = list(items)
    return {"items": items[start:start + per_page], "total": len(items), "page": page,
            "per_page": per_page}


# --- ping ------------------------------------------------------------------------------------

router = APIRouter(tags=["API"])


class Pong(BaseModel):
    ok: bool
    user: str


@router.post("/ping", response_model=Pong, summary="Sjekk token (billigste kall)")
def ping(user: ApiUser) -> dict[str, Any]:
    """Svarer når tokenet er gyldig: det billigste kallet med autentisering."""
    return {"ok": True, "user": user.username}
