"""Retention of Prefect's own records (deployment `prefect-retention` in prefect.yaml).

Flow runs keep their parameters, logs and artifacts in Prefect's database for as long as
nobody deletes them. This flow deletes every flow run that started (or, never started, was
due) more than `[prefect] retention_days` days ago, together with its artifacts; the Prefect
server deletes a deleted run's logs and task runs itself. Runs still in progress are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger

from avtaleflyt import runtime

BATCH = 200
# States a run may still leave: never deleted, however old.
_ACTIVE = ("RUNNING", "PENDING", "CANCELLING", "PAUSED")


def retention_days() -> int:
    from avtaleflyt.config import cached_config
    from avtaleflyt.services.context import config_path

    path = config_path(runtime.settings())
    return cached_config(str(path) if path else None).prefect_retention_days


def purge_old_runs(client, cutoff: datetime, keep: set | None = None) -> int:
    """Delete the flow runs (with their artifacts) that started — or, never started, were
    due — before `cutoff`, except those still in progress and those in `keep`."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterId,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    active = FlowRunFilterState(type=FlowRunFilterStateType(
        not_any_=[StateType[s] for s in _ACTIVE]))
    keep = set(keep or ())
    filters = [
        FlowRunFilter(start_time=FlowRunFilterStartTime(before_=cutoff), state=active),
        FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=True),
                      expected_start_time=FlowRunFilterExpectedStartTime(before_=cutoff),
                      state=active),
    ]
    deleted = 0
    for base in filters:
        while True:
            f = base.model_copy(update={"id": FlowRunFilterId(not_any_=list(keep))}) \
                if keep else base
            runs = client.read_flow_runs(flow_run_filter=f, limit=BATCH)
            if not runs:
                break
            ids = [r.id for r in runs]
            for artifact in client.read_artifacts(artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=ids))):
                client.delete_artifact(artifact.id)
            for run_id in ids:
                if _delete(client, run_id):
                    deleted += 1
                else:
                    keep.add(run_id)
            if len(runs) < BATCH:
                break
    return deleted


def _delete(client, run_id, attempts: int = 4) -> bool:
    """Delete one run; True if it was deleted here. Gone already (a parent run took it) is
    not an error. A busy server (SQLite's lock, a 503) is tried again after a short pause:
    commands run with Prefect's client retries off, so this flow retries for itself."""
    import time

    from prefect.exceptions import ObjectNotFound

    for attempt in range(attempts):
        try:
            client.delete_flow_run(run_id)
            return True
        except ObjectNotFound:
            return False
        except Exception:  # noqa: BLE001 - busy or dropped: try again, then leave it
            time.sleep(0.5 * (attempt + 1))
    return False


@flow(name="prefect-retention", log_prints=False)
def prefect_retention() -> dict[str, Any]:
    """Delete Prefect flow runs (and their logs and artifacts) older than the configured
    number of days (`[prefect] retention_days`)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    logger = get_run_logger()
    days = retention_days()
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with get_client(sync_client=True) as client:
        deleted = purge_old_runs(client, cutoff, keep={flow_run.id} if flow_run.id else None)
    logger.info("Slettet %d flytkjøringer eldre enn %d dager (før %s).", deleted, days,
                cutoff.date().isoformat())
    return {"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()}
