"""Read models for the dashboard, the calendar feed and the sweep's Prefect artifact.

Set-based: each function runs a fixed number of queries however many cases there are.
Nothing here writes, and nothing here imports Prefect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Date, Integer, and_, bindparam, case, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from avtaleflyt.config import Config
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain import attention as attn
from avtaleflyt.domain import experience
from avtaleflyt.domain.forecast import forecast_running
from avtaleflyt.domain.stages import STAGE_ORDER, STAGE_RULES, CaseStatus, Party, Stage, pipeline
from avtaleflyt.models import AgreementTerms, ContactPerson, Event, Municipality, OnboardingCase, Task

from .context import Ctx
from .scope import EVERYWHERE, Scope

SOON_DAYS = 7


class DeadlineState:
    OVERDUE = "overdue"
    STUCK = "stuck"  # står fast: too long in its stage, or its deadlines keep moving
    SOON = "soon"
    ON_TRACK = "on_track"
    NONE = "none"

    # In the board's order: what needs action today first.
    LABELS = {"overdue": "Forfalt", "stuck": "Står fast", "soon": "Frist innen 7 dager",
              "on_track": "I rute", "none": "Ingen frist"}


@dataclass
class Card:
    kommunenummer: str
    municipality: str
    stage: str
    status: str
    next_deadline: date | None
    next_task: str | None
    owner: str | None  # Party value of the next deadline's task
    owner_name: str | None  # the municipality's contact named for that task, if any
    overdue: int
    state: str
    attention: attn.Attention | None = None  # days in stage, norm, moves, står fast


@dataclass
class TaskRow:
    id: int
    kommunenummer: str
    municipality: str
    stage: str
    title: str
    responsible: str
    due_on: date
    days: int  # days overdue (positive) or days left
    case_version: int = 1
    case_updated_at: datetime | None = None


@dataclass
class Statistics:
    funnel: list[tuple[Stage, int]]
    stages: tuple[experience.StageStatistics, ...]
    forecasts: list[dict[str, Any]] = field(default_factory=list)


def _latest_case_ids():
    """Each municipality's current case: its open one (there is at most one), else its
    newest. A history of closed cases, renewals included, never hides an open case.

    Two index lookups per municipality: the open case through the partial unique index
    `uq_case_one_open_per_municipality` (its condition written into the SQL as the index
    has it, so SQLite can use it), the newest (needed only without an open case) through
    `ix_onboarding_case_municipality_id`. (Grouping every case by municipality read each
    case's row for its status: 16-60 ms on SQLite at the benchmark's full size, 37 729
    cases; this takes under 1 ms.)"""
    m, open_, any_ = aliased(Municipality), aliased(OnboardingCase), aliased(OnboardingCase)
    statuses = bindparam("open_statuses", (CaseStatus.ACTIVE.value, CaseStatus.ON_HOLD.value),
                         expanding=True, literal_execute=True)
    open_id = (select(open_.id)
               .where(open_.municipality_id == m.id, col(open_.status).in_(statuses))
               .scalar_subquery())
    # `id + 0`: PostgreSQL would otherwise find max(id) by walking the primary key backwards
    # until it meets a case of this municipality, through the whole history if need be.
    newest = (select(func.max(any_.id + 0)).where(any_.municipality_id == m.id)
              .scalar_subquery())
    return select(func.coalesce(open_id, newest).label("id")).select_from(m).subquery()


PAGE_SIZE = 100  # rows per page on every list
BOARD_CARDS = 12  # cards per column on the board before "Vis flere"


@dataclass
class Page:
    """One page of a list: the rows shown and how many there are in all."""

    rows: list[Any]
    total: int
    page: int = 1
    per_page: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def page_number(value: Any) -> int:
    """?side=N from a query string: a positive whole number, else the first page."""
    try:
        n = int(str(value))
    except (TypeError, ValueError):
        return 1
    return n if 1 <= n <= 1_000_000 else 1


def _task_columns():
    return (col(Task.id), col(Municipality.kommunenummer), col(Municipality.name),
            col(Task.stage), col(Task.title), col(Task.responsible), col(Task.due_on),
            col(OnboardingCase.version), col(OnboardingCase.updated_at))


def _open_task_query(columns, scope: Scope, *, due_from: date | None = None,
                     due_until: date | None = None, responsible: str | None = None):
    """Open tasks with a due date of every municipality's latest case while it is active,
    filtered in SQL. Only an active case can be its municipality's latest open one, and a
    municipality has at most one open case (a unique index), so no "latest" subquery is
    needed: the history of closed cases is never read."""
    q = (select(*columns)
         .select_from(Task)
         .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .where(col(Task.done_on).is_(None), col(Task.due_on).is_not(None),
                OnboardingCase.status == CaseStatus.ACTIVE.value))
    if due_from is not None:
        q = q.where(col(Task.due_on) >= due_from)
    if due_until is not None:
        q = q.where(col(Task.due_on) <= due_until)
    if responsible is not None:
        q = q.where(Task.responsible == responsible)
    return scope.where(q, Municipality.county_id)


def _task_rows(session: Session, q, today: date,
               params: dict[str, Any] | None = None) -> list[TaskRow]:
    return [TaskRow(tid, knr, name, stage, title, resp, due, abs((today - due).days),
                    version, updated)
            for tid, knr, name, stage, title, resp, due, version, updated
            in session.execute(q, params or {}).all()]


@lru_cache(maxsize=64)
def _task_list_statements(scope: Scope, dated_from: bool, dated_until: bool,
                          responsible: str | None):
    """A list of open tasks: its count, its page of rows (in due order), and the feed's
    version figures, built once per scope and filter and kept; the window's dates and the
    page are parameters (`due_from`, `due_until`, `offset`, `limit`)."""
    filters = dict(due_from=bindparam("due_from", type_=Date) if dated_from else None,
                   due_until=bindparam("due_until", type_=Date) if dated_until else None,
                   responsible=responsible)
    count = _open_task_query((func.count(),), scope, **filters)
    rows = (_open_task_query(_task_columns(), scope, **filters)
            .order_by(col(Task.due_on), col(Municipality.kommunenummer), col(Task.id)))
    paged = rows.offset(bindparam("offset", type_=Integer)).limit(bindparam("limit",
                                                                           type_=Integer))
    version = _open_task_query((func.count(), func.coalesce(func.sum(Task.id), 0),
                                func.max(OnboardingCase.updated_at)), scope, **filters)
    return count, paged, rows, version


def _list_params(due_from: date | None = None, due_until: date | None = None,
                 responsible: str | None = None) -> tuple[tuple, dict[str, Any]]:
    """`_task_list_statements`' key and the parameters of one list's window."""
    params = {k: v for k, v in (("due_from", due_from), ("due_until", due_until))
              if v is not None}
    return (due_from is not None, due_until is not None, responsible), params


def _paged_tasks(session: Session, today: date, page: int, per_page: int, scope: Scope,
                 total: int | None = None, **filters) -> Page:
    """Counted and paged in SQL: two queries, however long the list (one when the caller
    has counted it already)."""
    key, params = _list_params(**filters)
    count, paged, _rows, _version = _task_list_statements(scope, *key)
    if total is None:
        total = int(session.execute(count, params).scalar_one())
    page = min(max(page, 1), max(1, -(-total // per_page)))
    params.update(offset=(page - 1) * per_page, limit=per_page)
    return Page(_task_rows(session, paged, today, params) if total else [], total, page,
                per_page)


def deadline_state(next_deadline: date | None, overdue: int, today: date) -> str:
    if overdue:
        return DeadlineState.OVERDUE
    if next_deadline is None:
        return DeadlineState.NONE
    if next_deadline <= today + timedelta(days=SOON_DAYS):
        return DeadlineState.SOON
    return DeadlineState.ON_TRACK


@dataclass
class Board:
    """The board: per stage the number of cards and the ones that need attention first."""

    columns: dict[Stage, list[Card]]
    counts: dict[Stage, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def items(self):
        return self.columns.items()

    def values(self):
        return self.columns.values()

    def __getitem__(self, stage: Stage) -> list[Card]:
        return self.columns[stage]


# The deadline moves that count towards "står fast": a political deadline moved to a later
# meeting because the decision was postponed, the meeting passed without one, the
# saksframlegg came too late, or the meeting plan changed (the moves the coordinator is told
# about, `schedule_political_cases`). The saksframlegg's own deadline moves with the
# meeting and is not counted again; a deadline left without a meeting ("unplanned") is a
# missing plan, shown by its own reminder.
MOVE_REASONS = ("postponed", "missed", "moved", "replanned")
_NOT_COUNTED_KEYS = ("political.saksframlegg",)


class _unlikely(FunctionElement):
    """A condition SQLite's planner should not start from (`unlikely(x)`, the same truth
    value); other databases get the plain condition."""

    type = Boolean()
    name = "unlikely"
    inherit_cache = True
    _is_implicitly_boolean = True  # a condition already: no "= 1" where it stands alone


@compiles(_unlikely)
def _plain_condition(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_unlikely, "sqlite")
def _sqlite_unlikely(element, compiler, **kw):
    return f"unlikely({compiler.process(element.clauses, **kw)})"


def _moves_query(scope: Scope):
    """Per active case: how many times its deadlines moved since it entered its stage."""
    reason = col(Event.details)["reason"].as_string()
    key = col(Event.details)["key"].as_string()
    # Read through the active cases' own moves since they entered their stage (the partial
    # index ix_event_case_move, migration 0016; its kind written into the SQL, as a partial
    # index needs), never the whole history's moves: SQLite,
    # which has no statistics, is told not to start from the kind (ix_event_kind holds every
    # closed case's moves too: at bench 10x, 23 362 moves of which 1 682 are the active
    # cases'), and before that index it walked every event of the active cases.
    return scope.where(
        select(col(Event.case_id).label("case_id"), func.count().label("moves"))
        .select_from(OnboardingCase)
        .join(Event, col(Event.case_id) == OnboardingCase.id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(_unlikely(col(Event.kind) == literal(EventKind.MEETING_MOVED.value,
                                                    literal_execute=True)),
               OnboardingCase.status == CaseStatus.ACTIVE.value,
               col(Event.occurred_on) >= OnboardingCase.stage_entered_on,
               reason.in_(MOVE_REASONS), or_(key.is_(None), key.not_in(_NOT_COUNTED_KEYS)))
        .group_by(col(Event.case_id)), Municipality.county_id).subquery()


def county_configs(session: Session, config: Config) -> dict[int, Config]:
    """county.id → the county's own configuration, for the counties that have a
    `[county."NR"]` section (no query without such sections)."""
    if not config.counties:
        return {}
    from avtaleflyt.models import County

    return {cid: config.counties[code]
            for cid, code in session.exec(select(County.id, County.code)).all()
            if code in config.counties}


class _Days:
    """Dates relative to today as bind parameters (`day(-30)`: 30 days before today), so a
    statement built once serves every day; `params(today)` gives their values."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def __call__(self, offset: int):
        name = f"day_{'m' if offset < 0 else 'p'}{abs(offset)}"
        self.offsets[name] = offset
        return bindparam(name, type_=Date)

    def params(self, today: date) -> dict[str, date]:
        return {name: today + timedelta(days=n) for name, n in self.offsets.items()}


