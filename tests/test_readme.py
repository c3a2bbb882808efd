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


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(2400)  # about 40 flow runs and three PDFs; minutes on a busy machine
def test_the_readme_walkthrough_runs_as_written(tmp_path, prefect_server):
    from prefect.settings import PREFECT_API_URL

    lines = walkthrough()
    # Script line k (1-based) is README line lines[k - 2][0]: one line of preamble first.
    script = ["set -eE -o pipefail; trap 'echo \"walkthrough stopped at line $LINENO\" >&2' ERR",
              *(line for _, line in lines)]
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
            "LOGNAME": "koordinator"}
    r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=1500)
    stopped = re.search(r"walkthrough stopped at line (\d+)", r.stderr)
    if r.returncode != 0:
        where = (f"README.md line {lines[int(stopped[1]) - 2][0]}: "
                 f"{lines[int(stopped[1]) - 2][1]}" if stopped else "")
        pytest.fail(f"{where}\n--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}")
    assert "Traceback" not in r.stderr

    out = r.stdout
    # What a reader following along sees.
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
    [data_dir] = list(scratch.iterdir())
    assert (data_dir / "avtaleflyt.db").is_file()


def _json_arrays(text: str) -> list[str]:
    """The top-level JSON arrays printed (pretty) by `--json` commands."""
    return re.findall(r"^\[\n.*?^\]$", text, re.DOTALL | re.MULTILINE)
