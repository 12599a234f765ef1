"""Images built on this host, without a registry (`tr4ctl images build-local`)."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.runner import Runner


def import_rootfs(runner: Runner, tarball: Path, tag: str, changes: list[str]) -> None:
    runner.run(cmd.image_import(tarball, tag, changes), what=f"docker import {tag}")


def build_from_text(runner: Runner, tag: str, dockerfile: str) -> None:
    # The legacy builder: this engine has no buildx plugin, and no context is needed.
    runner.run(cmd.image_build_from_stdin(tag), input=dockerfile, env={"DOCKER_BUILDKIT": "0"},
               what=f"docker build {tag}")