# What `_stuck_condition` needs of a configuration: ((stage, norm days), …), moves threshold.
Rule = tuple[tuple[tuple[str, int], ...], int]


def _rule(cfg: Config) -> Rule:
    return (tuple((stage.value, norm) for stage in STAGE_ORDER
                  if (norm := cfg.norm_days(stage)) is not None), cfg.stuck_after_moves)


def _rules(config: Config, own: dict[int, Config]) -> tuple[Rule, tuple[tuple[int, Rule], ...]]:
    """The stuck rules of the top level and of each county with its own section: hashable,
    so a statement built for them can be kept."""
    return _rule(config), tuple(sorted((cid, _rule(cfg)) for cid, cfg in own.items()))


def _stuck_condition(day: _Days, rules: tuple[Rule, tuple[tuple[int, Rule], ...]], moves):
    """SQL for `attention.assess(...).stuck`: an active case longer in its stage than the
    stage's norm (days > norm, i.e. entered before today - norm), or whose deadlines moved
    `stuck_after_moves` times or more; with each county's own norms and threshold."""
    def rule(r: Rule):
        norms, after_moves = r
        over_norm = [and_(OnboardingCase.stage == stage,
                          col(OnboardingCase.stage_entered_on) < day(-norm))
                     for stage, norm in norms]
        return or_(*over_norm, moves >= after_moves)

    default, own = rules
    by_county = [and_(Municipality.county_id == cid, rule(r)) for cid, r in own]
    rest = rule(default)
    if own:
        rest = and_(col(Municipality.county_id).not_in([cid for cid, _ in own]), rest)
    return and_(OnboardingCase.status == CaseStatus.ACTIVE.value, or_(*by_county, rest))


