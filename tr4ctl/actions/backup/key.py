"""`tr4ctl backup key export`: the off-host copies' encryption key (restic's password),
for safekeeping away from the host: without it the copies cannot be read."""

from __future__ import annotations

from tr4ctl.errors import MissingPrerequisite
from tr4ctl.files import read_regular_file
from tr4ctl.runtime import Runtime

KEY_WARNING = ("this key decrypts the off-host copies; without it they cannot be read, by "
               "you or anyone: keep it somewhere other than this host, and secret")


def export_key(rt: Runtime) -> str:
    path = rt.paths.restic_password_file
    if not path.exists():
        raise MissingPrerequisite(f"no off-host backup key in {path} yet",
                                  "set TR4CTL_BACKUP_SCHEDULE and TR4CTL_BACKUP_TARGET, then "
                                  "run `tr4ctl up` (it generates the key)")
    return read_regular_file(path, "the backup key").decode("utf-8").strip()
