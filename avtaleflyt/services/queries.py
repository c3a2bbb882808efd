"""Read models for the CLI, the dashboard and reports. Set-based: a fixed number of queries
however many cases there are. Nothing here writes, and nothing here imports Prefect."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, case as sa_case, func
from sqlmodel import Session, col, select

from avtaleflyt.domain.facts import FACT_LABELS, FactKind
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.stages import (
    STAGE_RULES,
    TASK_TEMPLATES,
    CaseStatus,
    Party,
    Stage,
    Theme,
)
from avtaleflyt.formatting import format_count, format_date
from avtaleflyt.models import (
    ContactPerson,
    County,
    Event,
    Municipality,
    OnboardingCase,
    Task,
)

from .scope import EVERYWHERE, Scope

# The case store (and the domain machine it loads) and babel's date formatting are imported
# where they are used: `avtaleflyt status` needs neither, and a read-only command's start-up
# time is mostly imports.


def _latest_case_ids():
    return (select(func.max(OnboardingCase.id).label("id"))
            .group_by(col(OnboardingCase.municipality_id)).subquery())


def task_summary(session: Session, today: date, case_ids: list[int] | None = None
                 ) -> dict[int, tuple[date | None, int]]:
    """For each case: (next open due date, number of open overdue tasks)."""
    open_ = col(Task.done_on).is_(None)
    q = (select(Task.case_id,
                func.min(sa_case((open_, Task.due_on), else_=None)),
                func.sum(sa_case((and_(open_, col(Task.due_on) < today), 1), else_=0)))
         .group_by(col(Task.case_id)))
    if case_ids is not None:
        q = q.where(col(Task.case_id).in_(case_ids))
    return {cid: (nxt, int(n or 0)) for cid, nxt, n in session.exec(q).all()}


def status_rows(session: Session, today: date, scope: Scope = EVERYWHERE
                ) -> list[dict[str, Any]]:
    """Each municipality's latest case in `scope`, with its county: one query, selecting only
    the columns shown. The task figures are aggregated over the open tasks of those latest
    cases only, so closed history (however long) is never read."""
    latest = select(_latest_case_ids().c.id)
    open_ = col(Task.done_on).is_(None)
    tasks = (select(Task.case_id.label("case_id"),
                    func.min(Task.due_on).label("next_due"),
                    func.sum(sa_case((col(Task.due_on) < today, 1), else_=0)).label("overdue"))
             .where(open_, col(Task.case_id).in_(latest))
             .group_by(col(Task.case_id)).subquery())
    rows = session.exec(scope.where(
        select(Municipality.kommunenummer, Municipality.name, County.code, County.name,
               OnboardingCase.stage, OnboardingCase.status, OnboardingCase.stage_entered_on,
               OnboardingCase.opened_on, tasks.c.next_due, tasks.c.overdue)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .join(County, col(County.id) == Municipality.county_id)
        .outerjoin(tasks, tasks.c.case_id == OnboardingCase.id)
        .where(col(OnboardingCase.id).in_(latest))
        .order_by(col(Municipality.kommunenummer)), Municipality.county_id)
    ).all()
    out = []
    for knr, name, c_code, c_name, stage, status, entered, opened, nxt, overdue in rows:
        active = status == CaseStatus.ACTIVE.value
        out.append({
            "kommunenummer": knr,
            "municipality": name,
            "county_code": c_code,
            "county": c_name,
            "stage": stage,
            "status": status,
            "next_deadline": _iso(nxt) if active and nxt else None,
            "overdue_tasks": int(overdue or 0) if active else 0,
            "stage_entered_on": _iso(entered),
            "opened_on": _iso(opened),
        })
    return out


def _iso(value: date | str) -> str:
    """A date column read through an aggregate may come back as text on SQLite."""
    return value if isinstance(value, str) else value.isoformat()


def municipality_rows(session: Session, scope: Scope = EVERYWHERE) -> list[dict[str, Any]]:
    latest = _latest_case_ids()
    rows = session.exec(scope.where(
        select(Municipality, County, OnboardingCase)
        .join(County, col(County.id) == Municipality.county_id)
        .outerjoin(OnboardingCase, and_(
            col(OnboardingCase.municipality_id) == Municipality.id,
            col(OnboardingCase.id).in_(select(latest.c.id))))
        .order_by(col(Municipality.kommunenummer)), Municipality.county_id)
    ).all()
    return [{
        "kommunenummer": m.kommunenummer,
        "name": m.name,
        "county_code": c.code,
        "county": c.name,
        "stage": case.stage if case else None,
        "status": case.status if case else None,
    } for m, c, case in rows]


def county_rows(session: Session) -> list[dict[str, Any]]:
    """Every county with its number of municipalities and of open and closed cases."""
    latest = _latest_case_ids()
    open_ = col(OnboardingCase.status).in_([CaseStatus.ACTIVE.value, CaseStatus.ON_HOLD.value])
    counts = {code: (int(n_m), int(n_open or 0), int(n_cases or 0))
              for code, n_m, n_open, n_cases in session.exec(
                  select(County.code, func.count(func.distinct(Municipality.id)),
                         func.sum(sa_case((open_, 1), else_=0)),
                         func.count(OnboardingCase.id))
                  .join(Municipality, col(Municipality.county_id) == County.id)
                  .outerjoin(OnboardingCase, and_(
                      col(OnboardingCase.municipality_id) == Municipality.id,
                      col(OnboardingCase.id).in_(select(latest.c.id))))
                  .group_by(col(County.code))).all()}
    return [{"code": c.code, "name": c.name, "library_name": c.library_name,
             "municipalities": counts.get(c.code, (0, 0, 0))[0],
             "open_cases": counts.get(c.code, (0, 0, 0))[1],
             "cases": counts.get(c.code, (0, 0, 0))[2]}
            for c in session.exec(select(County).order_by(col(County.code))).all()]


def _notice(terms) -> date:
    from avtaleflyt.domain.agreement import notice_deadline_for
    from avtaleflyt.domain.calendar import default_calendar

    return notice_deadline_for(terms.end_date, terms.notice_months, default_calendar())


def _notice_given(state) -> dict[str, Any] | None:
    from avtaleflyt.domain import machine

    f = machine.notice_given(state)
    if f is None:
        return None
    return {"given_on": f.occurred_on.isoformat(), "party": f.details.get("party"),
            "ends_on": f.details.get("ends_on"),
            "text": machine.notice_text(f.details, f.occurred_on)}


def case_detail(session: Session, kommunenummer: str, today: date, *,
                with_personal_data: bool = True) -> dict[str, Any]:
    from avtaleflyt.domain import machine
    from avtaleflyt.models import ExperienceNote

    from .store import case_tasks, get_case, load_terms, snapshot

    m, case = get_case(session, kommunenummer)
    state = snapshot(session, m, case)
    terms_row, terms = load_terms(session, case.id)
    events = session.exec(select(Event).where(Event.case_id == case.id)
                          .order_by(col(Event.occurred_on), col(Event.id))).all()
    notes = session.exec(select(ExperienceNote).where(ExperienceNote.case_id == case.id)
                         .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id))).all()
    tasks = case_tasks(session, case.id)
    from .texts import resolve

    shown = resolve(session, [n.text_id for n in notes] +
                    [e.details.get("reason_text_id") for e in events])
    detail: dict[str, Any] = {
        "kommunenummer": m.kommunenummer,
        "municipality": m.name,
        "case_id": case.id,
        "stage": case.stage,
        "stage_label": Stage(case.stage).label,
        "status": case.status,
        "status_label": CaseStatus(case.status).label,
        "opened_on": case.opened_on.isoformat(),
        "stage_entered_on": case.stage_entered_on.isoformat(),
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "on_hold_since": case.on_hold_since.isoformat() if case.on_hold_since else None,
        "version": case.version,
        "waiting_for": [*machine.describe_waiting(state, today),
                        *_missing_plan(session, case)]
        if case.status == CaseStatus.ACTIVE.value else [],
        "tasks": [{
            "id": t.id, "stage": t.stage, "key": t.key, "title": t.title,
            "responsible": t.responsible, "mandatory": t.mandatory,
            "due_on": t.due_on.isoformat() if t.due_on else None,
            "done_on": t.done_on.isoformat() if t.done_on else None,
            "overdue": bool(t.done_on is None and t.due_on and t.due_on < today
                            and case.status == CaseStatus.ACTIVE.value),
            "closes_with_fact": t.milestone is not None,
        } for t in tasks],
        "history": [{
            "id": e.id, "kind": e.kind, "label": event_label(e.kind, e.details, shown),
            "text_id": e.details.get("reason_text_id"),
            "occurred_on": e.occurred_on.isoformat(),
            "recorded_at": e.recorded_at.isoformat(), "recorded_by": e.recorded_by,
            "recorded_by_label": actor_label(e.recorded_by), "details": e.details,
        } for e in events],
        "terms": None if terms is None else {
            "set_on": terms_row.set_on.isoformat(),
            "start_date": terms.start_date.isoformat(),
            "end_date": terms.end_date.isoformat(),
            "years": terms.years,
            "months": terms.months,
            "renewal": terms.renewal,
            "notice_months": terms.notice_months,
            # Rolled to the previous working day (domain/agreement.py notice_deadline_for).
            "notice_deadline": _notice(terms).isoformat(),
            # Notice given (`notice-given`): when, by whom, and the agreement's last day.
            "notice": _notice_given(state),
            "yearly_price": terms.yearly_price,
            "position_share": float(terms.position_share),
            "site_visits_per_year": terms.site_visits_per_year,
            "responsibility_split": [{"task": r.task, "responsible": r.responsible.value}
                                     for r in terms.split],
        },
        "notes": [{"id": n.id, "stage": n.stage, "theme": n.theme,
                   "theme_label": Theme(n.theme).label, "text": shown.get(n.text_id, ""),
                   "text_id": n.text_id,
                   "noted_on": n.noted_on.isoformat(), "shared": n.shared} for n in notes],
    }
    if with_personal_data:
        detail["contacts"] = contacts(session, m.id)
    return detail


def _missing_plan(session: Session, case: OnboardingCase) -> list[str]:
    if "meeting_plan" not in STAGE_RULES[Stage(case.stage)].on_enter:
        return []  # only a stage planned from the meeting plan can miss one
    from .deadlines import missing_meeting_plan

    return missing_meeting_plan(session, case.id)


def contacts(session: Session, municipality_id: int) -> list[dict[str, Any]]:
    rows = session.exec(select(ContactPerson).where(ContactPerson.municipality_id ==
                                                    municipality_id)
                        .order_by(col(ContactPerson.is_primary).desc(),
                                  col(ContactPerson.id))).all()
    return [{"id": c.id, "name": c.name, "role": c.role, "email": c.email, "phone": c.phone,
             "primary": c.is_primary} for c in rows]


def municipality_contacts(session: Session, kommunenummer: str) -> list[dict[str, Any]]:
    from .store import get_municipality

    return contacts(session, get_municipality(session, kommunenummer).id)


TASK_TITLES = {key: t.title for key, t in TASK_TEMPLATES.items()}

_EVENT_LABELS = {
    EventKind.CASE_OPENED: "Sak åpnet",
    EventKind.STAGE_ENTERED: "Ny fase",
    EventKind.TASK_DONE: "Oppgave gjort",
    EventKind.CASE_ON_HOLD: "Satt på vent",
    EventKind.CASE_RESUMED: "Gjenopptatt",
    EventKind.CASE_WITHDRAWN: "Trukket",
    EventKind.CASE_REJECTED: "Avslått",
    EventKind.AGREEMENT_ENDED: "Avtalen utløpt",
    EventKind.DUTIES_AFTER_NOTICE: "Faste oppgaver tilpasset oppsigelsen",
    EventKind.NOTE_ADDED: "Erfaringsnotat",
    EventKind.CONTACT_ADDED: "Kontaktperson lagt til",
    EventKind.CONTACT_CHANGED: "Kontaktperson rettet",
    EventKind.CONTACT_ERASED: "Kontaktperson slettet",
    EventKind.DUTIES_PLANNED: "Faste oppgaver i driften planlagt",
    EventKind.AGREEMENT_RENEWED: "Avtalen fornyet for en ny periode",
}


# Who acted, when it was the program itself rather than a person (the login name).
ACTOR_LABELS = {"deadline-sweep": "Fristsveipet (automatisk)", "demo": "Demo"}


def actor_label(actor: str) -> str:
    """The history's "Registrert av": a person's user name as it is, the program's own
    runs by a Norwegian name ("Fristsveipet (automatisk)", not "deadline-sweep")."""
    return ACTOR_LABELS.get(actor, actor)


def event_label(kind: str, details: dict[str, Any],
                texts: dict[int, str] | None = None) -> str:
    """One line of history in Norwegian. `texts` resolves free-text references (a hold or
    withdraw reason) from `personal_text`; without it they are left out."""
    reason_id = details.get("reason_text_id")
    if reason_id is not None and texts is not None and reason_id in texts:
        return f"{_EVENT_LABELS.get(kind, kind)}: {texts[reason_id]} (tekst {reason_id})"
    if kind == EventKind.TEXT_REDACTED:
        return f"Tekst {details.get('text_id')} sladdet"
    if kind == FactKind.NOTICE_GIVEN.value and details.get("ends_on"):
        who = Party(details["party"]).label.lower() if details.get("party") else "–"
        return (f"{FACT_LABELS[FactKind.NOTICE_GIVEN]} av {who}; avtalen slutter "
                f"{format_date(date.fromisoformat(details['ends_on']))}")
    if kind == EventKind.AGREEMENT_ENDED and details.get("by_notice"):
        return "Avtalen avsluttet etter oppsigelse"
    if kind == EventKind.DUTIES_AFTER_NOTICE:
        settled = format_count(details.get("settled", 0), "fornyelsesfrist", "fornyelsesfrister")
        removed = format_count(details.get("removed", 0), "oppgave", "oppgaver")
        return (f"Faste oppgaver tilpasset oppsigelsen: {settled} avklart, {removed} etter "
                "avtalens slutt fjernet")
    if kind in FactKind._value2member_map_:
        label = FACT_LABELS[FactKind(kind)]
        if "outcome" in details:
            from avtaleflyt.domain.facts import Outcome

            label += f": {Outcome(details['outcome']).label}"
        if "party" in details:
            label += f" ({Party(details['party']).label.lower()})"
        if details.get("reference"):
            label += f", sak {details['reference']}"
        return label
    if kind == EventKind.STAGE_ENTERED:
        return f"Ny fase: {Stage(details['to']).label}"
    if kind == EventKind.TASK_DONE:
        return f"Oppgave gjort: {details.get('title', '')}"
    if kind == EventKind.CASE_REJECTED:
        return f"Avslått av {details.get('by', '')}"
    if kind in (EventKind.MEETING_PLANNED, EventKind.MEETING_MOVED):
        what = TASK_TITLES.get(details.get("key", ""), "Frist")
        to = details.get("to")
        when = f" {format_date(date.fromisoformat(to))}" if to else " ikke satt"
        verb = "satt til" if kind == EventKind.MEETING_PLANNED else "flyttet til"
        reason = {"postponed": " (utsatt vedtak)", "moved": " (fristen for saksframlegget gikk ut)",
                  "missed": " (møtet gikk uten registrert vedtak)",
                  "replanned": " (møteplanen ble endret)"}.get(details.get("reason", ""), "")
        return f"{what}: frist {verb}{when}{reason}"
    if kind in (EventKind.MEETING_RESCHEDULED, EventKind.MEETING_CANCELLED):
        from avtaleflyt.domain.meetingplan import body_name, short_date

        body = body_name(details.get("body", ""))
        if kind == EventKind.MEETING_CANCELLED:
            return f"Møtet i {body} {short_date(date.fromisoformat(details['date']))} ble avlyst"
        old, new = date.fromisoformat(details["from"]), date.fromisoformat(details["to"])
        return (f"Møtet i {body} {short_date(old)} ble flyttet til {short_date(new)}"
                + (f" {new.year}" if new.year != old.year else ""))
    if kind == EventKind.SAKSGANG_SET:
        from avtaleflyt.domain.meetingplan import body_name

        return "Saksgang: " + " → ".join(body_name(b) for b in details.get("saksgang", []))
    if kind == EventKind.SPLIT_CHANGED:
        verb = {"add": "lagt til", "remove": "fjernet", "set": "endret"}.get(
            details.get("action", ""), "endret")
        who = Party(details["responsible"]).label.lower() if details.get("responsible") \
            else ""
        return (f"Grenseoppgang: rad {details.get('row')} {verb}: "
                f"«{details.get('task', '')}» ({who})")
    if kind == EventKind.AGREEMENT_RENEWED:
        return (f"Avtalen fornyet: ny periode "
                f"{format_date(date.fromisoformat(details['start']))}–"
                f"{format_date(date.fromisoformat(details['end']))}")
    if kind == EventKind.TASK_ASSIGNED:
        title = details.get("title", "")
        if details.get("user"):
            return f"Oppgave tildelt {details['user']}: «{title}»"
        if details.get("contact_id") is None:
            return f"Oppgave tildelt standard ansvarlig: «{title}»"
        return f"Oppgave tildelt en kontaktperson i kommunen: «{title}»"
    return _EVENT_LABELS.get(kind, kind)