def _cards_query(day: _Days, scope: Scope, status: str | None, owner: str | None,
                 rules: tuple[Rule, tuple[tuple[int, Rule], ...]] | None = None):
    """One row per municipality's latest case: its stage and status, its first open deadline
    (task title, owner, contact), its number of overdue tasks, its stage entry and deadline
    moves, whether it is stuck, and an attention rank (0 overdue, 1 stuck, 2 due within
    SOON_DAYS, 3 on track, 4 no deadline). All in SQL, and all by aggregates joined on the
    case id (a window function's result joined per case is scanned once per case on
    SQLite). Dates are `day`'s bind parameters: execute with `day.params(today)`."""
    rules = rules or _rules(Config(), {})
    today = day(0)
    latest = _latest_case_ids()
    open_ = (col(Task.done_on).is_(None), col(Task.due_on).is_not(None),
             OnboardingCase.status == CaseStatus.ACTIVE.value)
    figures = scope.where(
        select(col(Task.case_id).label("case_id"), func.min(Task.due_on).label("due_on"),
               func.sum(case((col(Task.due_on) < today, 1), else_=0)).label("overdue"))
        .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(*open_).group_by(col(Task.case_id)), Municipality.county_id).subquery()
    # The first deadline's task: the lowest id among the open tasks due that day.
    first_id = (select(col(Task.case_id).label("case_id"), func.min(Task.id).label("id"))
                .join(figures, and_(figures.c.case_id == Task.case_id,
                                    figures.c.due_on == Task.due_on))
                .where(col(Task.done_on).is_(None)).group_by(col(Task.case_id)).subquery())
    moved = _moves_query(scope)
    first = aliased(Task)
    overdue = func.coalesce(figures.c.overdue, 0)
    moves = func.coalesce(moved.c.moves, 0)
    stuck = _stuck_condition(day, rules, moves)
    attention = case((overdue > 0, 0), (stuck, 1), (figures.c.due_on.is_(None), 4),
                     (figures.c.due_on <= day(SOON_DAYS), 2), else_=3)
    q = (select(OnboardingCase.id.label("case_id"), col(Municipality.kommunenummer),
                col(Municipality.name), col(OnboardingCase.stage), col(OnboardingCase.status),
                figures.c.due_on, first.title.label("title"),
                first.responsible.label("responsible"), first.contact_id.label("contact_id"),
                overdue.label("overdue"), attention.label("attention"),
                case((stuck, 1), else_=0).label("stuck"),
                col(OnboardingCase.stage_entered_on).label("stage_entered_on"),
                moves.label("moves"), col(Municipality.county_id).label("county_id"))
         .select_from(OnboardingCase)
         .join(latest, latest.c.id == OnboardingCase.id)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .outerjoin(figures, figures.c.case_id == OnboardingCase.id)
         .outerjoin(first_id, first_id.c.case_id == OnboardingCase.id)
         .outerjoin(first, first.id == first_id.c.id)
         .outerjoin(moved, moved.c.case_id == OnboardingCase.id))
    if status:
        q = q.where(OnboardingCase.status == status)
    if owner:
        q = q.where(first.responsible == owner)
    return scope.where(q, Municipality.county_id).subquery()


