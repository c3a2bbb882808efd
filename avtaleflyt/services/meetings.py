"""Council meeting plans: add, import (all or nothing), list, and load for scheduling."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.errors import Conflict, InvalidInput, ref
from avtaleflyt.domain.text import check_text
from avtaleflyt.domain.meetingplan import (
    BODIES,
    COUNTY,
    MeetingRow,
    body_name,
    meeting_warning,
    parse_csv,
    parse_ics,
    short_date,
)
from avtaleflyt.formatting import format_count, format_date
from avtaleflyt.models import County, Meeting, Municipality, OnboardingCase, Saksgang

from .context import Ctx
from .scope import EVERYWHERE, Scope, county_by_code
from .store import get_municipality

BODY_LABELS = {"kommunestyre": "Kommunestyret", "formannskap": "Formannskapet",
               "county": "Fylkeskommunen"}


def check_body(value: str) -> str:
    body = (value or "").strip().lower()
    if body not in BODIES:
        raise InvalidInput(f"«--body»: «{value}» er ikke et gyldig organ. Velg en av: "
                           f"{', '.join(BODIES)}.", field="body")
    return body


def deciding_county(session: Session, code: str | None,
                    plan_counties: set[int] | frozenset[int] = frozenset()) -> County:
    """The county whose deciding body a county meeting belongs to: the one named with
    `--county NR`; else the one county of the municipalities in the same meeting plan; else
    the one county that has cases. Never a guess: with cases in several counties (or none
    yet) the user must name it."""
    if code:
        return county_by_code(session, code, "--county")
    if len(plan_counties) == 1:
        return session.get(County, next(iter(plan_counties)))
    with_cases = session.exec(
        select(County).join(Municipality, col(Municipality.county_id) == County.id)
        .join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)
        .distinct()).all()
    if len(with_cases) == 1:
        return with_cases[0]
    if not session.exec(select(County.id)).first():
        raise Conflict("Databasen har ingen fylkeskommune. Kjør «avtaleflyt init» først.")
    which = ("flere fylker har saker" if with_cases
             else "ingen fylker har saker ennå")
    raise InvalidInput(f"Oppgi hvilket fylke møtet gjelder med «--county NR» (fylkesnummer, "
                       f"for eksempel 18 for Nordland): {which}.", field="county")


@dataclass
class MeetingResult:
    message: str
    added: int
    skipped: int
    rescheduled: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _resolve(session: Session, rows: list[MeetingRow], county_code: str | None = None,
             scope: Scope = EVERYWHERE) -> list[Meeting]:
    """Turn parsed rows into Meeting objects, refusing the whole list on any unknown
    municipality or county. A county meeting belongs to the county its row names (by
    fylkesnummer or one of its municipalities), else to `county_code` or the one county
    with cases. Municipalities and counties outside `scope` are unknown, with the same
    words as ones that do not exist; a county user's county rows default to their county."""
    knrs = {r.kommunenummer for r in rows if r.kommunenummer}
    by_knr = {m.kommunenummer: m for m in session.exec(scope.where(
        select(Municipality).where(col(Municipality.kommunenummer).in_(knrs)),
        Municipality.county_id)).all()} if knrs else {}
    by_code = {c.code: c for c in session.exec(select(County)).all()
               if scope.allows(c.id)}
    if not scope.national and county_code is None:
        county_code = scope.county_code
    default: County | None = None
    problems = []
    out = []
    for r in rows:
        where = f"linje {r.line}: " if r.line else ""
        if r.body == COUNTY:
            if r.county_code:
                county = by_code.get(r.county_code)
                if county is None:
                    problems.append(f"{where}fant ikke fylke {r.county_code}.")
                    continue
                county_id = county.id
            elif r.kommunenummer:
                m = by_knr.get(r.kommunenummer)
                if m is None:
                    problems.append(f"{where}fant ingen kommune med kommunenummer "
                                    f"{r.kommunenummer}.")
                    continue
                county_id = m.county_id
            else:
                default = default or deciding_county(
                    session, county_code, {m.county_id for m in by_knr.values()})
                if not scope.allows(default.id):
                    problems.append(f"{where}fant ikke fylke {default.code}.")
                    continue
                county_id = default.id
            out.append(Meeting(county_id=county_id, municipality_id=None, body=COUNTY,
                               date=r.date, title=r.title))
            continue
        if not r.kommunenummer:
            problems.append(f"{where}kommunenummer mangler for {r.body}.")
            continue
        m = by_knr.get(r.kommunenummer)
        if m is None:
            problems.append(f"{where}fant ingen kommune med kommunenummer {r.kommunenummer}.")
            continue
        out.append(Meeting(county_id=m.county_id, municipality_id=m.id, body=r.body,
                           date=r.date, title=r.title))
    if problems:
        from avtaleflyt.domain.meetingplan import MeetingPlanInvalid

        raise MeetingPlanInvalid(problems)
    return out


