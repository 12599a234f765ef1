"""The tr4ctl command line: global options, command groups, and the one place where
errors become messages and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tr4ctl import __version__
from tr4ctl.cli import (
    backup,
    cert,
    config,
    deploy,
    doctor,
    health,
    images,
    nginx,
    stack,
    users,
)
from tr4ctl.errors import ExitCode, Tr4ctlError
from tr4ctl.output import Output
from tr4ctl.runtime import Runtime

app = typer.Typer(
    name="tr4ctl",
    help="Operate the TR4CTION Agent stack: backend, nginx, Chroma and certbot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
stack.register(app)
doctor.register(app)
health.register(app)
deploy.register(app)
app.add_typer(config.app, name="config")
app.add_typer(nginx.app, name="nginx")
app.add_typer(cert.app, name="cert")
app.add_typer(users.app, name="users")
app.add_typer(images.app, name="images")
app.add_typer(backup.app, name="backup")

_session: dict[str, Runtime] = {}


def _print_version(value: bool) -> None:
    if value:
        print(f"tr4ctl {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    project_dir: Path = typer.Option(
        Path("."), "--project-dir", envvar="TR4CTL_PROJECT_DIR",
        help="Where .env and the rendered files live.", file_okay=False,
    ),
    project_name: str = typer.Option(
        None, "--project-name", help="Compose project name (default: tr4ction).",
        show_default=False,
    ),
    json_output: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the docker commands run."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    out = Output(json_mode=json_output, verbose=verbose or debug)
    ctx.obj = Runtime(project_dir=project_dir.resolve(), out=out,
                      project_name_option=project_name, debug=debug)
    _session["ctx"] = ctx.obj


def _click_exceptions():
    try:  # recent typer vendors its own click
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def main(argv: list[str] | None = None) -> None:
    click_errors = _click_exceptions()

    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="tr4ctl", standalone_mode=False)
        code = result if isinstance(result, int) else ExitCode.OK
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = _fail("aborted", None, ExitCode.FAILED)
    except getattr(click_errors, "NoArgsIsHelpError", ()) as exc:
        print(exc.ctx.get_help())
        code = ExitCode.BAD_INPUT
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "tr4ctl"
        code = _fail(exc.format_message(), f"see `{where} --help`", ExitCode.BAD_INPUT)
    except click_errors.ClickException as exc:
        code = _fail(exc.format_message(), None, ExitCode.BAD_INPUT)
    except Tr4ctlError as exc:
        if _debugging():
            raise
        code = _fail(exc.message, exc.hint, exc.exit_code, exc.details)
    except KeyboardInterrupt:
        code = _fail("interrupted", None, 130)
    except Exception as exc:  # a bug or an unforeseen failure: still one line, no traceback
        if _debugging():
            raise
        code = _fail(f"unexpected {type(exc).__name__}: {exc}", "rerun with --debug for the traceback",
                     ExitCode.FAILED)
    sys.exit(int(code))


def _debugging() -> bool:
    session = _session.get("ctx")
    return bool(session and session.debug)


def _fail(message: str, hint: str | None, code: int, details: str | None = None) -> int:
    session = _session.get("ctx")
    out = session.out if session else Output()
    out.error(message, hint, details)
    command = _command_path(sys.argv[1:])
    out.emit(command, None, ok=False, exit_code=int(code),
             errors=[{"message": message, "hint": hint, "details": details}])
    return int(code)


def _command_path(args: list[str]) -> str:
    """`nginx use` from the argv, skipping global options and their values."""
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