FOLLOW_UP_RANK = 1  # ranks 0 (overdue) and 1 (står fast): "Trenger oppfølging"


def _shown(cards, follow_up: bool):
    """The cards' rows, only those that need follow-up when asked (filtered on the rank,
    outside the cards query: inside it SQLite plans the aggregates' joins worse)."""
    return [cards.c.attention <= FOLLOW_UP_RANK] if follow_up else []


def case_attention(*, stage: Stage, status: str, entered_on: date, moves: int,
                   today: date, config: Config) -> attn.Attention:
    """The domain's verdict for one case, from the figures the queries found."""
    return attn.assess(stage_label=stage.label, days=attn.days_in_stage(entered_on, today),
                       norm_days=config.norm_days(stage), moves=int(moves or 0),
                       stuck_after_moves=config.stuck_after_moves,
                       active=status == CaseStatus.ACTIVE.value)


def _card(row, names: dict[int, str], today: date, config: Config,
          own: dict[int, Config]) -> Card:
    overdue = int(row.overdue or 0)
    att = case_attention(stage=Stage(row.stage), status=row.status,
                         entered_on=row.stage_entered_on, moves=row.moves, today=today,
                         config=own.get(row.county_id, config))
    state = deadline_state(row.due_on, overdue, today)
    if att.stuck and state != DeadlineState.OVERDUE:
        state = DeadlineState.STUCK
    # A closed case's days "in its stage" would count on after it closed: no line for it.
    return Card(row.kommunenummer, row.name, row.stage, row.status, row.due_on, row.title,
                row.responsible, names.get(row.contact_id) if row.contact_id else None,
                overdue, state, att if CaseStatus(row.status).is_open else None)


