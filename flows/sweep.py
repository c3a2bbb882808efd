"""The daily deadline sweep as a Prefect flow (deployment `deadline-sweep` in prefect.yaml).

Thin: every step is a service call, each its own transaction and safe to repeat, so a rerun
the same day — or after a crash — sends nothing twice.

The business date is not a parameter: anyone who can start a deployment run could otherwise
pick a date years ahead and close running agreements for good. The sweep runs on today's
date in Norway unless the installation running it simulates a date through its own settings
(AVTALEFLYT_TODAY in the worker's environment, or `--today`, which the CLI installs before it
runs the flow in its own process). A run started with a `today` parameter is refused by
Prefect's parameter check before the flow body runs.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from avtaleflyt import runtime
from avtaleflyt.services import sweep as sweep_service
from avtaleflyt.notifications.channels import TargetBook


@flow(name="deadline-sweep", log_prints=False)
def deadline_sweep(dry_run: bool = False) -> dict[str, Any]:
    """Advance dated gates, keep deadlines on the meeting plan, generate duties, write the
    reminders owed today to the outbox and send one digest per recipient through Apprise."""
    logger = get_run_logger()
    settings = runtime.settings()
    ctx = runtime.ctx(None, "deadline-sweep")
    if settings.today is not None:
        logger.warning("Simulert dato %s fra installasjonens innstillinger (AVTALEFLYT_TODAY "
                       "eller --today), ikke dagens dato.", ctx.today.isoformat())
    else:
        logger.info("Fristsveip for %s (dagens dato i Norge).", ctx.today.isoformat())
    targets = TargetBook.from_settings(runtime.settings())
    if dry_run:
        with sweep_service.dry_run_session(runtime.settings().effective_database_url) as s:
            result = sweep_service.run_sweep(session=s, ctx=ctx, targets=targets, dry_run=True,
                                             progress=logger.info)
    else:
        with runtime.session() as s:
            result = sweep_service.run_sweep(session=s, ctx=ctx, targets=targets,
                                             progress=logger.info)
    _artifact(result)
    _case_artifact(ctx.today)
    return result.as_dict()


def _artifact(result: sweep_service.SweepResult) -> None:
    from prefect.artifacts import create_table_artifact

    from avtaleflyt.formatting import format_date

    rows = result.table() or [{"mottaker": "–", "status": "ingenting å sende", "punkter": 0,
                               "mål": "–", "feil": ""}]
    create_table_artifact(
        key="deadline-sweep",
        table=rows,
        description=(f"Fristsveip {format_date(date.fromisoformat(result.today))}"
                     f"{' (prøvekjøring)' if result.dry_run else ''}: "
                     f"{result.sent_count} sendt, {result.failed_count} feilet, "
                     f"{result.overdue_tasks} oppgaver på overtid, "
                     f"{result.reminders_new} nye påminnelser."),
    )


def _case_artifact(today: date) -> None:
    """Every case's stage and next deadline, readable in Prefect's UI after each sweep."""
    from prefect.artifacts import create_table_artifact

    from avtaleflyt.formatting import format_date
    from avtaleflyt.services.dashboard import sweep_artifact_rows

    with runtime.session() as s:
        rows = sweep_artifact_rows(s, today)
    create_table_artifact(
        key="sakstatus",
        table=rows or [{"Kommune": "–", "Fase": "ingen saker", "Status": "–",
                        "Neste frist": "–", "Forfalte oppgaver": "0"}],
        description=f"Sakene per {format_date(today)}: fase, status og neste frist.",
    )
