"""The command line's frame in Norwegian: usage lines, help panels and the framework's own
error messages ("Missing argument", "No such option", "Try … for help").

Typer (≥ 0.26) vendors Click and its copy no longer routes Click's messages through gettext:
they are English literals, several of them formatted with the offending value. Typer's own
strings still call `gettext`, but through the process-wide default domain, which only the
user's locale would select, and `typer.rich_utils` evaluates its panel titles once, on import.
So the catalogue is a `gettext.NullTranslations` holding a dict (and, for the formatted
messages, patterns), applied where the frame's text reaches the user:

- `typer.rich_utils`' fixed strings (panel titles, "[required]", the help hint) and Typer's
  own `gettext` calls;
- the usage line's prefix and the help option's help text;
- a usage error's message, translated when it passes the root command (`NorwegianGroup`);
- yes/no questions (`typer.confirm`): «[j/N]», answered with j/ja/y/yes or n/nei/no
  (`install_prompts`, run by the root command before any command runs; it only rebinds a
  few names of modules Typer has imported already, so it costs nothing).

Importing `typer.rich_utils` costs about a tenth of a second, so `install()` runs only when
help or an error is about to be shown: a plain command never pays for it. The project pins
Typer's minor version (pyproject.toml) because these hooks reach into `typer._click`;
tests/test_cli_i18n.py fails if an upgrade moves them.
"""

from __future__ import annotations

import gettext
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from typer.core import TyperGroup

# Fixed strings, exactly as Typer and its copy of Click write them.
_CATALOGUE: dict[str, str] = {
    # typer.rich_utils
    "(deprecated) ": "(utgått) ",
    "[default: {}]": "[standard: {}]",
    "[env var: {}]": "[miljøvariabel: {}]",
    "[required]": "[påkrevd]",
    "Arguments": "Argumenter",
    "Options": "Valg",
    "Commands": "Kommandoer",
    "Error": "Feil",
    "Aborted.": "Avbrutt.",
    "Try [blue]'{command_path} {help_option}'[/] for help.":
        "Skriv [blue]«{command_path} {help_option}»[/] for hjelp.",
    # typer.core (plain-text help, used when Rich is switched off)
    "(dynamic)": "(dynamisk)",
    "Aborted!": "Avbrutt!",
    "default: {default}": "standard: {default}",
    "required": "påkrevd",
    "env var: {var}": "miljøvariabel: {var}",
    "Missing command.": "Mangler kommando.",
    "No such command {name!r}.": "Ukjent kommando {name!r}.",
    # typer._click
    "Usage: ": "Bruk: ",
    "[OPTIONS]": "[VALG]",
    "COMMAND [ARGS]...": "KOMMANDO [ARGUMENTER]...",
    "Show this message and exit.": "Vis denne hjelpen og avslutt.",
    # the type column of --help
    "<str>": "<tekst>",
    "<int>": "<heltall>",
    "<int range>": "<heltall>",
    "<float>": "<tall>",
    "<Path>": "<fil>",
}

# What a value had to be, in the framework's words and in ours.
_KINDS = {
    "int": "et heltall", "integer": "et heltall", "float": "et tall", "number": "et tall",
    "bool": "ja eller nei", "boolean": "ja eller nei", "date": "en dato",
    "str": "tekst", "string": "tekst", "Path": "en filsti",
}

_QUOTED = re.compile(r"'([^'\n]*)'")


def _q(text: str) -> str:
    """The framework quotes names and values with repr()'s '…'; Norwegian text uses «…»."""
    return _QUOTED.sub(r"«\1»", text)


def _extra_arguments(m: re.Match[str]) -> str:
    from avtaleflyt.formatting import format_count

    count = format_count(len(m[1].split()), "ukjent argument", "ukjente argumenter")
    return f"{count}: «{m[1]}»."


def _kind(name: str) -> str:
    return _KINDS.get(name, name)