def _card_order(cards):
    return (cards.c.attention, cards.c.due_on.is_(None), cards.c.due_on,
            cards.c.kommunenummer)


def board(session: Session, today: date, *, status: str | None = None,
          owner: str | None = None, scope: Scope = EVERYWHERE,
          per_column: int = BOARD_CARDS, config: Config | None = None,
          follow_up: bool = False) -> Board:
    """One column per stage with its number of cards and the `per_column` cards that need
    attention first (overdue, then stuck, then soon, then by next deadline). Two queries
    (three with `[county."NR"]` sections), and the page's size does not depend on how many cases there are. `config`: the stage
    norms and the moves threshold (the built-in ones when None); `follow_up`: only the
    cases that need follow-up (overdue or stuck)."""
    config = config or Config()
    own = county_configs(session, config)
    stmt, day = _board_statement(scope, status, owner, _rules(config, own), follow_up,
                                 per_column)
    rows = session.execute(stmt, day.params(today)).all()
    names = task_contact_names(session, [r.contact_id for r in rows])
    columns: dict[Stage, list[Card]] = {s: [] for s in STAGE_ORDER}
    counts: dict[Stage, int] = {s: 0 for s in STAGE_ORDER}
    for r in rows:
        columns[Stage(r.stage)].append(_card(r, names, today, config, own))
        counts[Stage(r.stage)] = int(r.n)
    return Board(columns, counts)


@lru_cache(maxsize=64)
def _board_statement(scope: Scope, status: str | None, owner: str | None,
                     rules: tuple[Rule, tuple[tuple[int, Rule], ...]], follow_up: bool,
                     per_column: int):
    """The board's one statement, built once per scope, filter and rules and kept (building
    it took about as long as SQLite takes to run it); today's dates are its parameters."""
    day = _Days()
    cards = _cards_query(day, scope, status, owner, rules)
    # Each column's count rides on its cards: a stage without cards has none.
    pos = func.row_number().over(partition_by=cards.c.stage,
                                 order_by=_card_order(cards)).label("pos")
    n = func.count().over(partition_by=cards.c.stage).label("n")
    top = select(cards, pos, n).where(*_shown(cards, follow_up)).subquery()
    return (select(top).where(top.c.pos <= per_column).order_by(top.c.stage, top.c.pos),
            day)


