"""Prefect flows. Importing this package sets Prefect's quiet defaults first (see
`avtaleflyt.runtime.quiet_prefect_env`); an environment variable set by the user still wins."""

from avtaleflyt.runtime import quiet_prefect_env

quiet_prefect_env()
