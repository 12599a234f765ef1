"""Disks that never fill: every container's log is rotated by the engine at
TR4CTL_LOG_MAX_SIZE, TR4CTL_LOG_MAX_FILES kept, however much a service logs."""

from __future__ import annotations

import glob
import json
import os

import pytest
from conftest import docker, running_stack

MAX_SIZE_KB, MAX_FILES = 16, 2


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    settings = {"TR4CTL_LOG_MAX_SIZE": f"{MAX_SIZE_KB}k", "TR4CTL_LOG_MAX_FILES": str(MAX_FILES)}
    with running_stack(tmp_path_factory, "logs", settings=settings) as running:
        yield running


def test_a_service_that_logs_without_end_keeps_its_files_under_the_limit(stack):
    # Each request is a log line in nginx and in the backend (about 330 bytes in the
    # engine's JSON): 3000 requests write about 1 MB each, 30 times the limit.
    stack.tr4ctl("bench", "--requests", "3000", "--concurrency", "4")
    for service, container in stack.container_ids().items():
        config = json.loads(docker("inspect", "-f", "{{json .HostConfig.LogConfig}}",
                                   container))
        assert config == {"Type": "json-file", "Config": {
            "max-size": f"{MAX_SIZE_KB}k", "max-file": str(MAX_FILES)}}, service
        log_path = docker("inspect", "-f", "{{.LogPath}}", container).strip()
        files = glob.glob(glob.escape(log_path) + "*")
        total = sum(os.path.getsize(path) for path in files)
        assert len(files) <= MAX_FILES, (service, files)
        # The file being written may pass the size by the line that crossed it.
        assert total <= MAX_FILES * MAX_SIZE_KB * 1024 + 4096, (service, total)
        if service in ("nginx", "backend"):
            assert len(files) == MAX_FILES, (service, files)  # it did rotate
    assert "GET" in stack.tr4ctl("logs", "nginx", "-n", "5").stdout  # still readable
    # nginx writes no log file of its own, unrotated, beside the engine's.
    assert docker("exec", stack.container_ids()["nginx"],
                  "find", "/var/log/nginx", "-type", "f") == ""

    # verify follows a request into the engine's logs, rotated as they are now.
    result = stack.tr4ctl("verify", "--no-restart", "--json", check=False)
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["logging active"]["verdict"] == "pass", checks["logging active"]
    assert checks["disk space"]["verdict"] == "pass", checks["disk space"]
    # And status has room to report: no warning on this machine.
    assert stack.json("status")["data"]["warnings"] == []
