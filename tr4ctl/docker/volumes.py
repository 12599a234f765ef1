"""Bytes in and out of the stack's volumes and services, for `tr4ctl backup`.

Volumes are read and written through a throwaway container of an image the stack
already has (tar, find and python3 are in it), never through the host's
/var/lib/docker: that works on any engine and keeps file owners numeric. Data goes
over the container's stdin/stdout, never through argv or a host bind mount.
"""

from __future__ import annotations

from pathlib import Path

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.engine import Engine
from tr4ctl.docker.runner import ByteSource

HELPER_ROLE = "backup-helper"


class VolumeStreams:
    def __init__(self, engine: Engine, helper_image: str):
        self.engine = engine
        self.runner = engine.runner
        self.image = helper_image

    def _helper(self, mounts: dict[str, str], command: list[str], *, stdin: bool = False,
                env_keys: list[str] | None = None) -> list[str]:
        return cmd.helper_run(self.image, command, project=self.engine.project_name,
                              role=HELPER_ROLE, mounts=mounts, stdin=stdin,
                              env_keys=env_keys or [])

    def volume_kib(self, volumes: list[str]) -> dict[str, int]:
        """Disk use of each volume in KiB (du rounds up to blocks: an upper bound of the
        tar stream). Only pass volumes that exist: `docker run -v` would create them."""
        if not volumes:
            return {}
        mounts = {name: f"/v/{i}:ro" for i, name in enumerate(volumes)}
        argv = self._helper(mounts, ["du", "-sk", *(f"/v/{i}" for i in range(len(volumes)))])
        sizes: dict[str, int] = {}
        for line in self.runner.output(argv, what="measuring the volumes").splitlines():
            kib, _, path = line.partition("\t")
            index = path.rsplit("/", 1)[-1]
            if kib.isdigit() and index.isdigit():
                sizes[volumes[int(index)]] = int(kib)
        return sizes

    def read_volume(self, volume: str, dest: Path, exclude: list[str] | None = None) -> None:
        """The volume as a tar stream (read-only mount, numeric owners) into dest."""
        options = ["--anchored", *(f"--exclude={pattern}" for pattern in exclude or [])]
        argv = self._helper({volume: "/v:ro"},
                            ["tar", "-cf", "-", "--numeric-owner", *options, "-C", "/v", "."])
        self.runner.run_to_file(argv, dest, what=f"copying volume {volume}")

    def replace_volume(self, volume: str, source: ByteSource) -> None:
        """Empty the volume, then unpack the tar read from source into it."""
        script = 'find /v -mindepth 1 -delete && exec tar -xf - --numeric-owner -p -C /v'
        self.runner.run_from_stream(self._helper({volume: "/v"}, ["sh", "-c", script],
                                                 stdin=True), source,
                                    what=f"restoring volume {volume}")

    def empty_volume(self, volume: str) -> None:
        self.runner.run(self._helper({volume: "/v"}, ["find", "/v", "-mindepth", "1", "-delete"]),
                        what=f"emptying volume {volume}")

    def replace_database(self, volume: str, path_in_volume: str, source: ByteSource, *,
                         owner: str, mode: str) -> None:
        """A SQLite file put in place of the live one, its old -wal/-shm/-journal removed
        first: SQLite would otherwise replay the old write-ahead log into the new file."""
        script = ('set -e; target="/v/$1"; rm -f "$target-wal" "$target-shm" "$target-journal"; '
                  'mkdir -p "$(dirname "$target")"; cat > "$target.tr4ctl-tmp"; '
                  'chown "$2" "$target.tr4ctl-tmp"; chmod "$3" "$target.tr4ctl-tmp"; '
                  'mv -f "$target.tr4ctl-tmp" "$target"')
        argv = self._helper({volume: "/v"}, ["sh", "-c", script, "sh", path_in_volume, owner,
                                             mode], stdin=True)
        self.runner.run_from_stream(argv, source, what=f"restoring the database into {volume}")

    def python_in_service(self, service: str, script: str, dest: Path, what: str) -> str:
        """A python3 script (sent on stdin) run in a running service; its stdout goes to
        dest, its stderr is returned."""
        argv = self.engine.exec_argv(service, ["python3", "-"])
        return self.runner.run_to_file(argv, dest, stdin_bytes=script.encode(), what=what)

    def python_on_volume(self, volume: str, mount: str, script: str, dest: Path, what: str,
                         envs: dict[str, str] | None = None) -> str:
        """The same, in a throwaway container with the volume mounted read-only."""
        argv = self._helper({volume: f"{mount}:ro"}, ["python3", "-"], stdin=True,
                            env_keys=list(envs or {}))
        return self.runner.run_to_file(argv, dest, stdin_bytes=script.encode(), env=envs,
                                       what=what)

    def remove_leftover_helpers(self) -> list[str]:
        """Helpers of this project still running: only a killed tr4ctl leaves one (the
        caller holds the stack's lock), and it must not write on after a new start."""
        ids = self.engine.labelled_container_ids(f"{cmd.PROJECT_LABEL}={self.engine.project_name}",
                                                 f"{cmd.ROLE_LABEL}={HELPER_ROLE}")
        self.engine.remove_containers(ids)
        return ids
