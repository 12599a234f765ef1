"""The `tr4ctl` entry point. With TR4CTL_HOST set the command line runs on that host
(remote/forward.py), decided before the local command tree is imported: a forwarded
`status` costs this, ssh and the host's own command. On the host, the session is
checked and watched (remote/session.py). Everything else is cli/app.py's main()."""

from __future__ import annotations

import sys

from tr4ctl.errors import Tr4ctlError


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
    from tr4ctl.remote import session

    if session.on_host():
        session.start()
        return None
    from tr4ctl.remote.forward import forward

    return forward(args)