def _store(session: Session, meetings: list[Meeting]) -> tuple[int, int]:
    """Insert the meetings that are not there yet (same body, same day). Returns
    (added, skipped)."""
    if not meetings:
        return 0, 0
    existing = set()
    muni_ids = {m.municipality_id for m in meetings if m.municipality_id is not None}
    county_ids = {m.county_id for m in meetings if m.municipality_id is None}
    conds = []
    if muni_ids:
        conds.append(col(Meeting.municipality_id).in_(muni_ids))
    if county_ids:
        conds.append(and_(col(Meeting.municipality_id).is_(None),
                          col(Meeting.county_id).in_(county_ids)))
    for row in session.exec(select(Meeting).where(or_(*conds))).all():
        existing.add((row.municipality_id, row.county_id if row.municipality_id is None
                      else None, row.body, row.date))
    added = 0
    for m in meetings:
        key = (m.municipality_id, m.county_id if m.municipality_id is None else None, m.body,
               m.date)
        if key in existing:
            continue
        existing.add(key)
        session.add(m)
        added += 1
    return added, len(meetings) - added


def add_meeting(*, session: Session, kommunenummer: str | None, body: str, on: date,
                title: str | None, ctx: Ctx, county: str | None = None,
                scope: Scope = EVERYWHERE) -> MeetingResult:
    body = check_body(body)
    if body == COUNTY:
        if kommunenummer and kommunenummer.strip().lower() != COUNTY:
            raise InvalidInput(
                f"«--body county» er fylkeskommunens organ og hører ikke til kommune "
                f"{kommunenummer.strip()}. Skriv «avtaleflyt meeting add county --body county "
                "--date …».", field="kommunenummer")
        knr = None
    else:
        if not kommunenummer or kommunenummer.strip().lower() == COUNTY:
            raise InvalidInput(f"«KNR» mangler: {body} hører til en kommune (f.eks. 1836).",
                               field="kommunenummer")
        municipality = get_municipality(session, kommunenummer, scope)
        knr = municipality.kommunenummer
    if on < ctx.today:
        raise InvalidInput(f"{ref('date')}: møtet {format_date(on)} er før i dag "
                           f"({format_date(ctx.today)}); legg inn kommende møter.", field="date")
    title = check_text(title, "title", 200, required=False)
    if county and body != COUNTY:
        raise InvalidInput("«--county» gjelder bare fylkeskommunens organ (--body county); "
                           "en kommunes møte hører til kommunens fylke.", field="county")
    meetings = _resolve(session, [MeetingRow(kommunenummer=knr, body=body, date=on,
                                             title=title, line=None)], county, scope)
    added, skipped = _store(session, meetings)
    from .deadlines import schedule_political_cases

    moved = schedule_political_cases(session=session, ctx=ctx, commit=False)
    session.commit()
    who = BODY_LABELS[body] + (f" i {municipality.name}" if knr else
                               f" i {_county_name(session, meetings[0].county_id)}")
    if not added:
        return MeetingResult(f"{who} har allerede møte {format_date(on)}; ingen endring.",
                             0, 1)
    warnings = [w for w in [meeting_warning(on, _calendar_for(session, meetings[0], ctx),
                                            body)] if w]
    return MeetingResult(f"Møte lagt inn: {who} {format_date(on)}.{_moved(moved)}", added,
                         skipped, moved, warnings)