def board_column(session: Session, today: date, stage: Stage, *, page: int = 1,
                 per_page: int = PAGE_SIZE, status: str | None = None,
                 owner: str | None = None, scope: Scope = EVERYWHERE,
                 config: Config | None = None, follow_up: bool = False) -> Page:
    """Every card of one stage ("Vis flere"), attention first, a page at a time."""
    config = config or Config()
    own = county_configs(session, config)
    day = _Days()
    cards = _cards_query(day, scope, status, owner, _rules(config, own))
    params = day.params(today)
    total = int(session.execute(select(func.count()).select_from(cards)
                                .where(cards.c.stage == stage.value,
                                       *_shown(cards, follow_up)), params).scalar_one())
    page = min(max(page, 1), max(1, -(-total // per_page)))
    rows = session.execute(select(cards).where(cards.c.stage == stage.value,
                                               *_shown(cards, follow_up))
                        .order_by(*_card_order(cards))
                        .offset((page - 1) * per_page).limit(per_page),
                        params).all() if total else []
    names = task_contact_names(session, [r.contact_id for r in rows])
    return Page([_card(r, names, today, config, own) for r in rows], total, page, per_page)


def case_moves(session: Session, case_id: int, scope: Scope = EVERYWHERE) -> int:
    """How many times one case's deadlines moved in its stage (as counted on the board).
    One query."""
    moved = _moves_query(scope)
    found = session.exec(select(moved.c.moves).where(moved.c.case_id == case_id)).first()
    return int(found or 0)


def task_contact_names(session: Session, contact_ids: list[int | None]) -> dict[int, str]:
    """Names of the contact persons tasks are assigned to (personal data: pages behind
    login only, never the calendar feed or the Prefect artifact). One query."""
    ids = {i for i in contact_ids if i is not None}
    if not ids:
        return {}
    return dict(session.exec(select(ContactPerson.id, ContactPerson.name)
                             .where(col(ContactPerson.id).in_(ids))).all())


def case_task_contacts(session: Session, case_id: int) -> dict[int, str]:
    """{task id: name of the contact person it is assigned to} for one case. One query."""
    return dict(session.exec(
        select(Task.id, ContactPerson.name)
        .join(ContactPerson, col(ContactPerson.id) == Task.contact_id)
        .where(Task.case_id == case_id)).all())


def overdue_counts(session: Session, today: date, scope: Scope = EVERYWHERE
                   ) -> dict[str, int]:
    """How many overdue open tasks each party has. One query."""
    found = dict(session.execute(_overdue_counts_statement(scope),
                                 {"due_until": today - timedelta(days=1)}).all())
    return {p.value: int(found.get(p.value, 0)) for p in Party}


@lru_cache(maxsize=64)
def _overdue_counts_statement(scope: Scope):
    """`overdue_counts`' statement, built once per scope; the last overdue day a parameter."""
    return (_open_task_query((col(Task.responsible), func.count()), scope,
                             due_until=bindparam("due_until", type_=Date))
            .group_by(col(Task.responsible)))


def overdue_tasks(session: Session, today: date, scope: Scope = EVERYWHERE, *,
                  responsible: str | None = None, page: int = 1,
                  per_page: int = PAGE_SIZE, total: int | None = None) -> Page:
    """Overdue open tasks (of one party, or all), oldest first, a page at a time. `total`:
    their number, when the caller has it from `overdue_counts` in the same session."""
    return _paged_tasks(session, today, page, per_page, scope, total,
                        due_until=today - timedelta(days=1), responsible=responsible)


def upcoming_tasks(session: Session, today: date, days: int = 30,
                   scope: Scope = EVERYWHERE, *, page: int = 1,
                   per_page: int = PAGE_SIZE) -> Page:
    """Open tasks due from today up to `days` days ahead, soonest first, a page at a time."""
    return _paged_tasks(session, today, page, per_page, scope,
                        due_from=today, due_until=today + timedelta(days=days))


FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 400


@dataclass(frozen=True)
class FeedVersion:
    """What identifies a feed's content without reading it: the window, the number of
    events, the sum of their task ids, and the latest change to any case they belong to."""

    count: int
    id_sum: int
    last_change: datetime | None
    first: date
    last: date


def feed_version(session: Session, today: date, responsible: str | None,
                 scope: Scope = EVERYWHERE, *, days_back: int = FEED_DAYS_BACK,
                 days_ahead: int = FEED_DAYS_AHEAD) -> FeedVersion:
    """One aggregate query: enough to answer a conditional request with 304."""
    first, last = today - timedelta(days=days_back), today + timedelta(days=days_ahead)
    key, params = _list_params(first, last, responsible)
    count, id_sum, changed = session.execute(_task_list_statements(scope, *key)[3],
                                             params).one()
    if isinstance(changed, str):  # SQLite returns max() of the column as text
        changed = datetime.fromisoformat(changed)
    return FeedVersion(int(count), int(id_sum), _utc(changed), first, last)


def _utc(value: datetime | None) -> datetime | None:
    """In UTC, as the column stores it (a naive value is UTC already; PostgreSQL may give
    it in the session's time zone), so both ways to a feed's version give the same ETag."""
    from datetime import timezone

    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else \
        value.astimezone(timezone.utc)


def feed_version_of(rows: list[TaskRow], today: date, *, days_back: int = FEED_DAYS_BACK,
                    days_ahead: int = FEED_DAYS_AHEAD) -> FeedVersion:
    """`feed_version` of the rows `feed_tasks` read (the same figures, no query)."""
    changed = max((r.case_updated_at for r in rows if r.case_updated_at is not None),
                  default=None)
    return FeedVersion(len(rows), sum(r.id for r in rows), _utc(changed),
                       today - timedelta(days=days_back), today + timedelta(days=days_ahead))


def feed_tasks(session: Session, today: date, responsible: str | None,
               scope: Scope = EVERYWHERE, *, days_back: int = FEED_DAYS_BACK,
               days_ahead: int = FEED_DAYS_AHEAD) -> list[TaskRow]:
    """Open deadlines for the calendar feed within a window around today (`days_back`
    days back, `days_ahead` days ahead); `responsible` None means all parties."""
    key, params = _list_params(today - timedelta(days=days_back),
                               today + timedelta(days=days_ahead), responsible)
    return _task_rows(session, _task_list_statements(scope, *key)[2], today, params)


def stage_spans(session: Session, scope: Scope = EVERYWHERE
                ) -> Iterator[experience.StageSpan]:
    """Every case's time in each stage (`experience.case_spans`), streamed: two queries of
    only the columns the rule needs (the case rows, and the `stage_entered` events' day and
    "to"), both in case order and merged here, so memory does not grow with the history.
    Plain rows through the connection: no ORM objects, no identity map."""
    conn = session.connection()
    cases = conn.execute(scope.where(
        select(col(OnboardingCase.id), col(Municipality.kommunenummer), col(Municipality.name),
               col(OnboardingCase.opened_on), col(OnboardingCase.status),
               col(OnboardingCase.closed_on))
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .order_by(col(OnboardingCase.id)), Municipality.county_id)
        .execution_options(yield_per=_STREAM_ROWS))
    moves = conn.execute(scope.where(
        select(col(Event.case_id), col(Event.occurred_on),
               col(Event.details)["to"].as_string())
        .join(Municipality, col(Municipality.id) == Event.municipality_id)
        .where(Event.kind == EventKind.STAGE_ENTERED, col(Event.case_id).is_not(None))
        .order_by(col(Event.case_id), col(Event.occurred_on), col(Event.id)),
        Municipality.county_id).execution_options(yield_per=_STREAM_ROWS))
    pending = next(moves, None)
    for case_id, knr, name, opened_on, status, closed_on in cases:
        while pending is not None and pending[0] < case_id:  # a move without its case row
            pending = next(moves, None)
        mine = []
        while pending is not None and pending[0] == case_id:
            mine.append((pending[1], pending[2]))
            pending = next(moves, None)
        yield from experience.case_spans(knr, name, opened_on=opened_on, moves=mine,
                                         status=status, closed_on=closed_on)


_STREAM_ROWS = 5000


def statistics(session: Session, ctx: Ctx, scope: Scope = EVERYWHERE) -> Statistics:
    """Funnel, time per stage, and a forecast per active case from the observed medians and
    each municipality's meeting plan (the next council meeting it can still reach)."""
    from avtaleflyt.domain.deadlines import COUNCIL, SAKSFRAMLEGG, next_reachable

    from .meetings import meetings_by_scope

    today = ctx.today
    stats = experience.stage_statistics(stage_spans(session, scope))
    funnel = [(s.stage, s.municipalities) for s in stats]
    medians = {s.stage: s.median_days for s in stats}
    # An active case is its municipality's current one (at most one open case each), so
    # no "latest case" subquery over the history is needed; plain columns, no ORM objects.
    active = session.exec(scope.where(
        select(OnboardingCase.id, OnboardingCase.stage, OnboardingCase.stage_entered_on,
               Municipality.id, Municipality.kommunenummer, Municipality.name,
               Municipality.county_id, AgreementTerms.start_date)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .outerjoin(AgreementTerms, col(AgreementTerms.case_id) == OnboardingCase.id)
        .where(OnboardingCase.status == CaseStatus.ACTIVE.value,
               OnboardingCase.stage != pipeline().terminal.value)
        .order_by(col(Municipality.kommunenummer)), Municipality.county_id)).all()
    council, _county = meetings_by_scope(session, {row[3] for row in active}, today)
    from .store import county_codes

    codes = county_codes(session, ctx)
    # A case already in political approval has its council meeting planned on its task
    # (delivery deadline included, and moved when missed): that date is the forecast's.
    planned = dict(session.exec(
        select(Task.case_id, Task.due_on)
        .where(col(Task.case_id).in_([row[0] for row in active]), Task.key == COUNCIL,
               col(Task.done_on).is_(None), col(Task.due_on).is_not(None))).all())

    def reachable(meetings: list[date], planned_on: date | None, cctx: Ctx):
        lead = cctx.config.due_amount(SAKSFRAMLEGG)

        def first(on: date) -> date | None:
            if planned_on is not None and planned_on >= on:
                return planned_on
            found = next_reachable(meetings, on, lead, cctx.calendar)
            return found[0] if found else None
        return first

    forecasts = []
    for case_id, stage, entered, mid, knr, name, county_id, start in active:
        meetings = council.get(mid, [])
        f = forecast_running(stage=Stage(stage), entered=entered, today=today,
                             medians=medians, start_date=start,
                             council_meeting=reachable(
                                 meetings, planned.get(case_id),
                                 ctx.for_county(codes.get(county_id)))
                             if meetings else None)
        ahead = STAGE_ORDER[Stage(stage).index:]
        forecasts.append({"kommunenummer": knr, "municipality": name,
                          "stage": stage, "expected": f.expected,
                          "meeting_ahead": any(STAGE_RULES[s].meeting_bound for s in ahead),
                          "missing_stage": f.missing_stage, "start_date": start,
                          "meeting_plan": bool(meetings), "council_meeting": f.council_meeting})
    return Statistics(funnel, stats, forecasts)


def sweep_artifact_rows(session: Session, today: date, scope: Scope = EVERYWHERE
                        ) -> list[dict[str, str]]:
    """The summary table published after each deadline sweep: one row per stage (never one
    per case), in Norwegian, for reading in Prefect's UI: how many cases, how many of them
    with overdue tasks, how many står fast (overdue or not: the board's rule) and how many
    with a deadline within SOON_DAYS. One query."""
    day = _Days()
    cards = _cards_query(day, scope, None, None)
    # "Soon" counts every case with a deadline within SOON_DAYS and none overdue, stuck
    # or not (the rank puts a stuck case before the soon ones).
    soon = and_(cards.c.overdue == 0, cards.c.due_on <= day(SOON_DAYS))
    found = {st: (n, late, stuck, soon_) for st, n, late, stuck, soon_ in session.execute(
        select(cards.c.stage, func.count(),
               func.sum(case((cards.c.attention == 0, 1), else_=0)),
               func.sum(cards.c.stuck),
               func.sum(case((soon, 1), else_=0)))
        .group_by(cards.c.stage), day.params(today)).all()}
    rows = []
    for stage in STAGE_ORDER:
        n, late, stuck, soon = found.get(stage.value, (0, 0, 0, 0))
        rows.append({"Fase": stage.label, "Saker": str(int(n)),
                     "Med forfalte oppgaver": str(int(late or 0)),
                     "Står fast": str(int(stuck or 0)),
                     f"Frist innen {SOON_DAYS} dager": str(int(soon or 0))})
    return rows
