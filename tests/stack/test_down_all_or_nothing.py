"""`down --volumes --yes` is all or nothing: every container of the project (PostgreSQL's
left by `db use postgres` then `db use sqlite`, a one-off `run` container, a tr4ctl
helper) is stopped and removed before the first volume goes; a container of anyone else
on a volume refuses it with nothing removed; run again, it finishes."""

from __future__ import annotations

import json
import os

import pytest
from conftest import docker, running_stack
from one_line import one_line
from refusals import Unchanged

from tr4ctl.facts import VOLUME_KEYS


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "downall") as stack:
        stack.tr4ctl("users", "seed", "--admin-email", "admin@down.test", "--founder-email",
                     "founder@down.test", "--password-stdin",
                     input="down-test-password-1\ndown-test-password-1\n")
        stack.tr4ctl("db", "use", "postgres")
        stack.tr4ctl("db", "use", "sqlite")
        yield stack


def volumes(stack) -> set[str]:
    return {v for v in docker("volume", "ls", "-q").split() if v.startswith(f"{stack.name}_")}


def ours(stack) -> list[str]:
    ids = set()
    for label in ("com.docker.compose.project", "io.tr4ctl.project"):
        ids |= set(docker("ps", "-aq", "--filter", f"label={label}={stack.name}").split())
    return sorted(ids)


def an_image(stack) -> str:
    """An image on this host with `sleep` (the stack's own PostgreSQL's)."""
    postgres = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.name}",
                      "--filter", "label=com.docker.compose.service=postgres").split()
    assert postgres, "db use sqlite left no PostgreSQL container: the case is not set up"
    return docker("inspect", "--format", "{{.Config.Image}}", postgres[0]).strip()


def sleeper(image: str, *options: str) -> str:
    return docker("run", "-d", *options, "--entrypoint", "sleep", image, "600").strip()


def test_a_foreign_container_on_a_volume_refuses_it_all(stack):
    image = an_image(stack)
    foreign = sleeper(image, "--name", f"t4t-foreign-{os.getpid()}",
                      "-v", f"{stack.name}_backend_data:/x")
    try:
        before = volumes(stack)
        with Unchanged(stack):
            result = stack.tr4ctl("down", "--volumes", "--yes", check=False)
            one_line(result, 2, "not this stack's use its volumes",
                           f"t4t-foreign-{os.getpid()}", "nothing was removed")
        assert volumes(stack) == before and len(before) == len(VOLUME_KEYS)
    finally:
        docker("rm", "-f", foreign)


def test_every_container_goes_before_the_first_volume(stack):
    image = an_image(stack)
    compose = ["compose", "-p", stack.name, "-f",
               str(stack.project_dir / ".tr4ctl" / "docker-compose.yml")]
    # A one-off `run` of the certbot tool (profile tools), and a tr4ctl helper.
    docker(*compose, "run", "-d", "--entrypoint", "sleep", "certbot", "600")
    sleeper(image, "--label", f"io.tr4ctl.project={stack.name}",
            "-v", f"{stack.name}_chroma_data:/x")
    services = {json.loads(docker("inspect", "--format", "{{json .Config.Labels}}", c))
                .get("com.docker.compose.service") for c in ours(stack)}
    assert {"postgres", "certbot", None} <= services  # None: the helper

    done = stack.tr4ctl("down", "--volumes", "--yes", check=False)
    assert done.returncode == 0, done.stderr
    assert ours(stack) == [] and volumes(stack) == set()
    assert docker("network", "ls", "-q", "--filter", f"name=^{stack.name}_network$").strip() == ""
    # No data any more: the database may be chosen again.
    state = json.loads((stack.project_dir / ".tr4ctl" / "state.json").read_text())
    assert state["database"] is None

    again = stack.tr4ctl("down", "--volumes", "--yes", check=False)
    assert again.returncode == 0, again.stderr


def test_a_half_done_removal_is_finished_by_running_it_again(stack):
    """What an interrupted run leaves: some volumes gone, a container still on another."""
    image = an_image_from_host()
    for key in ("postgres_data", "backend_data"):
        docker("volume", "create", f"{stack.name}_{key}")
    sleeper(image, "--label", f"com.docker.compose.project={stack.name}",
            "--label", "com.docker.compose.service=postgres",
            "-v", f"{stack.name}_postgres_data:/x")
    done = stack.tr4ctl("down", "--volumes", "--yes", check=False)
    assert done.returncode == 0, done.stderr
    assert ours(stack) == [] and volumes(stack) == set()


def an_image_from_host() -> str:
    images = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                    "tr4ctl-local/postgres").split()
    assert images, "no local PostgreSQL image: `tr4ctl images build-local` makes it"
    return images[0]
