"""Running CLI commands in a fresh interpreter, to see what a real process imports."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

_SCRIPT = """
import contextlib, io, json, sys
from avtaleflyt.cli.main import app
argvs, expect_ok = json.loads(sys.argv[1]), sys.argv[2] == "ok"
outputs = []
for argv in argvs:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            app(argv)
            code = 0
        except SystemExit as e:
            code = e.code or 0
    assert (code == 0) is expect_ok, (argv, code)
    outputs.append(buf.getvalue())
print(json.dumps({"outputs": outputs,
                  "prefect": any(m == "prefect" or m.startswith("prefect.")
                                 for m in sys.modules)}))
"""


@dataclass
class IsolatedRun:
    outputs: list[str]  # stdout of each command, in order
    stderr: str
    prefect_loaded: bool


def run_isolated(argvs: list[list[str]], env: dict[str, str], *, succeed: bool = True,
                 timeout: float = 120) -> IsolatedRun:
    """Run each argv through the CLI in one new process. Every command must exit 0 when
    `succeed`, and non-zero otherwise; then say whether Prefect was imported."""
    result = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(argvs),
                             "ok" if succeed else "fail"], env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout.strip().splitlines()[-1])
    return IsolatedRun(verdict["outputs"], result.stderr, verdict["prefect"])
