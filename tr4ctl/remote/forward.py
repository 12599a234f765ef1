"""The workstation's side of a remote command: read TR4CTL_HOST and the rest (options,
then the environment, then the project's .env), and when a host is set run the whole
command line there (plan/remote_call.py) over one SSH connection: local files the
command reads go up first, files it writes come down after, and the host's tr4ctl's
exit code is this process's.

Kept light: a forwarded `status` costs this module, ssh and the host's command, never
the import of the local command tree (cli/launch.py decides before importing it).
"""

from __future__ import annotations

import os
import stat
import sys

from tr4ctl import __version__
from tr4ctl.errors import BadInput
from tr4ctl.plan import remote_call
from tr4ctl.plan.remote_call import RemoteCall, Terminal, Workstation
from tr4ctl.remote import commands
from tr4ctl.remote.failures import NOT_INSTALLED, lost, not_installed
from tr4ctl.remote.settings import Settings, read_workstation


class _Trace:
    def __init__(self, verbose: bool):
        self.verbose = verbose

    def detail(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stderr, flush=True)


def forward(argv: list[str]) -> int | None:
    """The exit code of the command run on the host, or None: it runs here."""
    if remote_call.runs_here(argv):
        return None
    settings = workstation_settings(argv)
    if not settings.host:
        return None
    if remote_call.mixed_config_set(argv):
        raise BadInput("`config set` mixes this workstation's keys (TR4CTL_HOST, "
                       "TR4CTL_HOST_DIR, TR4CTL_SSH_*) with the host's",
                       "set them in two commands: the first kind is kept here, the other "
                       "goes to the host")
    call = remote_call.plan_remote_call(
        argv, Workstation(settings.host, settings.host_dir), _terminal(),
        version=__version__, remote_tr4ctl=commands.REMOTE_TR4CTL, is_local_file=_is_file)
    return run_call(call, settings, argv, verbose="--verbose" in argv or "-v" in argv)


def workstation_settings(argv: list[str]) -> Settings:
    host_option, project_dir = remote_call.host_option(argv)
    folder = project_dir or os.environ.get("TR4CTL_PROJECT_DIR") or "."
    return read_workstation(folder, host_option)


def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def _terminal() -> Terminal:
    stdout_tty = sys.stdout.isatty()
    columns = None
    if stdout_tty:
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
        except OSError:
            columns = None
    return Terminal(stdin_tty=sys.stdin.isatty(), stdout_tty=stdout_tty,
                    columns=columns or None, term=os.environ.get("TERM"),
                    no_color=bool(os.environ.get("NO_COLOR")))


def run_call(call: RemoteCall, settings: Settings, argv: list[str], *,
             verbose: bool = False) -> int:
    from tr4ctl.remote.connection import SshConnection, private_control_dir

    options = commands.SshOptions(control_dir=private_control_dir(), key=settings.ssh_key,
                                  known_hosts=settings.known_hosts,
                                  accept_new_host_key=call.accept_host_key)
    connection = SshConnection(call.target, options, _Trace(verbose))
    for crossing in call.downloads:
        _check_download_place(crossing)
    uploads = [(crossing, _open_upload(crossing.local)) for crossing in call.uploads]
    temp = None
    try:
        if call.needs_temp:
            # mktemp -d: a new 0700 folder; as the host's tr4ctl runs (sudo), so it
            # can read what goes up and write what comes down.
            temp = connection.output(["mktemp", "-d", "/tmp/tr4ctl-call.XXXXXXXX"]).strip()
            for crossing, handle in uploads:
                connection.run(["sh", "-c", 'umask 077 && cat > "$1"', "sh",
                                f"{temp}/{crossing.remote.name}"], stdin=handle)
        if remote_call.offers_images(argv):
            offer_images(connection, call, settings, argv, verbose=verbose)
        code = connection.attached(call.remote_argv(temp), tty=call.tty,
                                   environment=call.environment)
        if code == NOT_INSTALLED:
            raise not_installed(call.target)
        if code < 0:  # ssh itself was killed
            raise lost(call.target, f"ssh ended by signal {-code}")
        if code == 0:
            for crossing in call.downloads:
                _download(connection, f"{temp}/{crossing.remote.name}", crossing)
        return code
    finally:
        for _, handle in uploads:
            handle.close()
        if temp:
            connection.run(["rm", "-rf", "--", temp], check=False)


