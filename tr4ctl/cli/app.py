"""The tr4ctl command line: global options, command groups, and the one place where
errors become messages and exit codes (the rule is in errors.py and the README)."""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import sys
from pathlib import Path

import typer

from tr4ctl import __version__, interrupts
from tr4ctl.cli.common import examples
from tr4ctl.errors import ExitCode, Tr4ctlError, from_os_error
from tr4ctl.output import Output
from tr4ctl.runtime import Runtime

WIDE_HELP = ("On a terminal, tables keep every value whole even when wider than it (a pipe "
             "or --json always does).")
JSON_HELP = "One JSON document on stdout (the same after any command: `tr4ctl status --json`)."

app = typer.Typer(
    name="tr4ctl",
    help="Operate the TR4CTION Agent stack: backend, nginx, Chroma and certbot.",
    epilog=examples("tr4ctl up --env dev", "tr4ctl status --check",
                    "tr4ctl --project-dir /srv/tr4ction backup create"),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# The module of each top-level command, in the order help lists them. A command line
# that names one loads that module only: typer builds a click command from every
# registered function's signature, and each module imports its actions, tens of
# milliseconds a `tr4ctl status` would pay for commands it does not run.
COMMAND_MODULES = {
    "init": "stack", "up": "stack", "down": "stack", "status": "stack", "logs": "stack",
    "doctor": "doctor",
    "health": "health", "bench": "health", "verify": "health",
    "deploy": "deploy", "rollback": "deploy", "releases": "deploy",
    "config": "config", "db": "db", "nginx": "nginx", "cert": "cert", "users": "users",
    "images": "images", "backup": "backup", "host": "host", "exec": "service_exec",
    "maintenance": "maintenance", "report": "report",
}
# Global options that take a value (the command is the first word after them).
VALUE_OPTIONS = ("--project-dir", "--project-name", "--host")
COMPLETION_VARIABLE = "_TR4CTL_COMPLETE"
_loaded: set[str] = set()

_session: dict[str, Runtime] = {}


def _print_version(value: bool) -> None:
    if value:
        print(f"tr4ctl {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    project_dir: Path = typer.Option(
        Path("."), "--project-dir", envvar="TR4CTL_PROJECT_DIR", metavar="DIR",
        help="Where .env and the rendered files live.", file_okay=False,
    ),
    project_name: str = typer.Option(
        None, "--project-name", metavar="NAME",
        help="Compose project name (default: tr4ction).", show_default=False,
    ),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the docker commands run."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
    host: str = typer.Option(
        None, "--host", metavar="ssh://USER@HOST[:PORT]", show_default=False,
        help="Run the command on that host over SSH (as TR4CTL_HOST; README \"Remote "
             "hosts\").",
    ),
    accept_host_key: bool = typer.Option(
        False, "--accept-host-key",
        help="On first contact, record the host's SSH key in known_hosts (check the "
             "fingerprint shown first); a changed key is refused regardless.",
    ),
) -> None:
    # --host and --accept-host-key were used before this (cli/launch.py forwards the
    # command line); here the command runs on this machine.
    del host, accept_host_key
    out = Output(json_mode=json_output, verbose=verbose or debug, wide=wide)
    ctx.obj = Runtime(project_dir=project_dir.resolve(), out=out,
                      project_name_option=project_name, debug=debug)
    _session["ctx"] = ctx.obj


def _click_exceptions():
    try:  # recent typer vendors its own click
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def load_commands(args: list[str] | None = None) -> None:
    """Register the module of the command `args` names, or every module when they name
    none (help, a typo, completion)."""
    named = None if COMPLETION_VARIABLE in os.environ else _command_word(args or [])
    wanted = [COMMAND_MODULES[named]] if named in COMMAND_MODULES else dict.fromkeys(
        COMMAND_MODULES.values())
    for name in wanted:
        if name in _loaded:
            continue
        module = importlib.import_module(f"tr4ctl.cli.{name}")
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=name)
        _loaded.add(name)


def _command_word(args: list[str]) -> str | None:
    words = iter(args)
    for arg in words:
        if arg in VALUE_OPTIONS:
            next(words, None)
        elif arg in ("--help", "-h"):
            return None  # the root's help, listing every command, whatever follows
        elif not arg.startswith("-"):
            return arg
    return None


def build_command(args: list[str] | None = None):
    """The click command tree (only the named command's part when args name one),
    finished the same way for every command (see _finish)."""
    load_commands(args)
    command = typer.main.get_command(app)
    _finish(command)
    return command


def main(argv: list[str] | None = None) -> None:
    # Ctrl-C and SIGTERM alike: the flows' clean-up runs, then 130 or 143 (interrupts.py).
    interrupts.install()
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _run(args)
    except KeyboardInterrupt:  # while an error was being shown
        code = _interrupted_code()
    sys.exit(int(code))