def _calendar_for(session: Session, meeting: Meeting, ctx: Ctx):
    county = session.get(County, meeting.county_id)
    return ctx.for_county(county.code if county else None).calendar


def _county_name(session: Session, county_id: int) -> str:
    county = session.get(County, county_id)
    return county.name.removesuffix(" fylkeskommune") if county else "?"


def _moved(n: int) -> str:
    if not n:
        return ""
    return f" {format_count(n, 'frist', 'frister')} i politisk behandling ble satt eller flyttet."


ICS_SUFFIXES = (".ics", ".ical", ".ifb")
PLAN_MAX_BYTES = 1024 * 1024  # a year's plan for a whole county is a few kilobytes


def _not_a_plan(name: str) -> InvalidInput:
    return InvalidInput(f"{name} er ikke en tekstfil (CSV i UTF-8 eller Windows-1252) eller "
                        "en .ics-fil.", field="file")


def plan_text(data: bytes, name: str) -> str:
    """A meeting plan file's bytes as text: CSV in UTF-8 or Windows-1252 (Excel's), an
    iCalendar file in UTF-8. What an upload stores in its command's payload."""
    encodings = ("utf-8",) if _is_ics(name) else ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise _not_a_plan(name)


def _is_ics(name: str) -> bool:
    return Path(name).suffix.lower() in ICS_SUFFIXES


def parse_plan(data: str | bytes, name: str, *, kommunenummer: str | None = None,
               body: str | None = None) -> list[MeetingRow]:
    """The rows of a meeting plan, CSV or iCalendar by the file's name; the whole plan is
    refused (`MeetingPlanInvalid`, every bad line named) or every row returned."""
    if _is_ics(name):
        return parse_ics(data if isinstance(data, bytes) else data.encode("utf-8"),
                         default_kommunenummer=kommunenummer, default_body=body)
    return parse_csv(data if isinstance(data, str) else plan_text(data, name))


def check_plan(session: Session, text: str, name: str, *, kommunenummer: str | None = None,
               body: str | None = None, county: str | None = None,
               scope: Scope = EVERYWHERE) -> int:
    """Read-only: what `import_meetings` would refuse (a malformed line, an unknown or
    out-of-scope municipality), before a flow starts. Returns the number of meetings."""
    return len(_resolve(session, parse_plan(text, name, kommunenummer=kommunenummer,
                                            body=body), county, scope))


def check_plan_file(session: Session, path: Path, *, kommunenummer: str | None = None,
                    body: str | None = None, county: str | None = None) -> int:
    """`check_plan` for a file on disk (`meeting import`, before a flow starts)."""
    if not path.is_file():
        raise InvalidInput(f"Fant ikke filen {path}.", field="file")
    return check_plan(session, plan_text(path.read_bytes(), path.name), path.name,
                      kommunenummer=kommunenummer, body=body, county=county)


def import_meetings(*, session: Session, path: Path | None = None,
                    kommunenummer: str | None, body: str | None, ctx: Ctx,
                    county: str | None = None, text: str | None = None,
                    name: str | None = None, scope: Scope = EVERYWHERE) -> MeetingResult:
    """Import a meeting plan, all or nothing: from a file (`path`, the command line) or
    from its text (`text` and the file's `name`, a dashboard upload kept in the command's
    payload). Only municipalities and counties in `scope` may be named."""
    if text is None:
        if path is None or not path.is_file():
            raise InvalidInput(f"Fant ikke filen {path}.", field="file")
        data: str | bytes = path.read_bytes()
        name = path.name
    else:
        data, name = text, (name or "møteplanen")
    rows = parse_plan(data, name, kommunenummer=kommunenummer, body=body)
    resolved = _resolve(session, rows, county, scope)
    warnings = []
    for row, meeting in zip(rows, resolved):
        w = meeting_warning(meeting.date, _calendar_for(session, meeting, ctx), meeting.body)
        if w:
            warnings.append(f"Linje {row.line}: {w}" if row.line else w)
    added, skipped = _store(session, resolved)
    from .deadlines import schedule_political_cases

    moved = schedule_political_cases(session=session, ctx=ctx, commit=False)
    session.commit()
    return MeetingResult(f"Importerte {format_count(added, 'møte', 'møter')} fra {name}"
                         + (f" ({skipped} fantes fra før)." if skipped else ".") + _moved(moved),
                         added, skipped, moved, warnings)


