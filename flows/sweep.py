"""The daily deadline sweep as a Prefect flow (deployment `deadline-sweep-<installation>` in
prefect.yaml).

Thin: every step is a service call, each its own transaction and safe to repeat, so a rerun
the same day — or after a crash — sends nothing twice.

Per county. A run of the deployment without `county` (the schedule's) starts one run of the
same deployment per county that has cases, on the installation's work pool, and ends: the
counties' runs go to whichever workers are free, side by side, so a failing or slow county
holds no other back. A run for one county holds the global concurrency limit
`avtaleflyt-<installation>-sweep-<county>` (limit 1, made on first use), so two sweeps of
one county run one after the other. Run outside a deployment (`avtaleflyt sweep`, the demo)
the flow sweeps in its own process, as before.

Before anything else a run checks that it belongs to this installation (the deployment's
name carries AVTALEFLYT_INSTALLATION) and that its database is there, reachable and on this
version's schema (`installation.check_database`): a worker started without
AVTALEFLYT_DATABASE_URL fails at once with a message naming the setting, and never creates
an empty database.

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

from avtaleflyt import installation, runtime
from avtaleflyt.services import sweep as sweep_service
from avtaleflyt.notifications.channels import TargetBook

# How long a county's run waits for the county's previous sweep before it gives up.
COUNTY_WAIT_SECONDS = 3600
# The slot's lease, renewed while the sweep runs: a run whose worker was killed frees its
# county within about a minute (Prefect's minimum), not the default five.
COUNTY_LEASE_SECONDS = 60


class SweepRefused(RuntimeError):
    """The run cannot work here (wrong installation, database not ready): a Norwegian
    message naming the setting. It fails the flow run; nothing was written."""


def _county_name(code: str | None) -> str:
    from avtaleflyt.reference_data import counties

    if code is None:
        return "alle fylker"
    row = next((c for c in counties() if c.code == code), None)
    return f"{code} {row.name.removesuffix(' fylkeskommune')}" if row else code


def _run_name() -> str:
    """`deadline-sweep 18 Nordland`, `deadline-sweep alle fylker`: readable in Prefect's UI."""
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    name = f"deadline-sweep {_county_name(params.get('county'))}"
    return name + (" (prøvekjøring)" if params.get("dry_run") else "")


def _check_county(county: str | None) -> None:
    from avtaleflyt.reference_data import counties

    if county is not None and county not in {c.code for c in counties()}:
        raise SweepRefused(f"Parameteren county: «{county}» er ikke et fylkesnummer. "
                           "Gyldige: " + ", ".join(c.code for c in counties()) + ".")


def _check_installation(settings) -> str | None:
    """The deployment this run belongs to, after checking it is this installation's."""
    from prefect.runtime import deployment

    name = deployment.name
    expected = f"{installation.SWEEP}-{settings.installation}"
    if name is not None and name != expected:
        raise SweepRefused(
            f"Denne arbeideren tilhører installasjonen «{settings.installation}» "
            f"(AVTALEFLYT_INSTALLATION), men kjøringen er fra utrullingen «{name}». Sett "
            "AVTALEFLYT_INSTALLATION riktig, eller start arbeideren på riktig arbeidspool.")
    return name


