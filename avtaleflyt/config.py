"""The TOML configuration: documented defaults in `defaults.toml`, overridden by the user's file.

Loading is strict: an unknown key or a value of the wrong type is an error that names it,
because a silently ignored typo in a deadline is worse than a refusal to start.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from .documents.clauses import Clauses, parse_clauses
from .domain.agreement import MAX_YEARLY_PRICE
from .domain.attention import STUCK_AFTER_MOVES
from .domain.errors import InvalidInput
from .domain.stages import STAGE_RULES, TASK_TEMPLATES, Stage
from .resources import defaults_toml

DEFAULTS = defaults_toml()
# Tables whose keys the user chooses (one per year), so they are not checked against defaults.
_OPEN_TABLES = frozenset({"statistics.deadlines"})

# Tables that one installation has once, whatever county a case belongs to: a
# `[county."NR".<table>]` section would be accepted and silently never used, so it is refused.
_INSTALLATION_WIDE = {
    "dashboard": "innlogging og økter",
    "cli": "kommandolinjens regler",
    "privacy": "oppbevaringstiden for tilgangsloggen",
    "prefect": "oppbevaringstiden for Prefects kjøringer",
}

@dataclass(frozen=True)
class AgreementDefaults:
    yearly_price: int = 120_000
    position_share: Decimal = Decimal(20)
    site_visits_per_year: int = 4
    renewal: str = "none"


@dataclass(frozen=True)
class ReminderRules:
    upcoming_working_days: tuple[int, ...] = (7, 1)
    escalate_after_working_days: int = 5
    renewal_days_before: tuple[int, ...] = (90, 30, 7)
    max_attempts: int = 6
    claim_lease_minutes: int = 15
    horizon_months: int = 12
    plan_and_budget_due: tuple[int, int] = (10, 1)
    statistics_default: tuple[int, int] = (3, 1)
    statistics_deadlines: dict[int, date] = field(default_factory=dict)
    coordinator_label: str = "koordinator"
    leader_label: str = "leder"
    local_report_day: int = 5
    statistics_input_days_before: int = 14
    evaluation_months_before_notice: int = 1


@dataclass(frozen=True)
class DashboardRules:
    """Sessions and the login throttle of the dashboard (installation-wide, `[dashboard]`)."""

    session_idle_minutes: int = 60
    session_max_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # The calendar feed's window: deadlines this many days back and ahead of today.
    feed_days_back: int = 30
    feed_days_ahead: int = 400


@dataclass(frozen=True)
class Config:
    closed_days: tuple[tuple[int, int], ...] = ((12, 24),)
    agreement: AgreementDefaults = field(default_factory=AgreementDefaults)
    task_due: dict[str, int] = field(default_factory=dict)  # [tasks.due]: over the table
    stage_norm_days: dict[str, int] = field(default_factory=dict)  # [stages.norm_days]
    stuck_after_moves: int = STUCK_AFTER_MOVES  # [stages]: deadline moves that make a case stuck
    reminders: ReminderRules = field(default_factory=ReminderRules)
    access_log_days: int = 365  # [privacy]
    allow_by: bool = False  # [cli]
    prefect_retention_days: int = 30
    dashboard: DashboardRules = field(default_factory=DashboardRules)
    saksgang: tuple[str, ...] = ("formannskap", "kommunestyre")  # [political]
    split: tuple[tuple[str, str], ...] = ()  # [split] rows: (task, "county"|"municipality")
    documents: Clauses = field(default_factory=Clauses)  # [documents]: agreement wording
    raw: dict[str, Any] = field(default_factory=dict)  # sections other modules read
    # `[county."55"]` sections, each merged over the top level and validated like it.
    counties: dict[str, Config] = field(default_factory=dict, repr=False)

    def due_amount(self, key: str) -> int:
        """The due amount of the checklist item `key`: configured, else the stage table's."""
        return self.task_due.get(key, TASK_TEMPLATES[key].due_amount)

    def norm_days(self, stage: Stage) -> int | None:
        """How many days a case is expected to stay in `stage`: configured, else the stage
        table's (None: no norm)."""
        return self.stage_norm_days.get(stage.value, STAGE_RULES[stage].norm_days)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.raw.get(name, {}))

    def for_county(self, code: str | None) -> Config:
        """The configuration for the county with this fylkesnummer: its `[county."NR"]`
        section over the top level, or the top level when it has none."""
        if code is None:
            return self
        return self.counties.get(str(code), self)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _unknown(over: dict[str, Any], base: dict[str, Any], prefix: str, where: Path) -> None:
    for k, v in over.items():
        name = f"{prefix}{k}"
        if k not in base:
            raise InvalidInput(f"Ukjent innstilling «{name}» i {where}.", field=name)
        if isinstance(base[k], dict):
            if not isinstance(v, dict):
                raise InvalidInput(f"«{name}» i {where} må være en tabell.", field=name)
            if name not in _OPEN_TABLES:
                _unknown(v, base[k], f"{name}.", where)


