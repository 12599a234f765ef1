"""Images built on this host, without a registry (`tr4ctl images build-local`)."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.engine_api import EngineAPI
from tr4ctl.docker.runner import Runner


def import_rootfs(runner: Runner, tarball: Path, tag: str, changes: list[str]) -> None:
    runner.run(cmd.image_import(tarball, tag, changes), what=f"docker import {tag}")


def build_from_text(runner: Runner, tag: str, dockerfile: str) -> None:
    # The legacy builder: this engine has no buildx plugin, and no context is needed.
    runner.run(cmd.image_build_from_stdin(tag), input=dockerfile, env={"DOCKER_BUILDKIT": "0"},
               what=f"docker build {tag}")


def image_id_and_size(runner: Runner, api: EngineAPI | None, name: str) -> tuple[str, int] | None:
    """An image's id and size (bytes) on this engine, or None when it has no such image."""
    if api is not None:
        found = api.image(name)
        return (found["Id"], int(found.get("Size") or 0)) if found else None
    completed = runner.run(cmd.image_id_and_size(name), check=False)
    words = completed.stdout.split()
    if completed.returncode != 0 or len(words) != 2 or not words[1].isdigit():
        return None
    return words[0], int(words[1])