@flow(name="deadline-sweep", flow_run_name=_run_name, log_prints=False)
def deadline_sweep(county: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Advance dated gates, keep deadlines on the meeting plan, generate duties, write the
    reminders owed today to the outbox and send one digest per recipient through Apprise.
    `county`: one county's run (a fylkesnummer); none: every county's (see the module)."""
    logger = get_run_logger()
    settings = runtime.settings()
    try:
        _check_county(county)
        deployment = _check_installation(settings)
        installation.check_database(settings)
    except (SweepRefused, installation.NotReady) as e:
        logger.error(str(e))
        raise SweepRefused(str(e)) from None
    if county is None and deployment is not None and not dry_run:
        return _start_county_runs(settings, logger)
    if county is not None and deployment is not None:
        from prefect.concurrency.sync import concurrency

        limit = _ensure_county_limit(settings.installation, county)
        logger.info("Venter på fylkets tur (%s) …", limit)
        with concurrency(limit, occupy=1, timeout_seconds=COUNTY_WAIT_SECONDS, strict=True,
                         lease_duration=COUNTY_LEASE_SECONDS):
            return _sweep(settings, county, dry_run, logger)
    return _sweep(settings, county, dry_run, logger)


def _sweep(settings, county: str | None, dry_run: bool, logger) -> dict[str, Any]:
    ctx = runtime.ctx(None, "deadline-sweep")
    logger.info("Fristsveip for %s, %s.", _county_name(county), ctx.today.isoformat())
    if settings.today is not None:
        logger.warning("Simulert dato %s fra installasjonens innstillinger (AVTALEFLYT_TODAY "
                       "eller --today), ikke dagens dato.", ctx.today.isoformat())
    from avtaleflyt.services.scope import scope_for_code

    targets = TargetBook.from_settings(settings)
    # A county's run touches only that county's cases, digests and messages, so a slow or
    # failing county never holds another back and two counties never write the same rows.
    if dry_run:
        with sweep_service.dry_run_session(settings.effective_database_url) as s:
            result = sweep_service.run_sweep(session=s, ctx=ctx, targets=targets, dry_run=True,
                                             progress=logger.info,
                                             scope=scope_for_code(s, county))
    else:
        with runtime.session() as s:
            result = sweep_service.run_sweep(session=s, ctx=ctx, targets=targets,
                                             progress=logger.info,
                                             scope=scope_for_code(s, county))
    logger.info("Ferdig: %s sendt, %s ikke levert.", result.sent_count, result.failed_count)
    _artifact(result)
    _case_artifact(ctx.today, county)
    return result.as_dict() | ({"county": county} if county else {})


def _counties_with_cases() -> list[str]:
    from sqlmodel import col, select

    from avtaleflyt.models import County, Municipality, OnboardingCase

    with runtime.session() as s:
        return sorted(s.exec(
            select(County.code).distinct()
            .join(Municipality, col(Municipality.county_id) == County.id)
            .join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)
        ).all())


def _start_county_runs(settings, logger) -> dict[str, Any]:
    """One run of this deployment per county with cases, on the pool; this run ends."""
    from prefect.deployments import run_deployment

    name = installation.sweep_deployment(settings.installation)
    started = []
    for code in _counties_with_cases():
        run = run_deployment(name, parameters={"county": code}, timeout=0,
                             tags=[f"fylke:{code}"], as_subflow=True)
        logger.info("Startet fristsveip for %s: flow-kjøring %s", _county_name(code), run.id)
        started.append({"county": code, "flow_run_id": str(run.id)})
    if not started:
        logger.info("Ingen saker i noe fylke: ingenting å sveipe.")
    return {"counties": started}


def _ensure_county_limit(installation_name: str, county: str) -> str:
    """The county's global concurrency limit (limit 1), made if missing. Prefect 3 no longer
    makes limits on first use; two runs making it at once: the second finds it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = installation.county_limit(installation_name, county)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass
    return name


def _artifact(result: sweep_service.SweepResult) -> None:
    from prefect.artifacts import create_table_artifact

    from avtaleflyt.formatting import format_count, format_date

    rows = result.table() or [{"mottaker": "–", "status": "ingenting å sende", "punkter": 0,
                               "mål": "–", "feil": ""}]
    create_table_artifact(
        key="deadline-sweep",
        table=rows,
        description=(f"Fristsveip {format_date(date.fromisoformat(result.today))}"
                     f"{' (prøvekjøring)' if result.dry_run else ''}: "
                     f"{result.sent_count} sendt, {result.failed_count} ikke levert, "
                     f"{format_count(result.overdue_tasks, 'oppgave', 'oppgaver')} på "
                     "overtid, "
                     f"{format_count(result.reminders_new, 'ny påminnelse', 'nye påminnelser')}."),
    )


def _case_artifact(today: date, county: str | None = None) -> None:
    """The cases per stage (the county's, in a county's run), readable in Prefect's UI after
    each sweep: a summary, never a row per case."""
    from prefect.artifacts import create_table_artifact

    from avtaleflyt.formatting import format_date
    from avtaleflyt.services.dashboard import sweep_artifact_rows
    from avtaleflyt.services.scope import scope_for_code

    with runtime.session() as s:
        rows = sweep_artifact_rows(s, today, scope_for_code(s, county))
    create_table_artifact(
        key="sakstatus",
        table=rows,
        description=f"Sakene per {format_date(today)}: antall per fase, hvor mange med "
                    "forfalte oppgaver, hvor mange som står fast og hvor mange med frist "
                    "innen en uke.",
    )
