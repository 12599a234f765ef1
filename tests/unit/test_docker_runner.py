"""The one runner and its one failure mapping, without Docker: real processes stand in
for docker (a script that prints what the engine prints and exits as it does)."""

import io
import sys

import pytest

from tr4ctl.docker.failures import api_failure, call_failure, describe_call, engine_reason
from tr4ctl.docker.runner import Runner
from tr4ctl.errors import BadInput, ExitCode, MissingPrerequisite, OperationFailed

COMPOSE_UP = ["docker", "compose", "-p", "acme", "-f", "/p/c.yml", "up", "--detach"]


class Trace:
    def __init__(self):
        self.lines = []

    def detail(self, message):
        self.lines.append(message)


def fake(stderr: str, code: int = 1, stdout: str = "") -> list[str]:
    """A process that writes like a failed docker call."""
    script = (f"import sys; sys.stdout.write({stdout!r}); sys.stderr.write({stderr!r}); "
              f"sys.exit({code})")
    return [sys.executable, "-c", script]


@pytest.mark.parametrize("argv, shown", [
    (COMPOSE_UP, "docker compose up"),
    (["docker", "compose", "-p", "x", "exec", "-T", "nginx", "nginx", "-t"], "docker compose exec"),
    (["docker", "volume", "rm", "acme_data"], "docker volume rm"),
    (["docker", "inspect", "abc"], "docker inspect"),
    (["mmdebstrap", "--variant=minbase"], "mmdebstrap"),
])
def test_a_call_is_named_in_short(argv, shown):
    assert describe_call(argv) == shown


def test_the_engines_own_reason_never_exit_status():
    stderr = ("Error response from daemon: error while removing network: network acme_network "
              "id 4f has active endpoints\nexit status 1\n")
    assert engine_reason(stderr) == ("error while removing network: network acme_network id 4f "
                                     "has active endpoints")
    error = call_failure(["docker", "network", "rm", "acme_network"], 1, stderr)
    assert isinstance(error, OperationFailed) and error.exit_code == ExitCode.FAILED
    assert error.message.startswith("docker network rm failed: error while removing network")
    assert "exit status" not in error.message
    assert "other containers still use the network" in error.hint


@pytest.mark.parametrize("stderr, hint_words", [
    ("Error response from daemon: pull access denied for nginx, repository does not exist",
     "tr4ctl images build-local"),
    (("failed to solve: failed to do request: Head \"https://registry-1.docker.io/v2/library/"
      "python/manifests/3.11-slim\": dial tcp: lookup registry-1.docker.io: no such host"),
     "tr4ctl images build-local"),
    (("Error response from daemon: driver failed programming external connectivity: "
      "Bind for 127.0.0.1:8080 failed: port is already allocated"), "free the port"),
    (("Error starting userland proxy: listen tcp4 10.9.9.9:80: bind: cannot assign requested "
      "address"), "TR4CTL_BIND_ADDRESS"),
    ("write /var/lib/docker/tmp: no space left on device", "free disk space"),
])
def test_known_causes_get_their_hint(stderr, hint_words):
    error = call_failure(COMPOSE_UP, 1, stderr)
    assert hint_words in error.hint


def test_no_daemon_is_a_missing_prerequisite():
    stderr = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
              "Is the docker daemon running?")
    error = call_failure(["docker", "ps"], 1, stderr)
    assert isinstance(error, MissingPrerequisite) and error.exit_code == ExitCode.PREREQUISITE
    assert error.message == "no Docker engine is reachable"
    assert "provision-docker.sh" not in error.hint  # an installed tr4ctl has no scripts/


def test_no_compose_plugin_is_a_missing_prerequisite():
    error = call_failure(COMPOSE_UP, 1, "docker: 'compose' is not a docker command.\n")
    assert isinstance(error, MissingPrerequisite)
    assert "compose v2 plugin" in error.message


def test_the_callers_words_and_advice():
    error = call_failure(["docker", "run"], 2, "tar: /v: Cannot open", what="copying volume x",
                         hint="see the backup's log")
    assert error.message == "copying volume x failed: tar: /v: Cannot open"
    assert error.hint == "see the backup's log"


def test_a_silent_failure_still_says_something():
    error = call_failure(["docker", "run"], 125, "", "")
    assert error.message == "docker run failed: exit code 125, no message"


def test_runner_returns_output_and_shows_the_command():
    trace = Trace()
    completed = Runner(trace).run([sys.executable, "-c", "print('ok')"])
    assert completed.stdout.strip() == "ok"
    assert trace.lines and trace.lines[0].startswith("$ ")


def test_runner_raises_the_mapped_error():
    with pytest.raises(OperationFailed) as caught:
        Runner(Trace()).run(fake("Error response from daemon: No such container: abc\n"),
                            what="finding the backend")
    assert caught.value.message == "finding the backend failed: No such container: abc"


def test_unchecked_calls_return_but_no_engine_still_raises():
    runner = Runner(Trace())
    completed = runner.run(fake("nginx: [emerg] unknown directive\n"), check=False)
    assert completed.returncode == 1
    with pytest.raises(MissingPrerequisite):
        runner.run(fake("Cannot connect to the Docker daemon at unix:///x. "
                        "Is the docker daemon running?"), check=False)


