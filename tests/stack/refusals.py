"""What a refused command must leave as it was: .env byte for byte, and the stack's
containers (same ids, same StartedAt). The refusal itself: tests/one_line.py."""

from __future__ import annotations

import json

from conftest import docker


def containers(stack) -> dict[str, str]:
    """Every container of the project, any state: id -> StartedAt."""
    ids = docker("ps", "-aq", "--no-trunc", "--filter",
                 f"label=com.docker.compose.project={stack.name}").split()
    if not ids:
        return {}
    return {c["Id"]: c["State"]["StartedAt"] for c in json.loads(docker("inspect", *ids))}


class Unchanged:
    """`with Unchanged(stack):` around a refused command: .env and the containers are as
    they were before it."""

    def __init__(self, stack):
        self.stack = stack

    def __enter__(self):
        self.env = (self.stack.project_dir / ".env").read_bytes()
        self.containers = containers(self.stack)
        assert self.containers, "the stack has no containers to compare"
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False
        assert (self.stack.project_dir / ".env").read_bytes() == self.env
        assert containers(self.stack) == self.containers
        return False