def list_meetings(session: Session, kommunenummer: str | None = None,
                  since: date | None = None, scope: Scope = EVERYWHERE
                  ) -> list[dict[str, Any]]:
    """Meetings in `scope`: all, one municipality's (with its own county's deciding body),
    or only the county bodies' ("county")."""
    q = scope.where(select(Meeting, Municipality, County)
                    .outerjoin(Municipality, col(Municipality.id) == Meeting.municipality_id)
                    .join(County, col(County.id) == Meeting.county_id)
                    .order_by(col(Meeting.date), col(Meeting.id)), Meeting.county_id)
    if kommunenummer and kommunenummer.strip().lower() == COUNTY:
        q = q.where(col(Meeting.municipality_id).is_(None))
    elif kommunenummer:
        m = get_municipality(session, kommunenummer, scope)
        q = q.where(or_(col(Meeting.municipality_id) == m.id,
                        and_(col(Meeting.municipality_id).is_(None),
                             Meeting.county_id == m.county_id)))
    if since is not None:
        q = q.where(col(Meeting.date) >= since)
    return [{
        "id": mt.id,
        "date": mt.date.isoformat(),
        "body": mt.body,
        "body_label": BODY_LABELS[mt.body],
        "kommunenummer": m.kommunenummer if m else None,
        "municipality": m.name if m else None,
        "county_code": c.code,
        "title": mt.title,
    } for mt, m, c in session.exec(q).all()]


def meetings_by_scope(session: Session, municipality_ids: set[int], since: date
                      ) -> tuple[dict[int, list[date]], dict[int, list[date]]]:
    """One query: kommunestyre dates per municipality id, and county-body dates per county."""
    council: dict[int, list[date]] = defaultdict(list)
    county: dict[int, list[date]] = defaultdict(list)
    if not municipality_ids:
        return council, county
    rows = session.exec(select(Meeting.municipality_id, Meeting.county_id, Meeting.date).where(
        col(Meeting.date) >= since,
        or_(and_(col(Meeting.municipality_id).in_(municipality_ids),
                 Meeting.body == "kommunestyre"),
            and_(col(Meeting.municipality_id).is_(None), Meeting.body == COUNTY)))
        .order_by(col(Meeting.date))).all()
    for municipality_id, county_id, on in rows:  # three columns, not Meeting objects
        if municipality_id is None:
            county[county_id].append(on)
        else:
            council[municipality_id].append(on)
    return council, county


def check_county(session: Session, code: str) -> None:
    """Refuse an unknown `--county` before anything starts."""
    county_by_code(session, code, "--county")


def meetings_of_bodies(session: Session, municipality_ids: set[int], since: date
                       ) -> dict[tuple[int, str], list[date]]:
    """One query: the dates of each municipality's own bodies, by (municipality id, body)."""
    out: dict[tuple[int, str], list[date]] = defaultdict(list)
    if not municipality_ids:
        return out
    for mid, body, on in session.exec(select(
            col(Meeting.municipality_id), col(Meeting.body), col(Meeting.date)).where(
            col(Meeting.date) >= since, col(Meeting.municipality_id).in_(municipality_ids))
            .order_by(col(Meeting.date))).all():
        out[(mid, body)].append(on)
    return out


# -- saksgang --------------------------------------------------------------------------