# Messages the framework builds by formatting, in the order they are tried; each pattern
# replaces one fragment, so "Invalid value for '--days': Input should be a valid integer"
# becomes Norwegian in two steps.
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^Missing argument (.+?)\."), lambda m: f"Mangler argumentet {_q(m[1])}."),
    (re.compile(r"^Missing option (.+?)\."), lambda m: f"Mangler valget {_q(m[1])}."),
    (re.compile(r"^Missing parameter(?::)? ?(.*?)\.?$"),
     lambda m: f"Mangler en verdi {_q(m[1])}.".replace(" .", ".")),
    (re.compile(r"Choose from:"), lambda m: "Velg blant:"),
    (re.compile(r"^No such option: (\S+)"), lambda m: f"Ukjent valg: {m[1]}"),
    (re.compile(r"\(Possible options: (.+?)\)$"), lambda m: f"(mulige valg: {m[1]})"),
    (re.compile(r"^No such command (.+?)\."), lambda m: f"Ukjent kommando {_q(m[1])}."),
    (re.compile(r"Did you mean (.+?)\?"), lambda m: f"Mente du {_q(m[1])}?"),
    (re.compile(r"^Got unexpected extra argument\(s\) \((.*)\)$"), _extra_arguments),
    (re.compile(r"^Option (.+?) requires an argument\."),
     lambda m: f"Valget {_q(m[1])} må ha en verdi."),
    (re.compile(r"^Option (.+?) requires (\d+) arguments\."),
     lambda m: f"Valget {_q(m[1])} må ha {m[2]} verdier."),
    (re.compile(r"^Option (.+?) does not take a value\."),
     lambda m: f"Valget {_q(m[1])} tar ingen verdi."),
    (re.compile(r"^Argument (.+?) takes (\d+) values\."),
     lambda m: f"Argumentet {_q(m[1])} tar {m[2]} verdier."),
    (re.compile(r"^Missing command\."), lambda m: "Mangler kommando."),
    (re.compile(r"^Invalid value for (.+?): "), lambda m: f"Ugyldig verdi for {_q(m[1])}: "),
    (re.compile(r"^Invalid value: "), lambda m: "Ugyldig verdi: "),
    (re.compile(r"Value ('.*?'|\S+) is not a valid (\w+)\."),
     lambda m: f"{_q(m[1])} er ikke {_kind(m[2])}."),
    (re.compile(r"('.*?'|\S+) is not one of (.+)\.$"),
     lambda m: f"{_q(m[1])} er ikke en av {_q(m[2])}."),
    (re.compile(r"Input should be a valid (\w+)(?:,.*)?$"), lambda m: f"må være {_kind(m[1])}."),
    (re.compile(r"^Could not open file (.+?): unknown error"),
     lambda m: f"Kan ikke åpne filen {_q(m[1])}."),
    (re.compile(r"^Could not open file (.+?): "), lambda m: f"Kan ikke åpne filen {_q(m[1])}: "),
]


class NorwegianTranslations(gettext.NullTranslations):
    """Typer's and Click's English, in Bokmål; text it does not know passes unchanged."""

    def gettext(self, message: str) -> str:
        return _CATALOGUE.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def message(self, text: str) -> str:
        """An error message the framework built, in Norwegian (our own messages, already
        Norwegian, pass through: none of the patterns matches them)."""
        for pattern, replace in _PATTERNS:
            text = pattern.sub(replace, text, count=1)
        return text


translations = NorwegianTranslations()
_installed = False

# typer.rich_utils' fixed strings, evaluated when that module is imported.
_RICH_STRINGS = ("DEPRECATED_STRING", "DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING",
                 "ARGUMENTS_PANEL_TITLE", "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE",
                 "ERRORS_PANEL_TITLE", "ABORTED_TEXT", "RICH_HELP")


def install() -> None:
    """Put the catalogue where Typer and its copy of Click read their text (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from typer import core, rich_utils
    from typer._click import core as click_core
    from typer._click.formatting import HelpFormatter

    for name in _RICH_STRINGS:
        setattr(rich_utils, name, translations.gettext(getattr(rich_utils, name)))
    # The usage line keeps its highlighting under its Norwegian prefix.
    rich_utils.OptionHighlighter.highlights = [
        *rich_utils.OptionHighlighter.highlights, r"(?P<usage>Bruk: )"]
    core._ = translations.gettext  # Typer's own gettext calls, made while it runs

    class NorwegianHelpFormatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            for english in ("[OPTIONS]", "COMMAND [ARGS]..."):
                args = args.replace(english, translations.gettext(english))
            super().write_usage(prog, args, translations.gettext("Usage: ")
                                if prefix is None else prefix)

    click_core.Context.formatter_class = NorwegianHelpFormatter

    get_help_option = click_core.Command.get_help_option

    def norwegian_help_option(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None and option.help:
            option.help = translations.gettext(option.help)
        return option

    click_core.Command.get_help_option = norwegian_help_option

    for parameter_class in (core._TyperParameter, core.TyperOption):
        parameter_class.display_type_rich = _norwegian_type(parameter_class.display_type_rich)


def _norwegian_type(display_type: Callable[..., str | None]) -> Callable[..., str | None]:
    """The type column of --help: "<tekst>", "<heltall>"; nothing for a flag, which takes
    no value ("--json <bool>" would say it does)."""

    def norwegian_type(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_bool_flag", False):
            return None
        label = display_type(self, ctx)
        return translations.gettext(label) if label is not None else None

    return norwegian_type


def _norwegian(error: Exception) -> Exception:
    """The same error with its message in Norwegian, shown by Typer as before (usage line,
    help hint, the message in a panel) and ending with the same exit code."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    if isinstance(error, NoArgsIsHelpError):
        return error  # its help was printed when it was raised (install() ran before)

    class NorwegianError(UsageError):
        def format_message(self) -> str:
            return self.message

    ctx = getattr(error, "ctx", None)
    translated = NorwegianError(translations.message(error.format_message()), ctx)
    translated.exit_code = error.exit_code
    return translated


