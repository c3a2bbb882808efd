"""`avtaleflyt serve`: a local Prefect server, the scheduler for prefect.yaml's deployments,
and the dashboard — one command for a single office.

Scaled out (docs/operations.md) the operator chooses explicitly:
- `--scheduler local` (the default): this process serves prefect.yaml's deployments itself.
  It refuses to take over a deployment an operator registered for workers (`prefect
  deploy`), which would replace its entrypoint, pull steps and schedule and make workers
  and every `serve` race for the same runs.
- `--scheduler workers`: registers nothing and runs no scheduler; the installation's
  workers take the runs from its work pool.
- `--dashboard-only`: no Prefect server and no scheduler: one stateless web node against
  PREFECT_API_URL (with PREFECT_API_AUTH_STRING) and the shared database.

The Prefect server and the scheduler run as child processes in their own process group;
the dashboard runs here under uvicorn. Ctrl-C or SIGTERM stops uvicorn, then the scheduler
(it does not pause its schedules on the way out), then the server. Nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from avtaleflyt import filemodes

from .output import console, fail, user_errors

STOP_TIMEOUT = 20.0
HEALTH_TIMEOUT = 120.0


def serve(
    port: Annotated[int, typer.Option("--port", help="Porten nettsiden lytter på.")] = 8080,
    host: Annotated[str, typer.Option(
        "--host", help="Adressen nettsiden lytter på. Standard: bare denne maskinen.")
    ] = "127.0.0.1",
    prefect_port: Annotated[int, typer.Option(
        "--prefect-port", help="Porten den lokale Prefect-serveren lytter på.")] = 4200,
    scheduler: Annotated[str, typer.Option(
        "--scheduler", metavar="local|workers",
        help="local: denne prosessen kjører utrullingene i prefect.yaml etter timeplanen "
             "(én maskin). workers: registrerer ingenting; arbeiderne henter kjøringene fra "
             "arbeidspoolen (se docs/operations.md).")] = "local",
    dashboard_only: Annotated[bool, typer.Option(
        "--dashboard-only",
        help="Bare nettsiden: ingen Prefect-server og ingen planlegger. Bruker "
             "PREFECT_API_URL og den felles databasen (én av flere nettnoder).")] = False,
) -> None:
    """Start nettsiden, planleggeren og en lokal Prefect-server (stopp med Ctrl-C)."""
    from avtaleflyt import db, runtime

    if scheduler not in ("local", "workers"):
        raise fail(f"«--scheduler»: «{scheduler}» er ikke et valg. Velg local eller workers.",
                   2)
    if dashboard_only and not os.environ.get("PREFECT_API_URL"):
        raise fail("«--dashboard-only» trenger PREFECT_API_URL (og PREFECT_API_AUTH_STRING) "
                   "for Prefect-serveren nodene deler; den startes ikke her.", 2)
    with user_errors():
        s = runtime.settings()
        url = s.effective_database_url
        if db.current_revision(url) != db.head_revision():
            raise fail("Databasen er ikke klargjort eller er utdatert. Kjør «avtaleflyt init».")
        from avtaleflyt.services.users import list_users

        with runtime.session() as session:
            if not list_users(session=session):
                console.print("[yellow]Ingen brukere ennå.[/] Opprett en med "
                              "«avtaleflyt user add BRUKERNAVN» for å kunne logge inn.")
    try:
        Supervisor(s.data_dir, host, port, prefect_port, s.as_environment(),
                   scheduler="none" if dashboard_only else scheduler,
                   installation=s.installation).run()
    except (Stopped, KeyboardInterrupt):
        pass  # stopped as asked; everything is already shut down


class Supervisor:
    def __init__(self, data_dir: Path, host: str, port: int, prefect_port: int,
                 settings_env: dict[str, str] | None = None, scheduler: str = "local",
                 installation: str = "avtaleflyt") -> None:
        self.data_dir = data_dir
        # "local": serve prefect.yaml's deployments here; "workers": a Prefect server but
        # no scheduler; "none" (--dashboard-only): neither, PREFECT_API_URL is given.
        self.scheduler, self.installation = scheduler, installation
        # The children (the scheduler's flow runs) build their settings from their
        # environment: give them this command's, including what --db/--today/--by chose.
        self.settings_env = settings_env or {}
        self.host, self.port, self.prefect_port = host, port, prefect_port
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.server = None

    def _env(self) -> dict[str, str]:
        # Prefect's database and logs hold flow runs and their logs: private, like the
        # application database (a folder or files made by an older version are tightened).
        prefect_home = filemodes.private_dir(self.data_dir / "prefect")
        for existing in prefect_home.iterdir():
            if existing.is_file():
                os.chmod(existing, filemodes.FILE_MODE)
        env = dict(os.environ) | self.settings_env
        env.setdefault("PREFECT_HOME", str(prefect_home))
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        return env

    def _start(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        filemodes.private_file(log)
        out = log.open("ab")
        # A session of their own: the terminal's Ctrl-C reaches only us, and we stop the
        # children in order; killpg then also reaches anything they started. umask 077:
        # what they create (Prefect's SQLite database and its -wal/-shm) is 0600.
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                umask=0o077)
        out.close()
        self.children.append((name, proc))

    def run(self) -> None:
        from avtaleflyt import prefect_auth
        from avtaleflyt.runtime import quiet_prefect_env

        env = self._env()
        logs = Path(env["PREFECT_HOME"])
        # Refuse a busy port before anything starts, not after Prefect is already up.
        _require_free(self.host, self.port, "--port")
        if not os.environ.get("PREFECT_API_URL") and self.scheduler != "none":
            _require_free("127.0.0.1", self.prefect_port, "--prefect-port")
        try:
            credential_file = None
            if os.environ.get("PREFECT_API_URL"):
                # An external server: used as it is. Its credential, if it has one, is the
                # operator's PREFECT_API_AUTH_STRING, which the children inherit.
                api = os.environ["PREFECT_API_URL"].rstrip("/")
            else:
                api = f"http://127.0.0.1:{self.prefect_port}/api"
                origin = api.removesuffix("/api")
                credential = prefect_auth.server_credential(self.data_dir)
                credential_file = prefect_auth.credential_path(self.data_dir)
                # The UI in the browser must call this server, not the default port 4200.
                env["PREFECT_UI_API_URL"] = env["PREFECT_API_URL"] = api
                # Clients authenticate with the credential; an API key would take precedence
                # over it in Prefect's client and fail against a self-hosted server.
                env[prefect_auth.CLIENT_ENV] = credential
                env.pop("PREFECT_API_KEY", None)
                # Only the server process gets the server's side of it, through its
                # environment (never its command line). Cross-origin calls: none but the
                # server's own UI.
                server_env = env | {
                    prefect_auth.SERVER_ENV: credential,
                    "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": origin,
                    "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": origin,
                }
                self._start("prefect-server", [
                    sys.executable, "-m", "prefect", "server", "start",
                    "--host", "127.0.0.1", "--port", str(self.prefect_port)],
                    server_env, logs / "server.log")
                console.print(f"Starter Prefect-serveren (logg: {logs / 'server.log'}) …")
                self._wait_healthy(api)
                prefect_auth.record_server(self.data_dir, api)
                self._recorded = True
            # The dashboard's flow runs happen in this process: they need the same.
            os.environ.update({k: env[k] for k in ("PREFECT_API_URL", "PREFECT_HOME",
                                                   prefect_auth.CLIENT_ENV) if k in env})
            if credential_file is not None:
                os.environ.pop("PREFECT_API_KEY", None)
            quiet_prefect_env()
            from avtaleflyt.web import scheduler

            names = (scheduler.deployment_names(installation=self.installation)
                     if self.scheduler == "local" else [])
            if names:
                _refuse_worker_deployments(api, names, env.get(prefect_auth.CLIENT_ENV))
                # Flow-run logs at INFO reach Prefect (the console stays quiet): a sweep
                # run by this scheduler leaves its log lines, as a worker's run does.
                scheduler_env = env | {
                    "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "INFO")}
                self._start("scheduler", [sys.executable, "-m", "avtaleflyt.web.scheduler"],
                            scheduler_env, logs / "scheduler.log")
            elif self.scheduler == "workers":
                console.print("Planlegger: arbeiderne på arbeidspoolen "
                              f"avtaleflyt-{self.installation} (--scheduler workers).",
                              highlight=False)
            self._serve_dashboard(api, names, credential_file)
        finally:
            self._forget_cli()
            self.stop()
            if getattr(self, "_recorded", False):
                prefect_auth.forget_server(self.data_dir)

    def _wait_healthy(self, api: str) -> None:
        import httpx

        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            for name, proc in self.children:
                if proc.poll() is not None:
                    raise fail(f"{name} stoppet under oppstart (kode {proc.returncode}); "
                               "se loggen.")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise fail(f"Prefect-serveren svarte ikke innen {HEALTH_TIMEOUT:.0f} sekunder.")

    def _serve_dashboard(self, api: str, deployments: list[str],
                         credential_file: Path | None = None) -> None:
        import uvicorn

        from avtaleflyt.web.app import create_app

        from avtaleflyt import runtime

        # A client's address (login throttling, the session list, the log) comes from the
        # connection, never from X-Forwarded-For, unless the operator names the reverse
        # proxy that sets it (AVTALEFLYT_TRUSTED_PROXIES). uvicorn's default trusts the
        # header from 127.0.0.1 — every local user — which would let anyone on the machine
        # pick the address the throttle counts.
        proxies = runtime.settings().trusted_proxies
        config = uvicorn.Config(create_app(), host=self.host, port=self.port,
                                log_level="warning", access_log=False,
                                proxy_headers=bool(proxies),
                                forwarded_allow_ips=proxies or "")
        self.server = uvicorn.Server(config)
        ui = api.removesuffix("/api")
        console.print(f"Nettsiden:     [bold]http://{self.host}:{self.port}/[/]", highlight=False)
        console.print(f"Prefect-UI:    [bold]{ui}/[/]", highlight=False)
        if credential_file is not None:
            # Where the credential is, never the credential itself.
            console.print(f"               Logg inn med hele innholdet i {credential_file}",
                          highlight=False)
        if deployments:
            console.print("Planlagte kjøringer: " + ", ".join(deployments), highlight=False)
        if self.scheduler != "none":  # not for one web node of several (--dashboard-only)
            self._announce_to_cli()
        console.print("Stopp med Ctrl-C.")
        threading.Thread(target=self._watch_children, daemon=True).start()
        # uvicorn handles SIGINT/SIGTERM itself, then restores these handlers and raises
        # the signal again once it has shut down: this turns that into a normal exit, so
        # `stop()` always runs (the default SIGTERM action would kill us before it).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stopped)
        self.server.run()

    def _announce_to_cli(self) -> None:
        """Serve discovery (avtaleflyt/client.py): write this server's address and a fresh
        local token into the data directory (0600), so the CLI on this machine sends its
        commands here instead of starting Prefect itself. Removed again when serve stops."""
        from avtaleflyt import client, runtime
        from avtaleflyt.services import local_token

        s = runtime.settings()
        username = s.user
        with runtime.session() as session:
            issued = local_token.issue(session=session, username=username)
        if issued is None:
            console.print(f"Kommandolinjen kjører lokalt: brukeren «{username}» kan ikke få "
                          "et lokalt token (deaktivert eller ugyldig navn).", highlight=False)
            return
        token, created = issued
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        client.write_private_json(client.serve_path(self.data_dir), {
            "url": f"http://{host}:{self.port}", "token": token, "pid": os.getpid(),
            "settings": client.serve_fingerprint({
                "DATABASE_URL": s.database_url, "TODAY": s.today and s.today.isoformat(),
                "CONFIG": s.config and str(s.config), "USER": s.user})})
        self._cli_user = username
        if created:
            console.print(f"Opprettet brukeren «{username}» for kommandolinjen (alle fylker; "
                          "kan ikke logge inn på nettsiden før den får et passord med "
                          f"«avtaleflyt user password {username}»).", highlight=False)
        console.print("Kommandolinjen på denne maskinen bruker nå denne serveren.")

    def _forget_cli(self) -> None:
        username = getattr(self, "_cli_user", None)
        if username is None:
            return
        from avtaleflyt import client, runtime
        from avtaleflyt.services import local_token

        try:
            client.serve_path(self.data_dir).unlink(missing_ok=True)
            with runtime.session() as session:
                local_token.revoke(session=session, username=username)
        except Exception as e:  # stopping must go on; the next start rotates the token
            console.print(f"[yellow]Kunne ikke trekke tilbake det lokale tokenet: "
                          f"{type(e).__name__}[/]")

    def _watch_children(self) -> None:
        """If the server or the scheduler dies, stop the dashboard too, rather than serve
        forms whose flows cannot run."""
        while self.server is not None and not self.server.should_exit:
            for name, proc in self.children:
                if proc.poll() is not None:
                    console.print(f"[red]{name} stoppet uventet (kode {proc.returncode}).[/]")
                    self.server.should_exit = True
                    return
            time.sleep(1)

    def stop(self) -> None:
        """Scheduler first (so it stops taking runs), then the server; TERM, then KILL."""
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            _signal_group(proc, signal.SIGKILL)  # anything the child left behind
        if self.children:
            console.print("Alt er stoppet.")
        self.children.clear()


class Stopped(Exception):
    """Ctrl-C or SIGTERM: the user asked us to stop."""


def _stopped(signum, frame) -> None:
    raise Stopped()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _refuse_worker_deployments(api: str, names: list[str], credential: str | None) -> None:
    """`--scheduler local` serves deployments under these names; if the operator registered
    one of them for workers (`prefect deploy`: it has a work pool), serving it would replace
    its entrypoint, pull steps and schedule. Refuse instead, before anything is registered."""
    import httpx

    auth = tuple(credential.split(":", 1)) if credential and ":" in credential else None
    try:
        r = httpx.post(f"{api}/deployments/filter", timeout=30, auth=auth,
                       json={"deployments": {"name": {"any_": names}}})
    except httpx.HTTPError:
        return  # the scheduler itself reports an unreachable server
    if r.status_code != 200:
        return
    owned = sorted(d["name"] for d in r.json() if d.get("work_pool_name"))
    if owned:
        raise fail(
            f"Utrullingen {', '.join(owned)} er registrert for arbeidere (prefect deploy, "
            "arbeidspool). «serve --scheduler local» tar den ikke over. Start med "
            "«--scheduler workers» (arbeiderne kjører den), eller bruk et annet "
            "AVTALEFLYT_INSTALLATION.", 2)


def _require_free(host: str, port: int, option: str) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise fail(f"«{option}»: port {port} på {host} er allerede i bruk. Velg en annen "
                       f"med {option} PORT.", 2) from None
