"""The README's walkthrough works as written: every block marked
`<!-- tests/test_readme.py runs this block -->` is read out of README.md (so the README and
this test cannot drift apart) and run, in order, in one bash shell, line by line: the first
command that fails stops the run and names its line in README.md.

The shell starts in an empty folder standing in for the checkout: `.venv` is the virtualenv
running this test and `examples/` the repository's, so the files the walkthrough writes
(`--out avtale-rodoy.docx`, …) land there and not in the working tree. `mktemp -d` makes the
walkthrough's own fresh data directory inside the test's temporary folder. The flows reach
the session's Prefect server through PREFECT_API_URL (the environment, not the text: each
command would otherwise start a temporary server of its own, 6–8 s apiece)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- tests/test_readme.py runs this block -->"
_BLOCK = re.compile(re.escape(MARK) + r"\n```sh\n(.*?)\n```", re.DOTALL)


def walkthrough() -> list[tuple[int, str]]:
    """The marked blocks' lines, each with its line number in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines: list[tuple[int, str]] = []
    for m in _BLOCK.finditer(text):
        first = text.count("\n", 0, m.start(1)) + 1
        lines.extend((first + i, line) for i, line in enumerate(m.group(1).split("\n")))
    return lines


def test_the_walkthrough_starts_the_using_it_section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using it"):]
    assert section.index(MARK) < section.index("```"), "the first block must be the one run"
    assert len(_BLOCK.findall(text)) == text.count(MARK) >= 4
    assert "examples/moteplan.csv" in text and (ROOT / "examples" / "moteplan.csv").is_file()


def _run(tmp_path, script_lines: list[str], lines, extra_env=None, preamble=""):
    """The walkthrough's script in one bash shell in a stand-in checkout; (result, checkout,
    scratch). A command that fails names its README line."""
    from prefect.settings import PREFECT_API_URL

    # Script line k (1-based) is README line lines[k - 2][0]: one line of preamble first.
    script = ["set -eE -o pipefail; trap 'echo \"walkthrough stopped at line $LINENO\" >&2' ERR"
              + preamble, *script_lines]
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    (cwd / ".venv").symlink_to(Path(sys.prefix))
    (cwd / "examples").symlink_to(ROOT / "examples")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVTALEFLYT_", "PREFECT_", "VIRTUAL_ENV"))}
    env |= {"TMPDIR": str(scratch), "COLUMNS": "160", "NO_COLOR": "1",
            "PREFECT_API_URL": PREFECT_API_URL.value(), "USER": "koordinator",
            "LOGNAME": "koordinator"} | (extra_env or {})
    # A session of its own: a `serve` the script started goes with it if the run times out.
    p = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=1500)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate()
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    stopped = re.search(r"walkthrough stopped at line (\d+)", r.stderr)
    if r.returncode != 0:
        where = (f"README.md line {lines[int(stopped[1]) - 2][0]}: "
                 f"{lines[int(stopped[1]) - 2][1]}" if stopped else "")
        pytest.fail(f"{where}\n--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}")
    assert "Traceback" not in r.stderr
    return r, cwd, scratch


def _check(r, cwd, scratch) -> Path:
    """What a reader following along sees; the walkthrough's data directory."""
    out = r.stdout
    assert "Rødøy" in out and "Meløy" in out
    assert "ingen mottaker satt opp" in out  # a fresh installation has no notification targets
    # After each change, what comes next (services/next_step.py).
    assert ("Neste frist: Lever saksframlegg til kommunedirektøren innen 18. mars 2027 – 15 "
            "arbeidsdager før formannskapet 13. april 2027.") in out
    status = next(json.loads(chunk) for chunk in _json_arrays(out)
                  if chunk.lstrip().startswith('[\n  {\n    "kommunenummer"'))
    by_knr = {row["kommunenummer"]: row for row in status}
    assert by_knr["1836"]["stage"] == "system_setup"
    for name in ("avtale-rodoy.docx", "avtale-v1.docx", "dba-rodoy.pdf", "erfaringer.html"):
        assert (cwd / name).stat().st_size > 0, name
    # The walkthrough's data directory is its own: one under TMPDIR, none elsewhere.
    [data_dir] = [d for d in scratch.iterdir() if d.is_dir()]
    assert (data_dir / "avtaleflyt.db").is_file()
    return data_dir


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(2400)  # about 40 flow runs and three PDFs; minutes on a busy machine
def test_the_readme_walkthrough_runs_as_written(tmp_path, prefect_server):
    lines = walkthrough()
    r, cwd, scratch = _run(tmp_path, [line for _, line in lines], lines)
    _check(r, cwd, scratch)