def _run(args: list[str]) -> int:
    click_errors = _click_exceptions()
    try:
        command = build_command(args)
        result = command.main(args=args, prog_name="tr4ctl", standalone_mode=False)
        code = result if isinstance(result, int) else ExitCode.OK
        if code == ExitCode.INTERRUPTED:
            # typer turns a signal outside a changing step into a silent exit 130.
            code = _fail(_interrupted_message(), "`tr4ctl status` shows the stack",
                         _interrupted_code(), args=args)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = _fail("aborted", None, ExitCode.FAILED, args=args)
    except getattr(click_errors, "NoArgsIsHelpError", ()) as exc:
        if "--json" in args:
            code = _fail("no command given", "see `tr4ctl --help`", ExitCode.BAD_INPUT,
                         args=args)
        else:
            # Typer's Rich help prints itself while the error is made (its text is then
            # empty); plain click help is only the text.
            if help_text := exc.format_message():
                print(help_text)
            code = ExitCode.BAD_INPUT
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "tr4ctl"
        code = _fail(exc.format_message(), f"see `{where} --help`", ExitCode.BAD_INPUT,
                     args=args)
    except click_errors.ClickException as exc:
        code = _fail(exc.format_message(), None, ExitCode.BAD_INPUT, args=args)
    except Tr4ctlError as exc:
        if _debugging():
            raise
        code = exc.exit_code
        if code == ExitCode.INTERRUPTED:
            code = _interrupted_code()
        code = _fail(exc.message, exc.hint, code, exc.details, args=args)
    except KeyboardInterrupt:
        code = _fail(_interrupted_message(), "`tr4ctl status` shows the stack",
                     _interrupted_code(), args=args)
    except OSError as exc:  # a path the host refuses (permission, read-only, no space)
        if _debugging():
            raise
        error = from_os_error(exc)
        code = (_fail(error.message, error.hint, error.exit_code, args=args) if error
                else _unexpected(exc, args))
    except Exception as exc:  # a bug or an unforeseen failure: still one line, no traceback
        if _debugging():
            raise
        code = _unexpected(exc, args)
    return int(code)


def _unexpected(exc: Exception, args: list[str]) -> int:
    return _fail(f"unexpected {type(exc).__name__}: {exc}",
                 "rerun with --debug for the traceback", ExitCode.FAILED, args=args)


def _interrupted_message() -> str:
    return "terminated (SIGTERM)" if interrupts.terminated() else "interrupted"


def _interrupted_code() -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM: the signal this process received."""
    return ExitCode.TERMINATED if interrupts.terminated() else ExitCode.INTERRUPTED


def _debugging() -> bool:
    session = _session.get("ctx")
    return bool(session and session.debug)


def _fail(message: str, hint: str | None, code: int, details: str | None = None, *,
          args: list[str]) -> int:
    session = _session.get("ctx")
    out = session.out if session else Output()
    # Before the options are parsed (an unknown command, a bad option) --json still asks
    # for the envelope: scripts parse stdout whatever went wrong.
    out.json_mode = out.json_mode or "--json" in args
    out.error(message, hint, details)
    out.emit(_command_path(args), None, ok=False, exit_code=int(code),
             errors=[{"message": message, "hint": hint, "details": details}])
    return int(code)


def _command_path(args: list[str]) -> str:
    """`nginx use` from the argv, skipping global options and their values."""
    load_commands(args)
    group = typer.main.get_command(app)
    path: list[str] = []
    for arg in args:
        commands = getattr(group, "commands", None)
        if not commands:
            break
        if arg in commands:
            path.append(arg)
            group = commands[arg]
    return " ".join(path) or "tr4ctl"


# -- the same shape for every command ------------------------------------------------------
def _finish(root) -> None:
    """Every command takes --json and --wide after its name too (the global options'
    twins); flags show no `<bool>` metavar; help paragraphs flow to the terminal's width
    instead of keeping the source's line breaks (which broke lines mid-sentence)."""
    twins = [
        (next(param for param in root.params if param.name == "json_output"),
         _json_requested, "One JSON document on stdout (as `tr4ctl --json`)."),
        (next(param for param in root.params if param.name == "wide"),
         _wide_requested, "Tables keep every value whole (as `tr4ctl --wide`)."),
    ]
    for command in _walk(root):
        command.help = _reflow(command.help)
        leaf = command is not root and not hasattr(command, "commands")
        for template, callback, help_text in twins if leaf else ():
            if any(template.opts[0] in param.opts for param in command.params):
                continue
            twin = copy.copy(template)
            twin.expose_value = False
            twin.callback = callback
            twin.help = help_text
            command.params.append(twin)
        for param in [*command.params, _help_option(command)]:
            _plain_metavar(param)


def _help_option(command):
    from typer._click import Context

    return command.get_help_option(Context(command, help_option_names=["-h", "--help"]))


def _plain_metavar(param) -> None:
    """A flag takes no value: no `<bool>` metavar beside it."""
    if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""


def _walk(command):
    yield command
    for child in getattr(command, "commands", {}).values():
        yield from _walk(child)


def _json_requested(ctx, _param, value: bool) -> bool:
    rt = ctx.find_root().obj  # None while completing: no callback ran
    if value and rt is not None:
        rt.out.json_mode = True
    return value


def _wide_requested(ctx, _param, value: bool) -> bool:
    rt = ctx.find_root().obj
    if value and rt is not None:
        rt.out.wide = True
    return value


def _reflow(text: str | None) -> str | None:
    """One line per paragraph; a paragraph starting with \\b keeps its lines (lists)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n"))
                       for p in paragraphs)
