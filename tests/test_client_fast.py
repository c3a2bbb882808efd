"""cli/fast.py parses the busiest commands without Typer, from its own table: the table
must name exactly the options of the Typer commands, and anything it does not take in its
plain form must go to the application (nothing printed, nothing sent)."""

from __future__ import annotations

import pytest
import typer

from avtaleflyt.cli import fast
from avtaleflyt.cli.main import app


def _command(path: tuple[str, str]):
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    group = root.get_command(ctx, path[0])
    return group.get_command(ctx, path[1])


@pytest.mark.parametrize("path", list(fast.COMMANDS))
def test_the_table_names_the_typer_commands_arguments_and_options(path):
    names, options = fast.COMMANDS[path]
    cmd = _command(path)
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    opts = [p for p in cmd.params if p.param_type_name == "option"]
    assert len(arguments) == len(names)
    assert [a.nargs == -1 for a in arguments] == [n == "task_ids" for n in names]
    assert {o for p in opts for o in p.opts} == {*options, fast.JSON}
    assert [p.opts for p in opts if p.is_flag] == [[fast.JSON]]
    # The request field is the option's parameter (--ref → reference, as the API names it).
    for p in opts:
        if not p.is_flag:
            assert options[p.opts[0]] in (p.name, "reference")


@pytest.mark.parametrize("argv, expected", [
    (["case", "record", "1836", "council-decision", "--outcome", "vedtatt", "--ref=PS 1/27"],
     (("case", "record"), ["1836", "council-decision"],
      {"outcome": "vedtatt", "reference": "PS 1/27"}, False)),
    (["task", "done", "12", "13", "--json", "--date", "01.03.2027"],
     (("task", "done"), ["12", "13"], {"date": "01.03.2027"}, True)),
    (["case", "open", "--date", "2027-03-01", "1836"],
     (("case", "open"), ["1836"], {"date": "2027-03-01"}, False)),
])
def test_plain_command_lines_are_taken(argv, expected):
    assert fast.parse(argv) == expected


@pytest.mark.parametrize("argv", [
    ["--today", "2027-03-01", "case", "record", "1836", "meeting-held"],  # a global option
    ["case", "record", "1836", "meeting-held", "--help"],
    ["case", "record", "1836"],  # missing HENDELSE: Typer's own message
    ["case", "record", "1836", "meeting-held", "--outcome"],  # an option without its value
    ["case", "record", "1836", "meeting-held", "--outcome", "a", "--outcome", "b"],
    ["case", "record", "1836", "meeting-held", "--json", "--json"],
    ["case", "record", "1836", "meeting-held", "--bogus", "x"],
    ["task", "done"],
    ["task", "done", "12", "x"],  # not a whole number: Typer's message
    ["task", "done", "-1"],
    ["case", "show", "1836"],  # not one of these
])
def test_anything_else_goes_to_the_application(argv, monkeypatch):
    assert fast.parse(argv) is None
    monkeypatch.setenv("AVTALEFLYT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AVTALEFLYT_TOKEN", "avt_x")
    assert fast.run(argv) is False


def test_not_a_client_means_the_application(monkeypatch, tmp_path):
    monkeypatch.delenv("AVTALEFLYT_URL", raising=False)
    monkeypatch.delenv("AVTALEFLYT_TOKEN", raising=False)
    monkeypatch.setenv("AVTALEFLYT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert fast.run(["task", "done", "12"]) is False