def test_missing_program_and_timeout():
    runner = Runner(Trace())
    with pytest.raises(MissingPrerequisite, match="not-a-tool-here is not installed"):
        runner.run(["not-a-tool-here", "--version"])
    with pytest.raises(OperationFailed, match="did not finish within 0s"):
        runner.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
    # An attached process that never ends (`docker service logs`, moby/moby#38640).
    with pytest.raises(OperationFailed, match="did not finish within 0s"):
        runner.attach([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)


def test_secret_values_travel_in_the_environment_not_argv():
    argv = [sys.executable, "-c", "import os; print(os.environ['TR4CTL_TEST_SECRET'])"]
    completed = Runner(Trace()).run(argv, env={"TR4CTL_TEST_SECRET": "s3cret-value"})
    assert completed.stdout.strip() == "s3cret-value"
    assert "s3cret-value" not in " ".join(argv)


def test_streams_to_a_file_and_from_a_source(tmp_path):
    runner = Runner(Trace())
    dest = tmp_path / "out.bin"
    stderr = runner.run_to_file(
        [sys.executable, "-c", ("import sys; sys.stdout.buffer.write(b'x' * 70000); "
                               "sys.stderr.write('note')")], dest)
    assert dest.read_bytes() == b"x" * 70000 and stderr == "note"
    sink = tmp_path / "sink.bin"
    copy = f"import sys; open({str(sink)!r}, 'wb').write(sys.stdin.buffer.read())"
    runner.run_from_stream([sys.executable, "-c", copy], io.BytesIO(b"y" * 3_000_000))
    assert sink.read_bytes() == b"y" * 3_000_000
    with pytest.raises(OperationFailed, match="restoring volume v failed: disk full"):
        runner.run_from_stream(fake("disk full\n"), io.BytesIO(b"z"), what="restoring volume v")


# -- the exit-code class of an engine's refusal, several wordings each ----------------------
MISSING_IMAGES = [
    "Error response from daemon: No such image: t4t-gone:1",
    ("Error response from daemon: pull access denied for t4t-gone, repository does not exist "
    "or may require 'docker login'"),
    "Error response from daemon: manifest for tr4ction/backend:9 not found: manifest unknown",
    ('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
     "registry-1.docker.io on 10.0.0.53:53: no such host"),
    "failed to solve: failed to resolve reference \"docker.io/library/python:3.11\"",
]
MALFORMED_REFERENCES = [
    "docker: invalid reference format: repository name (library/UPPER) must be lowercase",
    "Error response from daemon: invalid reference format",
    "Error response from daemon: no such image: a::b: invalid reference format",
]
BAD_ENDPOINTS = [
    ("Failed to initialize: unable to resolve docker endpoint: invalid bind address format: "
    "garbage://x"),
    "Failed to initialize: ssh host connection is not valid: invalid SSH URL: hostname is empty",
    ('unable to resolve docker endpoint: parse "tcp://h:abc": invalid port ":abc" after host'),
]


@pytest.mark.parametrize("argv", [COMPOSE_UP, ["docker", "run", "--rm", "x"],
                                  ["docker", "image", "inspect", "x"]])
@pytest.mark.parametrize("stderr", MISSING_IMAGES)
def test_a_missing_image_is_a_missing_prerequisite(argv, stderr):
    error = call_failure(argv, 1, stderr)
    assert isinstance(error, MissingPrerequisite) and error.exit_code == ExitCode.PREREQUISITE
    assert "tr4ctl images build-local" in error.hint


@pytest.mark.parametrize("stderr", MALFORMED_REFERENCES)
def test_a_malformed_reference_is_bad_input(stderr):
    error = call_failure(["docker", "run", "--rm", "x"], 125, stderr)
    assert isinstance(error, BadInput) and error.exit_code == ExitCode.BAD_INPUT
    assert "lower case" in error.hint


@pytest.mark.parametrize("stderr", BAD_ENDPOINTS)
def test_an_unparsable_docker_host_is_bad_input(stderr):
    error = call_failure(["docker", "version"], 1, stderr)
    assert isinstance(error, BadInput) and "DOCKER_HOST" in error.hint
    assert error.message.startswith("the Docker engine's address is not valid: ")


@pytest.mark.parametrize("stderr, kind", [
    (MALFORMED_REFERENCES[1], BadInput), (BAD_ENDPOINTS[0], BadInput),
    ("Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?",
     MissingPrerequisite),
])
def test_unchecked_calls_still_raise_what_is_no_answer(stderr, kind):
    with pytest.raises(kind):
        Runner(Trace()).run(fake(stderr), check=False)


@pytest.mark.parametrize("stderr", MISSING_IMAGES[:2] + ["nginx: [emerg] unknown directive"])
def test_unchecked_calls_return_an_answer(stderr):
    assert Runner(Trace()).run(fake(stderr), check=False).returncode == 1


@pytest.mark.parametrize("status, message, kind", [
    (404, "no such image: t4t-gone:1: No such image: t4t-gone:1", MissingPrerequisite),
    (400, "no such image: UPPER:x: invalid reference format: repository name must be lowercase",
     BadInput),
    (400, "no such image: a::b: invalid reference format", BadInput),
    (500, "something broke", OperationFailed),
])
def test_engine_api_refusals_are_classed_like_cli_ones(status, message, kind):
    error = api_failure("GET", "/images/x/json", status, message)
    assert type(error) is kind and message in error.message
