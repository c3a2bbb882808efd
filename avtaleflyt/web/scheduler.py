"""The scheduler `avtaleflyt serve` runs as a child process: it serves the deployments of
prefect.yaml, each on the schedule written there (prefect.yaml is the one place a schedule
is set), and runs their flow runs when they fall due.

`python -m avtaleflyt.web.scheduler` runs it; `deployment_names()` tells `serve` whether
there is anything to schedule without importing Prefect.

Names in prefect.yaml carry `{{ $AVTALEFLYT_INSTALLATION }}`, which `prefect deploy` fills
in from the environment; here it is the installation's setting (`installation.render`), so
`serve` registers exactly the names an operator's `prefect deploy` would. Work pools are
not used: these deployments run in this process (`serve --scheduler workers` leaves them
to the workers instead).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

from avtaleflyt.resources import prefect_yaml

PREFECT_YAML = prefect_yaml()


def _module_of(entrypoint: str) -> tuple[str, str]:
    """'flows/sweep.py:deadline_sweep' → ('avtaleflyt.flows.sweep', 'deadline_sweep').

    prefect.yaml names files as `prefect deploy` in a checkout wants them; installed, the
    same files are modules of the one package `avtaleflyt`."""
    path, _, attr = entrypoint.partition(":")
    module = Path(path).with_suffix("").as_posix().replace("/", ".")
    return (module if module.startswith("avtaleflyt.") or not module else
            f"avtaleflyt.{module}"), attr


def deployments(path: Path = PREFECT_YAML, installation: str | None = None
                ) -> list[dict[str, Any]]:
    """prefect.yaml's deployments whose flow module exists in this installation, with the
    installation's name filled in (the settings' when not given)."""
    from avtaleflyt.installation import render

    if not path.exists():
        return []
    if installation is None:
        from avtaleflyt import runtime

        installation = runtime.settings().installation
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for d in data.get("deployments") or []:
        module, _ = _module_of(d.get("entrypoint", ""))
        if module and importlib.util.find_spec(module) is not None:
            out.append(render(d, installation))
    return out


def deployment_names(path: Path = PREFECT_YAML, installation: str | None = None) -> list[str]:
    return [d["name"] for d in deployments(path, installation)]


def runner_deployments(path: Path = PREFECT_YAML) -> list:
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.deployments.runner import EntrypointType

    out = []
    for d in deployments(path):
        module, attr = _module_of(d["entrypoint"])
        flow = getattr(importlib.import_module(module), attr)
        # Prefect's own reading of a `schedules:` entry, as `prefect deploy` does it.
        schedules = [_schedule_config_to_deployment_schedule(s) for s in d.get("schedules") or []]
        out.append(flow.to_deployment(
            name=d["name"], schedules=schedules, parameters=d.get("parameters") or {},
            description=d.get("description"), tags=d.get("tags") or [],
            concurrency_limit=d.get("concurrency_limit"),
            entrypoint_type=EntrypointType.MODULE_PATH))
    return out


def main() -> None:
    from prefect import serve

    from avtaleflyt import runtime
    from avtaleflyt.runtime import quiet_prefect_env

    runtime.settings()  # an entry point: refuse malformed or unknown AVTALEFLYT_* now
    quiet_prefect_env()
    # Schedules stay active when the scheduler stops: the next `serve` picks them up, and
    # nobody has to find a paused schedule in the UI.
    serve(*runner_deployments(), pause_on_shutdown=False, print_starting_message=False)


if __name__ == "__main__":
    main()