def _open_upload(local: str):
    try:
        handle = open(local, "rb")  # noqa: SIM115 (closed after the upload)
    except OSError as exc:
        raise BadInput(f"{local} cannot be read: {exc.strerror}",
                       "name a readable local file") from None
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise BadInput(f"{local} is not a regular file", "name a regular local file")
    return handle


def _check_download_place(crossing) -> None:
    """Refused before the call, as the command refuses it locally."""
    if crossing.replaces_report:
        from pathlib import Path

        from tr4ctl.actions.report import check_output

        check_output(Path(crossing.local))
    elif os.path.lexists(crossing.local):
        raise BadInput(f"--output {crossing.local} already exists",
                       "choose a new file name, or move the old file away")


def _download(connection, remote: str, crossing) -> None:
    done = connection.run(["sh", "-c", 'test ! -e "$1" || cat -- "$1"', "sh", remote])
    if not done.stdout:
        return  # the command wrote nothing there (a dry run, nothing to write)
    local = crossing.local
    if crossing.replaces_report:
        from pathlib import Path

        from tr4ctl.files import write_atomic_chunks

        mode = 0o644  # as `report` writes it locally: a page to share, no secret in it
        write_atomic_chunks(Path(local), [done.stdout], mode=mode)
    else:
        mode = 0o600
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(done.stdout)
    # The host's tr4ctl named its temporary copy: say where the file is on this machine.
    print(f"tr4ctl: {local} written here from {connection.target} ({mode:04o})",
          file=sys.stderr)


# The host's `images list` reads its engine only: a host stuck longer is named, not waited on.
IMAGES_LIST_TIMEOUT = 120


def offer_images(connection, call: RemoteCall, settings: Settings, argv: list[str], *,
                 verbose: bool) -> None:
    """Before `up` or `deploy`: the images the host's stack lacks, sent from this
    machine's engine when it holds them (only the ids the host lacks: images ship). What
    neither has is left to the host's own command (it builds, pulls, or says why)."""
    import json

    from tr4ctl.actions.images.ship import LocalEngine, ship_images
    from tr4ctl.errors import Tr4ctlError
    from tr4ctl.output import Output

    listed = connection.run([commands.REMOTE_TR4CTL, "--project-dir", settings.host_dir,
                             "--json", "images", "list"], environment=call.environment,
                            check=False, timeout=IMAGES_LIST_TIMEOUT)
    try:
        rows = json.loads(listed.stdout)["data"]["images"]
    except (ValueError, KeyError, TypeError):
        return  # no project there yet, or another tr4ctl: the command itself says so
    wanted = remote_call.images_the_host_lacks(rows, argv)
    if not wanted:
        return
    out = Output(json_mode="--json" in argv, verbose=verbose)
    try:
        engine = LocalEngine.from_environment(out)
        here = [ref for ref in wanted if _held_here(engine, ref)]
    except Tr4ctlError as exc:  # no engine on this workstation: nothing to offer
        out.detail(f"images not offered to {call.target}: {exc.message}")
        return
    if here:
        result = ship_images(connection, here, out, engine=engine)
        if result.sent or result.tagged:
            out.say(f"sent to {call.target}: {', '.join([*result.sent, *result.tagged])}")


def _held_here(engine, reference: str) -> bool:
    from tr4ctl.docker.images import image_id_and_size

    return image_id_and_size(engine.runner, engine.api, reference) is not None
