"""TR4CTL_TARGET=swarm is checked against the engine where it is set: on an engine that
is not a swarm manager (the host's is not one, and these tests never make it one)
`config set` refuses it naming `docker swarm init`, with .env and the running stack
unchanged, and `status` of a project set so says it in one line."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from conftest import docker
from one_line import one_line
from refusals import Unchanged


@pytest.fixture(scope="module", autouse=True)
def not_a_manager(docker_engine):
    swarm = json.loads(docker("info", "--format", "{{json .Swarm}}"))
    assert not swarm.get("ControlAvailable"), "this engine is a swarm manager: nothing to refuse"


@pytest.mark.parametrize("assignments", [
    ["TR4CTL_TARGET=swarm"],
    ["TR4CTL_TARGET= swarm"],
    ["TR4CTL_TARGET=swarm", "TR4CTL_BACKEND_REPLICAS=1"],
    ["TR4CTL_GUNICORN_WORKERS=2", "TR4CTL_TARGET=swarm"],
])
def test_config_set_refuses_swarm_on_an_engine_that_is_not_a_manager(dev_stack, assignments):
    with Unchanged(dev_stack):
        result = dev_stack.tr4ctl("config", "set", *assignments, check=False)
        one_line(result, 3, "not a swarm manager", "docker swarm init")


@contextmanager
def env_line(stack, line: str):
    env_file = stack.project_dir / ".env"
    original = env_file.read_bytes()
    env_file.write_bytes(original + f"{line}\n".encode())
    try:
        yield
    finally:
        env_file.write_bytes(original)


@pytest.mark.parametrize("args", [["status"], ["status", "--check"], ["--json", "status"]])
def test_status_of_a_swarm_project_on_a_non_manager_says_so(dev_stack, args):
    with Unchanged(dev_stack):
        from_env = dev_stack.tr4ctl(*args, check=False, env={"TR4CTL_TARGET": "swarm"})
        one_line(from_env, 3, "not a swarm manager", "docker swarm init")
        with env_line(dev_stack, "TR4CTL_TARGET=swarm"):
            from_file = dev_stack.tr4ctl(*args, check=False)
            one_line(from_file, 3, "not a swarm manager", "docker swarm init")
    if args[0] == "--json":
        assert json.loads(from_file.stdout)["exit_code"] == 3


def test_up_with_the_swarm_target_is_refused_the_same_way(dev_stack):
    with Unchanged(dev_stack):
        for result in (dev_stack.tr4ctl("up", "--target", "swarm", check=False),
                       dev_stack.tr4ctl("up", check=False, env={"TR4CTL_TARGET": "swarm"})):
            one_line(result, 3, "not a swarm manager", "docker swarm init")