# Beside the walkthrough, as a coordinator who keeps `serve` running: serve (dashboard and
# API only: the session's Prefect server, no scheduler) is started once the database
# exists, and again whenever the walkthrough moves its business date, because a command
# goes to a discovered serve only when both run with the same AVTALEFLYT_TODAY
# (client.same_installation). It waits until serve answers: a serve.json whose server does
# not answer yet would quietly send the command in-process.
_SERVE = r"""serve_here() {
  if [ -n "${SERVE_PID:-}" ]; then kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; fi
  unset SERVE_PID
  SERVE_PORT=$((SERVE_PORT + 1)); SERVE_STARTS=$((SERVE_STARTS + 1))
  avtaleflyt serve --port "$SERVE_PORT" --scheduler workers >>"$SERVE_LOG" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 3000); do
    if [ -f "$AVTALEFLYT_DATA_DIR/serve.json" ] \
        && (: >"/dev/tcp/127.0.0.1/$SERVE_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1
  done
  echo "serve did not start" >&2; cat "$SERVE_LOG" >&2; return 1
}
stop_serve() {
  if [ -n "${SERVE_PID:-}" ]; then kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; fi
  echo "serve started $SERVE_STARTS times" >&2
}
trap stop_serve EXIT
SERVE_STARTS=0"""


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(2400)
def test_the_readme_walkthrough_runs_through_a_running_serve(tmp_path, prefect_server):
    """The same blocks, with the CLI as the API's client of a `serve` on the same data
    directory (issue 10). Commands without an API route (init, county/municipality list,
    meeting saksgang, sweep, audit, and one with --today) run in-process beside it."""
    from .client_support import free_port

    lines = walkthrough()
    script, initialised = [], False
    for _, line in lines:
        if initialised and script and (script[-1].startswith("export AVTALEFLYT_TODAY=")
                                       or script[-1].startswith("avtaleflyt init")):
            line = "serve_here; " + line  # the same line: README line numbers still hold
        initialised = initialised or line.startswith("avtaleflyt init")
        script.append(line)
    # Sourced on the preamble's line, so the script's line numbers still hold.
    helper = tmp_path / "serve_here.sh"
    helper.write_text(_SERVE + "\n", encoding="utf-8")
    log = tmp_path / "serve.log"
    r, cwd, scratch = _run(tmp_path, script, lines, {
        "SERVE_PORT": str(free_port()), "SERVE_LOG": str(log)}, preamble=f"; source {helper}")
    data_dir = _check(r, cwd, scratch)
    assert not (data_dir / "serve.json").exists()  # serve removed it when it stopped
    # Every serve was used: its local token (one per start) has a last use.
    import sqlite3

    with sqlite3.connect(data_dir / "avtaleflyt.db") as c:
        used = c.execute("SELECT name, last_used_at, revoked_at FROM api_token "
                         "WHERE name LIKE 'serve-lokal-cli%' ORDER BY id").fetchall()
    starts = int(re.search(r"serve started (\d+) times", r.stderr)[1])
    assert starts == sum(line.startswith("serve_here; ") for line in script) == 4
    assert len(used) == starts, (used, log.read_text())
    assert all(last is not None and revoked is not None for _, last, revoked in used), used


def _json_arrays(text: str) -> list[str]:
    """The top-level JSON arrays printed (pretty) by `--json` commands."""
    return re.findall(r"^\[\n.*?^\]$", text, re.DOTALL | re.MULTILINE)