YES = frozenset({"j", "ja", "y", "yes"})
NO = frozenset({"n", "nei", "no"})
# What Typer's copy of Click writes during a prompt, in Norwegian.
_PROMPT_TEXT = {
    "Repeat for confirmation": "Gjenta for å bekrefte",
    "Error: The two entered values do not match.": "Feil: De to verdiene er ikke like.",
    "Error: The value you entered was invalid.": "Feil: Verdien er ugyldig.",
}
_prompts_installed = False


def confirm(text: str, default: bool | None = False, abort: bool = False,
            prompt_suffix: str = ": ", show_default: bool = True, err: bool = False) -> bool:
    """`typer.confirm` in Norwegian: the question ends in «[j/N]» (or «[J/n]», «[j/n]»),
    and j/ja/y/yes or n/nei/no answer it, in any case; an empty answer takes the default.
    Anything else asks again. Ctrl-C or the end of the input aborts («Avbrutt!»)."""
    from typer._click import termui
    from typer.exceptions import Abort

    choices = "j/n" if default is None else ("J/n" if default else "j/N")
    prompt = termui._build_prompt(text, prompt_suffix, show_default, choices)
    while True:
        try:
            termui.echo(prompt[:-1], nl=False, err=err)
            value = termui.visible_prompt_func(prompt[-1:]).lower().strip()
        except (KeyboardInterrupt, EOFError):
            raise Abort() from None
        if value in YES:
            answer = True
        elif value in NO:
            answer = False
        elif default is not None and value == "":
            answer = default
        else:
            termui.echo("Svar «j» (ja) eller «n» (nei).", err=err)
            continue
        break
    if abort and not answer:
        raise Abort()
    return answer


def install_prompts() -> None:
    """Norwegian yes/no questions and password prompts, for every command (once)."""
    global _prompts_installed
    if _prompts_installed:
        return
    _prompts_installed = True
    import typer
    from typer._click import termui

    typer.confirm = confirm
    termui.confirm = confirm
    echo = termui.echo

    def norwegian_echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(message, str):
            message = _PROMPT_TEXT.get(message, message)
        echo(message, *args, **kwargs)

    def norwegian_build_prompt(text: str, *args: Any, **kwargs: Any) -> str:
        return build_prompt(_PROMPT_TEXT.get(text, text), *args, **kwargs)

    build_prompt = termui._build_prompt
    termui.echo = norwegian_echo
    termui._build_prompt = norwegian_build_prompt


class NorwegianGroup(TyperGroup):
    """The root command: sees every usage error on its way out, and sets up the Norwegian
    frame before help is printed."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        install_prompts()
        if self._shows_help(argv):
            install()
        return super().main(argv, *rest, **kwargs)

    def _shows_help(self, argv: list[str]) -> bool:
        """Whether this command line prints help: `--help`, or a group named with nothing
        after it (`avtaleflyt case`), which Typer answers with its help."""
        if not argv or "--help" in argv:
            return True
        group: Any = self
        for i, token in enumerate(argv):
            sub = getattr(group, "commands", {}).get(token)
            if sub is not None:
                group = sub
                if isinstance(sub, TyperGroup) and i == len(argv) - 1:
                    return True
        return False

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        return self._translating(super().make_context, *args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        return self._translating(super().invoke, ctx)

    @staticmethod
    def _translating(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from typer._click.exceptions import ClickException

        from typer.exceptions import Abort

        try:
            return call(*args, **kwargs)
        except ClickException as e:
            install()
            raise _norwegian(e) from None
        except Abort:
            install()
            raise