def saksgang_by_municipality(session: Session, municipality_ids: set[int]
                             ) -> dict[int, tuple[str, ...]]:
    """The municipalities' own saksgang, where one is set (one query)."""
    if not municipality_ids:
        return {}
    return {r.municipality_id: tuple(r.bodies.split(",")) for r in session.exec(
        select(Saksgang).where(col(Saksgang.municipality_id).in_(municipality_ids))).all()}


def saksgang(session: Session, kommunenummer: str, ctx: Ctx) -> dict[str, Any]:
    """A municipality's saksgang: its own, or the configuration's default for its county."""
    from .store import county_ctx

    m = get_municipality(session, kommunenummer)
    own = saksgang_by_municipality(session, {m.id}).get(m.id)
    bodies = own or county_ctx(session, m, ctx).config.saksgang
    return {"kommunenummer": m.kommunenummer, "municipality": m.name,
            "saksgang": list(bodies), "own": own is not None,
            "label": " → ".join(body_name(b) for b in bodies)}


def set_saksgang(*, session: Session, kommunenummer: str, bodies: str | list[str] | None,
                 ctx: Ctx) -> dict[str, Any]:
    """Set a municipality's own saksgang ("formannskap,kommunestyre"), or with None/"default"
    go back to the configuration's. Deadlines of its case in political approval follow."""
    from avtaleflyt.config import check_saksgang

    from .store import add_events, latest_case

    m = get_municipality(session, kommunenummer)
    row = session.get(Saksgang, m.id)
    if bodies is None or (isinstance(bodies, str) and bodies.strip().lower() == "default"):
        new = None
        if row is not None:
            session.delete(row)
    else:
        if isinstance(bodies, str):
            bodies = [b.strip().lower() for b in bodies.replace(";", ",").split(",")
                      if b.strip()]
        new = check_saksgang(list(bodies), "--set")
        if row is None:
            row = Saksgang(municipality_id=m.id, bodies=",".join(new))
        row.bodies = ",".join(new)
        session.add(row)
    session.flush()
    case = latest_case(session, m)
    info = saksgang(session, kommunenummer, ctx)
    if case is not None and case.status in ("active", "on_hold"):
        add_events(session, m, case, [_event(EventKind.SAKSGANG_SET, ctx.today,
                                             {"saksgang": info["saksgang"]})], ctx)
    from .deadlines import schedule_political_cases

    moved = schedule_political_cases(session=session, ctx=ctx, commit=False)
    session.commit()
    return {**info, "message": f"Saksgang for {m.name}: {info['label']}."
            + ("" if new else " (standard fra konfigurasjonen)") + _moved(moved),
            "rescheduled": moved}


def _event(kind: str, on: date, details: dict[str, Any]):
    from avtaleflyt.domain.machine import NewEvent

    return NewEvent(kind, on, details)


# -- moving and cancelling meetings ------------------------------------------------------


def _get_meeting(session: Session, meeting_id: int, scope: Scope = EVERYWHERE) -> Meeting:
    from avtaleflyt.domain.errors import NotFound

    meeting = session.get(Meeting, meeting_id)
    if meeting is None or not scope.allows(meeting.county_id):
        raise NotFound(f"Fant ikke møte {meeting_id}. Se «avtaleflyt meeting list --all» "
                       "for møtenes id.", field="id")
    return meeting


def _affected_cases(session: Session, meeting: Meeting):
    """(municipality, open case or None) to write the history line for: the municipality's
    own for its bodies; every open case in the county for the county's body."""
    from .store import latest_case

    if meeting.municipality_id is not None:
        m = session.get(Municipality, meeting.municipality_id)
        case = latest_case(session, m)
        return [(m, case if case is not None and _is_open(case) else None)]
    rows = session.exec(select(Municipality, OnboardingCase)
                        .join(OnboardingCase, col(OnboardingCase.municipality_id)
                              == Municipality.id)
                        .where(Municipality.county_id == meeting.county_id,
                               col(OnboardingCase.status).in_(("active", "on_hold")))).all()
    return list(rows)