def _int(raw: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not lo <= raw <= hi:
        raise InvalidInput(f"«{name}» må være et heltall mellom {lo} og {hi}, ikke {raw!r}.",
                           field=name)
    return raw


def _bool(raw: Any, name: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidInput(f"«{name}» må være true eller false, ikke {raw!r}.", field=name)
    return raw


def _month_day(raw: Any, name: str) -> tuple[int, int]:
    try:
        m, d = (int(x) for x in str(raw).split("-"))
        from datetime import date

        date(2024, m, d)  # a leap year, so 02-29 is allowed
        return m, d
    except (ValueError, TypeError):
        raise InvalidInput(f"«{name}»: «{raw}» er ikke en dato på formen MM-DD.",
                           field=name) from None


_COUNTY_CODE = re.compile(r"^\d{2}$")


def _county_sections(over: dict[str, Any], where: Path) -> dict[str, dict[str, Any]]:
    """Take the `[county."NR"]` tables out of the user's file; the number must be a county
    of Norway (known without a database: the reference list shipped with the package)."""
    from .reference_data import counties

    sections = over.pop("county", {})
    if not isinstance(sections, dict):
        raise InvalidInput(f"«county» i {where} må være en tabell med fylkesnummer som nøkler, "
                           'for eksempel [county."55"].', field="county")
    known = {c.code for c in counties()}
    for code, section in sections.items():
        name = f"county.{code}"
        if not _COUNTY_CODE.match(code):
            raise InvalidInput(f"«{name}» i {where}: fylkesnummer er to siffer, for eksempel "
                               '[county."55"] for Troms.', field=name)
        if code not in known:
            raise InvalidInput(f"«{name}» i {where}: det finnes ikke noe fylke {code} "
                               f"(kjente: {', '.join(sorted(known))}).", field=name)
        if not isinstance(section, dict):
            raise InvalidInput(f"«{name}» i {where} må være en tabell.", field=name)
        for table, what in _INSTALLATION_WIDE.items():
            if table in section:
                raise InvalidInput(f"«{name}.{table}» i {where}: {what} gjelder hele "
                                   f"installasjonen; sett det under [{table}].",
                                   field=f"{name}.{table}")
    return sections


def load_config(path: Path | None) -> Config:
    base = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    data = base
    sections: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            over = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"Fant ikke konfigurasjonsfilen {path}.", field="config") from None
        except tomllib.TOMLDecodeError as e:
            raise InvalidInput(f"Konfigurasjonsfilen {path} er ikke gyldig TOML: {e}",
                               field="config") from None
        sections = _county_sections(over, path)
        _unknown(over, base, "", path)
        for code, section in sections.items():
            _unknown(section, base, f"county.{code}.", path)
        data = _merge(base, over)
    top = _build(data)
    counties: dict[str, Config] = {}
    for code, section in sections.items():
        try:
            counties[code] = _build(_merge(data, section))
        except InvalidInput as e:
            name = f"county.{code}.{e.field}" if e.field else f"county.{code}"
            raise InvalidInput(f"{e.message} (i [county.\"{code}\"])", field=name) from None
    return replace(top, counties=counties)


def _build(data: dict[str, Any]) -> Config:
    cal = data["calendar"]
    agr = data["agreement"]
    due = data["tasks"]["due"]
    share = agr["position_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 100:
        raise InvalidInput("«agreement.position_share» må være en prosent over 0 og høyst 100.",
                           field="agreement.position_share")
    unknown_tasks = set(due) - set(TASK_TEMPLATES)
    if unknown_tasks:
        name = sorted(unknown_tasks)[0]
        raise InvalidInput(f"Ukjent oppgave «tasks.due.{name}» i konfigurasjonen.",
                           field=f"tasks.due.{name}")
    norms = data["stages"]["norm_days"]
    unknown_stages = set(norms) - {s.value for s in STAGE_RULES}
    if unknown_stages:
        name = sorted(unknown_stages)[0]
        raise InvalidInput(f"Ukjent fase «stages.norm_days.{name}» i konfigurasjonen.",
                           field=f"stages.norm_days.{name}")
    return Config(
        closed_days=tuple(_month_day(x, "calendar.closed_days") for x in cal["closed_days"]),
        agreement=AgreementDefaults(
            yearly_price=_int(agr["yearly_price"], "agreement.yearly_price", 0, MAX_YEARLY_PRICE),
            position_share=Decimal(str(share)),
            site_visits_per_year=_int(agr["site_visits_per_year"],
                                      "agreement.site_visits_per_year", 0, 52),
            renewal=_renewal(agr["renewal"]),
        ),
        saksgang=check_saksgang(data["political"]["saksgang"], "political.saksgang"),
        split=_split_rows(data["split"]["rows"]),
        task_due={k: _int(v, f"tasks.due.{k}", 0, 730) for k, v in due.items()},
        stage_norm_days={k: _int(v, f"stages.norm_days.{k}", 1, 3650)
                         for k, v in norms.items()},
        stuck_after_moves=_int(data["stages"]["stuck_after_moves"],
                               "stages.stuck_after_moves", 1, 100),
        reminders=_reminder_rules(data),
        access_log_days=_int(data["privacy"]["access_log_days"], "privacy.access_log_days",
                             1, 36500),
        allow_by=_bool(data["cli"]["allow_by"], "cli.allow_by"),
        prefect_retention_days=_int(data["prefect"]["retention_days"],
                                    "prefect.retention_days", 1, 3650),
        dashboard=_dashboard_rules(data),
        documents=parse_clauses(data["documents"]),
        raw=data,
    )


def _int_list(raw: Any, name: str, lo: int, hi: int) -> tuple[int, ...]:
    if not isinstance(raw, list):
        raise InvalidInput(f"«{name}» må være en liste med heltall, ikke {raw!r}.", field=name)
    return tuple(sorted({_int(x, name, lo, hi) for x in raw}, reverse=True))


def _label(raw: Any, name: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 60:
        raise InvalidInput(f"«{name}» må være en tekst på 1–60 tegn.", field=name)
    return raw.strip()


def _reminder_rules(data: dict[str, Any]) -> ReminderRules:
    rem, duties, stats, notify = (data["reminders"], data["duties"], data["statistics"],
                                  data["notify"])
    deadlines: dict[int, date] = {}
    for year, value in stats.get("deadlines", {}).items():
        name = f"statistics.deadlines.{year}"
        try:
            y = int(year)
            d = value if isinstance(value, date) else date.fromisoformat(str(value))
        except (TypeError, ValueError):
            raise InvalidInput(f"«{name}» må være en dato ÅÅÅÅ-MM-DD under et årstall, "
                               f"ikke {value!r}.", field=name) from None
        if d.year != y:
            raise InvalidInput(f"«{name}»: fristen {d.isoformat()} er ikke i {y}.", field=name)
        deadlines[y] = d
    return ReminderRules(
        upcoming_working_days=_int_list(rem["upcoming_working_days"],
                                        "reminders.upcoming_working_days", 1, 60),
        escalate_after_working_days=_int(rem["escalate_after_working_days"],
                                         "reminders.escalate_after_working_days", 1, 60),
        renewal_days_before=_int_list(rem["renewal_days_before"],
                                      "reminders.renewal_days_before", 1, 365),
        max_attempts=_int(rem["max_attempts"], "reminders.max_attempts", 1, 50),
        claim_lease_minutes=_int(rem["claim_lease_minutes"], "reminders.claim_lease_minutes",
                                 1, 1440),
        horizon_months=_int(duties["horizon_months"], "duties.horizon_months", 1, 60),
        plan_and_budget_due=_month_day(duties["plan_and_budget_due"],
                                       "duties.plan_and_budget_due"),
        statistics_default=_month_day(stats["default_deadline"], "statistics.default_deadline"),
        statistics_deadlines=deadlines,
        coordinator_label=_label(notify["coordinator_label"], "notify.coordinator_label"),
        leader_label=_label(notify["leader_label"], "notify.leader_label"),
        local_report_day=_int(duties["local_report_day"], "duties.local_report_day", 1, 28),
        statistics_input_days_before=_int(duties["statistics_input_days_before"],
                                          "duties.statistics_input_days_before", 0, 90),
        evaluation_months_before_notice=_int(duties["evaluation_months_before_notice"],
                                             "duties.evaluation_months_before_notice", 0, 12),
    )


def _renewal(raw: Any) -> str:
    if raw not in ("none", "auto"):
        raise InvalidInput(f"«agreement.renewal» må være \"none\" (fast periode) eller "
                           f"\"auto\" (fornyes automatisk), ikke {raw!r}.",
                           field="agreement.renewal")
    return raw


_SAKSGANG_BODIES = ("formannskap", "kommunestyre")


def check_saksgang(raw: Any, name: str) -> tuple[str, ...]:
    """A saksgang: bodies in order, each once, ending with the deciding kommunestyre."""
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[,\s]+", raw) if p]
    if (not isinstance(raw, list) or not raw
            or any(not isinstance(b, str) or b not in _SAKSGANG_BODIES for b in raw)
            or len(set(raw)) != len(raw) or raw[-1] != "kommunestyre"):
        raise InvalidInput(f"«{name}» må være organene saken behandles i, i rekkefølge, "
                           f"blant {', '.join(_SAKSGANG_BODIES)}, og slutte med "
                           f"kommunestyre (for eksempel formannskap,kommunestyre), ikke "
                           f"{raw!r}.", field=name)
    return tuple(raw)


def _split_rows(raw: Any) -> tuple[tuple[str, str], ...]:
    name = "split.rows"
    if not isinstance(raw, list):
        raise InvalidInput(f"«{name}» må være en liste med rader.", field=name)
    out = []
    for i, row in enumerate(raw, start=1):
        task = row.get("task") if isinstance(row, dict) else None
        who = row.get("responsible") if isinstance(row, dict) else None
        if (not isinstance(task, str) or not task.strip() or len(task) > 300
                or who not in ("county", "municipality") or set(row) - {"task", "responsible"}):
            raise InvalidInput(f"«{name}», rad {i}: må ha task (tekst, høyst 300 tegn) og "
                               f"responsible (\"county\" eller \"municipality\"), ikke "
                               f"{row!r}.", field=name)
        out.append((task.strip(), who))
    return tuple(out)


@lru_cache(maxsize=4)
def cached_config(path: str | None) -> Config:
    return load_config(Path(path) if path else None)


def _dashboard_rules(data: dict[str, Any]) -> DashboardRules:
    d = data["dashboard"]
    rules = DashboardRules(
        session_idle_minutes=_int(d["session_idle_minutes"], "dashboard.session_idle_minutes",
                                  1, 24 * 60),
        session_max_hours=_int(d["session_max_hours"], "dashboard.session_max_hours", 1, 24 * 7),
        login_max_failures=_int(d["login_max_failures"], "dashboard.login_max_failures", 1, 100),
        login_window_minutes=_int(d["login_window_minutes"], "dashboard.login_window_minutes",
                                  1, 24 * 60),
        feed_days_back=_int(d.get("feed_days_back", 30), "dashboard.feed_days_back", 0, 3650),
        feed_days_ahead=_int(d.get("feed_days_ahead", 400), "dashboard.feed_days_ahead",
                             1, 3650),
    )
    if rules.session_idle_minutes > rules.session_max_hours * 60:
        raise InvalidInput("«dashboard.session_idle_minutes» kan ikke være lengre enn "
                           "«dashboard.session_max_hours».", field="dashboard.session_idle_minutes")
    return rules
