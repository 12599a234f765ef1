"""Which engine a command works with: resolved once as the docker CLI resolves it, and
given to every process the runner starts, so reads and writes reach the same engine."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from tr4ctl.docker.endpoint import DEFAULT_HOST, resolve_endpoint
from tr4ctl.docker.runner import Runner
from tr4ctl.errors import BadInput


def make_context(config_dir: Path, name: str, host: str, *, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host,
                                                               "SkipTLSVerify": False}}}))
    if tls:
        (config_dir / "contexts" / "tls" / digest / "docker").mkdir(parents=True)


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "docker-config"
    folder.mkdir()
    make_context(folder, "second", "unix:///run/second/docker.sock")
    make_context(folder, "remote", "ssh://ops@127.0.0.1")
    make_context(folder, "secure", "tcp://127.0.0.1:2376", tls=True)
    (folder / "config.json").write_text(json.dumps({"currentContext": "second"}))
    return folder


def test_docker_host_wins_over_docker_context_and_the_current_context(config_dir):
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(config_dir),
                                 "DOCKER_HOST": "unix:///run/first.sock",
                                 "DOCKER_CONTEXT": "remote"})
    assert endpoint.host == "unix:///run/first.sock"
    assert endpoint.socket_path == Path("/run/first.sock")


def test_docker_context_wins_over_the_current_context(config_dir):
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "remote"})
    assert endpoint.host == "ssh://ops@127.0.0.1"
    assert endpoint.socket_path is None  # the reads go through the docker CLI


def test_the_current_context_of_the_docker_config_is_obeyed(config_dir):
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(config_dir)})
    assert endpoint.socket_path == Path("/run/second/docker.sock")


def test_the_docker_config_defaults_to_home(tmp_path):
    make_context(tmp_path / ".docker", "second", "unix:///run/second/docker.sock")
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "second"}')
    assert resolve_endpoint({"HOME": str(tmp_path)}).host == "unix:///run/second/docker.sock"


@pytest.mark.parametrize("environ", [
    {},  # no config.json at all
    {"DOCKER_CONTEXT": "default"},
])
def test_default_is_the_default_socket(tmp_path, environ):
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), **environ})
    assert endpoint.host == DEFAULT_HOST
    assert endpoint.socket_path == Path("/var/run/docker.sock")


def test_a_config_without_a_current_context_is_the_default_socket(tmp_path):
    (tmp_path / "config.json").write_text('{"auths": {}}')
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}).host == DEFAULT_HOST


@pytest.mark.parametrize("environ, words", [
    ({"DOCKER_CONTEXT": "nowhere"}, ("'nowhere'", "DOCKER_CONTEXT", "does not exist")),
])
def test_a_context_that_does_not_exist_is_bad_input_naming_the_fix(config_dir, environ, words):
    with pytest.raises(BadInput) as caught:
        resolve_endpoint({"DOCKER_CONFIG": str(config_dir), **environ})
    assert all(word in caught.value.message for word in words)
    assert "docker context ls" in caught.value.hint


def test_a_broken_docker_config_is_bad_input(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BadInput, match="config.json is not valid JSON"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})


SHOW_ENGINE = [sys.executable, "-c", ("import os; print(os.environ.get('DOCKER_HOST'), "
                                      "os.environ.get('DOCKER_CONTEXT'))")]


class Trace:
    def detail(self, message):
        pass


def test_every_process_gets_the_resolved_engine_explicitly(config_dir):
    """The current context resolved once: a docker process started with this environment
    reaches that engine even if `docker context use` changes the config meanwhile."""
    environ = {"DOCKER_CONFIG": str(config_dir), "PATH": "/usr/bin:/bin"}
    runner = Runner(Trace(), resolve_endpoint(environ).child_environment(environ))
    (config_dir / "config.json").write_text('{"currentContext": "remote"}')
    expected = "unix:///run/second/docker.sock None"
    assert runner.output(SHOW_ENGINE).strip() == expected
    assert list(runner.lines(SHOW_ENGINE)) == [expected]


def test_docker_context_is_replaced_by_the_host_it_names(config_dir):
    environ = {"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "second"}
    runner = Runner(Trace(), resolve_endpoint(environ).child_environment(environ))
    assert runner.output(SHOW_ENGINE).strip() == "unix:///run/second/docker.sock None"


def test_a_context_with_tls_material_is_passed_by_name(config_dir):
    """DOCKER_HOST alone would drop the context's certificates."""
    environ = {"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "secure"}
    endpoint = resolve_endpoint(environ)
    assert endpoint.socket_path is None
    runner = Runner(Trace(), endpoint.child_environment(environ))
    assert runner.output(SHOW_ENGINE).strip() == "None secure"
