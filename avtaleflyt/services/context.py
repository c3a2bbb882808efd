"""What every service call needs besides a session: the business date, who acts, the rules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

from avtaleflyt.config import Config, cached_config
from avtaleflyt.domain.calendar import WorkingCalendar
from avtaleflyt.settings import Settings


@dataclass(frozen=True)
class Ctx:
    today: date
    actor: str
    config: Config
    calendar: WorkingCalendar

    def for_county(self, code: str | None) -> Ctx:
        """This context with the county's configuration (its `[county."NR"]` section) and,
        if its closed days differ, its working calendar."""
        config = self.config.for_county(code)
        if config is self.config:
            return self
        calendar = (self.calendar if config.closed_days == self.config.closed_days
                    else _calendar(config.closed_days))
        return replace(self, config=config, calendar=calendar)


@lru_cache(maxsize=8)
def _calendar(closed_days: tuple[tuple[int, int], ...]) -> WorkingCalendar:
    return WorkingCalendar(closed_days=closed_days)


def config_path(settings: Settings) -> Path | None:
    if settings.config is not None:
        return settings.config
    candidate = settings.data_dir / "avtaleflyt.toml"
    return candidate if candidate.exists() else None


def make_ctx(*, today: date, actor: str, config_file: str | None = None) -> Ctx:
    config = cached_config(config_file)
    return Ctx(today=today, actor=actor, config=config, calendar=_calendar(config.closed_days))
