"""The package as a county's IT department installs it: a wheel built from this checkout,
installed (not editable) into a fresh virtualenv in a temporary folder, and run from a
working directory that holds its own `models.py` and `flows.py` — nothing may be found
through the checkout, and nothing in the user's folder may shadow the package.

Runs `init`, `case open`, `doc render`, `sweep --dry-run` and `serve` from there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from .test_serve import _free_port, _get, _wait

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with the wheel installed (dependencies from the package index,
    as a user gets them)."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(dist), str(ROOT)], check=True, cwd=tmp)
    wheel = next(dist.glob("avtaleflyt-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    bin_ = env_dir / "bin"
    subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True, cwd=tmp)
    return bin_


def _env(tmp: Path, bin_: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVTALEFLYT_", "PREFECT_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{bin_}:{env.get('PATH', '')}", AVTALEFLYT_DATA_DIR=str(tmp / "data"),
               AVTALEFLYT_TODAY="2027-01-06", AVTALEFLYT_USER="it-avdelingen",
               HOME=str(tmp))
    return env


def test_the_installed_wheel_runs_outside_the_checkout(installed, tmp_path):
    work = tmp_path / "arbeidsmappe"
    work.mkdir()
    # A user's own files with the names of the repository's top-level folders.
    for shadow in ("models.py", "flows.py", "notifications.py", "templates.py"):
        (work / shadow).write_text("raise SystemExit('the user\\'s own file was imported')\n")
    env = _env(tmp_path, installed)

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([str(installed / "avtaleflyt"), *args], cwd=work, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    location = subprocess.run(
        [str(installed / "python"), "-c", "import avtaleflyt, avtaleflyt.models as m; "
         "print(avtaleflyt.__file__); print(m.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in location and "site-packages" in location

    init = run("init")
    assert "15 fylker og 357 kommuner" in init.stdout
    assert "Warning" not in init.stderr, init.stderr  # only the product's own words
    run("case", "open", "1836")
    out = tmp_path / "avtale.docx"
    run("doc", "render", "1836", "agreement", "--format", "docx", "--out", str(out))
    assert out.stat().st_size > 1000
    sweep = json.loads(run("sweep", "--dry-run", "--json").stdout)
    assert sweep["dry_run"] is True
    status = json.loads(run("status", "--json").stdout)
    assert [r["kommunenummer"] for r in status] == ["1836"]
    python_m = subprocess.run([str(installed / "python"), "-m", "avtaleflyt", "status",
                               "--json"], cwd=work, env=env, capture_output=True, text=True)
    assert python_m.returncode == 0, python_m.stderr

    port, prefect_port = _free_port(), _free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([str(installed / "avtaleflyt"), "serve", "--port", str(port),
                             "--prefect-port", str(prefect_port)], cwd=work, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        def ready():
            assert proc.poll() is None, log.read_text()
            r = _get(f"http://127.0.0.1:{port}/helse")
            return r is not None and r.status_code == 200
        _wait(ready, 240, "the dashboard of the installed wheel")
        login = httpx.get(f"http://127.0.0.1:{port}/logg-inn", timeout=10)
        assert login.status_code == 200 and "Logg inn" in login.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/style.css", timeout=10)
        assert css.status_code == 200 and len(css.text) > 100
        # The JSON API ships in the wheel: a token made by the installed CLI is accepted.
        added = subprocess.run([str(installed / "avtaleflyt"), "user", "add", "kari",
                                "--county", "18", "--password-stdin"], cwd=work, env=env,
                               input="et langt passord 42\n", capture_output=True, text=True,
                               timeout=600)
        assert added.returncode == 0, added.stderr
        token = run("token", "create", "wheel", "--user", "kari").stdout.strip().splitlines()[-1]
        api = f"http://127.0.0.1:{port}/api/v1"
        assert httpx.post(f"{api}/ping", timeout=10).status_code == 401
        pong = httpx.post(f"{api}/ping", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert pong.status_code == 200 and pong.json()["user"] == "kari", pong.text
        cases = httpx.get(f"{api}/cases", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()
        assert [c["kommunenummer"] for c in cases["items"]] == ["1836"]

        # The Prefect server requires the credential serve stored in the data directory.
        user, _, password = (tmp_path / "data" / "prefect_auth").read_text().strip() \
            .partition(":")
        assert httpx.post(f"http://127.0.0.1:{prefect_port}/api/deployments/filter",
                          timeout=10, json={}).status_code == 401

        def scheduled():
            r = httpx.post(f"http://127.0.0.1:{prefect_port}/api/deployments/filter",
                           timeout=10, json={}, auth=(user, password))
            return r.status_code == 200 and any(d["name"] == "deadline-sweep-avtaleflyt"
                                                for d in r.json())
        _wait(scheduled, 180, "the sweep deployment from the packaged prefect.yaml")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 or proc.returncode == -signal.SIGINT, log.read_text()


def test_every_python_package_of_the_checkout_is_in_the_wheel():
    """A new folder of modules must be listed in pyproject.toml, or the installed wheel
    lacks it (the checkout's tests would still pass)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    dirs = {"avtaleflyt": ROOT / "avtaleflyt", "avtaleflyt.models": ROOT / "models",
            "avtaleflyt.flows": ROOT / "flows", "avtaleflyt.notifications": ROOT / "notifications",
            "avtaleflyt.migrations": ROOT / "migrations"}
    found = set()
    for name, top in dirs.items():
        for init in top.rglob("__init__.py"):
            rel = init.parent.relative_to(top)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found - listed == set()
