"""The `tr4ctl` entry point. With TR4CTL_HOST set the command line runs on that host
(remote/forward.py), decided before the local command tree is imported: a forwarded
`status` costs this, ssh and the host's own command; a local one never imports the
forwarding modules or parses .env for it (may_forward). On the host, the session is
checked and watched (remote/session.py). Everything else is cli/app.py's main()."""

from __future__ import annotations

import os
import stat
import sys

from tr4ctl.errors import Tr4ctlError
from tr4ctl.session_env import REMOTE_SESSION


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _remote(args)
    except Tr4ctlError as exc:
        from tr4ctl.cli.app import _fail

        code = _fail(exc.message, exc.hint, exc.exit_code, exc.details, args=args)
    except KeyboardInterrupt:
        code = 130
    if code is not None:
        sys.exit(int(code))
    from tr4ctl.cli.app import main as run_here

    run_here(args)


def _remote(args: list[str]) -> int | None:
    if os.environ.get(REMOTE_SESSION) == "1":
        from tr4ctl.remote import session

        session.start()
        return None
    if not may_forward(args):
        return None
    from tr4ctl.remote.forward import forward

    return forward(args)


def may_forward(args: list[str]) -> bool:
    """Whether a host may be set, decided without the forwarding modules or a parse of
    .env: --host given, TR4CTL_HOST in the environment, or a .env that names it (in the
    --project-dir folder, TR4CTL_PROJECT_DIR's or here). Errs towards yes: then
    remote/forward.py reads the settings properly (and a local command reads .env once)."""
    if os.environ.get("TR4CTL_HOST") or any(a.startswith("--host") for a in args):
        return True
    folders = {os.environ.get("TR4CTL_PROJECT_DIR") or ".", "."}
    for i, arg in enumerate(args):
        if arg == "--project-dir" and i + 1 < len(args):
            folders.add(args[i + 1])
        elif arg.startswith("--project-dir="):
            folders.add(arg.partition("=")[2])
    return any(_names_a_host(os.path.join(folder, ".env")) for folder in folders)


def _names_a_host(env_file: str) -> bool:
    """Read only a regular file: a FIFO named .env would block the open and the read
    (O_NONBLOCK opens it at once; the command itself then refuses it in one line)."""
    try:
        descriptor = os.open(env_file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:  # none there, unreadable: the command itself says so
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        return b"TR4CTL_HOST" in os.read(descriptor, 1 << 20)
    except OSError:
        return False
    finally:
        os.close(descriptor)