def _is_open(case: OnboardingCase) -> bool:
    return case.status in ("active", "on_hold")


def move_meeting(*, session: Session, meeting_id: int, on: date, ctx: Ctx,
                 scope: Scope = EVERYWHERE) -> MeetingResult:
    """Move a meeting to another day. The history of the cases it concerns says so ("Møtet
    i kommunestyret 4. juni ble flyttet til 11. juni"), and their deadlines are planned
    again: a meeting moved earlier moves the saksframlegg's deadline earlier; one moved
    later keeps the decision on it (never "the meeting passed without a decision")."""
    meeting = _get_meeting(session, meeting_id, scope)
    old = meeting.date
    if old < ctx.today:
        raise Conflict(f"Møtet {format_date(old)} er holdt; et holdt møte kan ikke flyttes.")
    if on < ctx.today:
        raise InvalidInput(f"{ref('date')}: {format_date(on)} er før i dag "
                           f"({format_date(ctx.today)}); et møte kan bare flyttes fremover i "
                           "tid fra i dag.", field="date")
    if on == old:
        return MeetingResult(f"Møtet er allerede {format_date(on)}; ingen endring.", 0, 0)
    clash = session.exec(select(Meeting.id).where(
        Meeting.body == meeting.body, Meeting.date == on, Meeting.id != meeting.id,
        (Meeting.municipality_id == meeting.municipality_id)
        if meeting.municipality_id is not None
        else and_(col(Meeting.municipality_id).is_(None),
                  Meeting.county_id == meeting.county_id))).first()
    if clash is not None:
        raise Conflict(f"{BODY_LABELS[meeting.body]} har allerede et møte {format_date(on)} "
                       f"(møte {clash}); avlys det ene i stedet for å flytte.", field="date")
    meeting.date = on
    session.add(meeting)
    session.flush()
    text = (f"Møtet i {body_name(meeting.body)} {short_date(old)} ble flyttet til "
            f"{short_date(on)}" + (f" {on.year}" if on.year != old.year else ""))
    _record(session, meeting, EventKind.MEETING_RESCHEDULED, {
        "meeting_id": meeting.id, "body": meeting.body, "from": old.isoformat(),
        "to": on.isoformat()}, ctx)
    from .deadlines import schedule_political_cases

    moved = schedule_political_cases(session=session, ctx=ctx, commit=False)
    session.commit()
    w = meeting_warning(on, _calendar_for(session, meeting, ctx), meeting.body)
    return MeetingResult(f"{text}.{_moved(moved)}", 0, 0, moved, [w] if w else [])


def cancel_meeting(*, session: Session, meeting_id: int, ctx: Ctx,
                   scope: Scope = EVERYWHERE) -> MeetingResult:
    """Cancel a meeting: it leaves the plan, the history says so, and cases planned for it
    are planned again for the body's next meeting."""
    meeting = _get_meeting(session, meeting_id, scope)
    if meeting.date < ctx.today:
        raise Conflict(f"Møtet {format_date(meeting.date)} er holdt; et holdt møte kan ikke "
                       "avlyses.")
    text = f"Møtet i {body_name(meeting.body)} {short_date(meeting.date)} ble avlyst"
    _record(session, meeting, EventKind.MEETING_CANCELLED, {
        "meeting_id": meeting.id, "body": meeting.body, "date": meeting.date.isoformat()}, ctx)
    session.delete(meeting)
    session.flush()
    from .deadlines import schedule_political_cases

    moved = schedule_political_cases(session=session, ctx=ctx, commit=False)
    session.commit()
    return MeetingResult(f"{text}.{_moved(moved)}", 0, 0, moved)


def _record(session: Session, meeting: Meeting, kind: str, details: dict[str, Any],
            ctx: Ctx) -> None:
    from .store import add_events

    for m, case in _affected_cases(session, meeting):
        add_events(session, m, case, [_event(kind, ctx.today, details)], ctx)
