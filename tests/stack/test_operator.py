"""The operator's experience on a real engine: data on stdout and whole, one --json
envelope after any command, one exit-code rule, a read-only verify with progress lines,
Ctrl-C and kill -9 during `up` named by `status`, `down --volumes` refusing while a
foreign container uses the network, and a proxy overhead that is never negative.

Read-only checks use the shared dev_stack; everything that stops, breaks or interrupts
runs on this module's own stack, in file order (each test leaves it healthy).
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import docker, running_stack, wait_for
from signalling import lock_is_free, signal_at, state_file

from tr4ctl.facts import VOLUME_KEYS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = set("┏━┃┡│└┌─")


@pytest.fixture(scope="module")
def ops(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "ops") as stack:
        yield stack


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def services(stack) -> dict[str, dict]:
    return {s["service"]: s for s in stack.json("status")["data"]["services"]}


def start_up(stack, env: dict | None = None) -> subprocess.Popen:
    """`tr4ctl up` in its own process group, as a terminal runs it (Ctrl-C goes to all)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(stack.project_dir), "up",
         "--env", "dev"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, **(env or {})})


# Ctrl-C at a terminal reaches the whole process group; SIGTERM (timeout, systemd, CI)
# only the process it is sent to. Both take the same path: 130 and 143.
SIGNALS = {"ctrl-c": (signal.SIGINT, os.killpg, 130, "Ctrl-C"),
           "sigterm": (signal.SIGTERM, os.kill, 143, "SIGTERM")}


# -- output: data on stdout, whole ---------------------------------------------------------
def test_status_table_is_data_on_stdout_plain_when_piped(dev_stack):
    result = dev_stack.tr4ctl("status")
    nginx = [line for line in result.stdout.splitlines() if line.startswith("nginx ")]
    assert len(nginx) == 1, result.stdout  # `tr4ctl status | grep nginx` finds it
    assert f"127.0.0.1:{dev_stack.http_port}->80/tcp" in nginx[0]
    image = services(dev_stack)["nginx"]["image"]
    assert image in nginx[0]  # not cut at 80 columns
    assert not BOX & set(result.stdout)
    assert "stack healthy" in result.stderr and "stack healthy" not in result.stdout


def test_json_after_any_command_is_the_one_envelope(dev_stack):
    for command in (["status"], ["cert", "status"], ["nginx", "status"], ["images", "list"],
                    ["doctor"], ["config", "show"], ["backup", "list"]):
        result = dev_stack.tr4ctl(*command, "--json", check=False)
        after = json.loads(result.stdout)
        before = json.loads(dev_stack.tr4ctl("--json", *command, check=False).stdout)
        assert after["command"] == before["command"] == " ".join(command)
        assert set(after) == set(before) == {"command", "status", "exit_code", "data", "errors"}
        assert after["exit_code"] == result.returncode == (0 if after["status"] == "ok" else 1)
    for args in (["--json", "upp"], ["upp", "--json"], ["status", "--bogus", "--json"]):
        result = dev_stack.tr4ctl(*args, check=False)
        assert result.returncode == 2
        envelope = json.loads(result.stdout)
        assert envelope["status"] == "error" and envelope["exit_code"] == 2, args


def test_logs_json_is_one_object_per_line(dev_stack):
    result = dev_stack.tr4ctl("logs", "--json", "--tail", "5", "-t", "backend", "nginx")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records, result.stderr
    for record in records:
        assert set(record) == {"service", "container", "time", "message"}
        assert record["service"] in ("backend", "nginx") and record["time"][:2] == "20"
        assert "\x1b[" not in record["message"]
    assert result.stderr == ""  # tr4ctl adds nothing of its own to the stream


@pytest.mark.parametrize("how", SIGNALS)
@pytest.mark.parametrize("as_json", [True, False])
def test_ctrl_c_ends_logs_follow_quietly(dev_stack, how, as_json):
    """Ctrl-C or SIGTERM is how one stops following: exit 0, nothing on stderr, even
    when compose's own `logs` ends of the same Ctrl-C first."""
    signum, send, _, _ = SIGNALS[how]
    follow = subprocess.Popen(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(dev_stack.project_dir), "logs",
         "-f", *(["--json"] if as_json else []), "--tail", "1", "backend"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    first = follow.stdout.readline()  # the event: following, the tail has come
    assert first.strip(), follow.stderr.read() if follow.poll() is not None else first
    if as_json:
        assert json.loads(first)["service"] == "backend"
    send(follow.pid, signum)
    _, err = follow.communicate(timeout=60)
    # Attached, compose's own stderr is the terminal's: it writes one empty line.
    assert follow.returncode == 0 and (err if as_json else err.strip()) == "", err


def test_health_proxy_overhead_comes_from_pairs_and_is_never_negative(dev_stack):
    result = dev_stack.tr4ctl("health", "--json", "--samples", "40", check=False)
    assert result.returncode in (0, 1), result.stderr
    latency = json.loads(result.stdout)["data"]["latency_ms"]
    overhead = latency["proxy_overhead"]
    assert overhead["samples"] == 40
    assert min(overhead[f"{p}_ms"] for p in ("p50", "p95", "p99", "max", "mean")) >= 0
    # Both paths are still reported, from the same requests.
    assert latency["backend"]["samples"] == latency["nginx_in_network"]["samples"] == 40


# -- own stack: running -----------------------------------------------------------------------
def test_down_volumes_refused_while_a_foreign_container_uses_the_network(ops):
    network = f"{ops.name}_network"
    image = services(ops)["backend"]["image"]
    # Labelled as a t4t-* project so a killed run's leftovers are cleaned up.
    foreign = f"t4t-foreign-{os.getpid()}"
    docker("run", "-d", "--rm", "--name", foreign, "--network", network,
           "--label", f"com.docker.compose.project={foreign}", "--entrypoint", "sleep",
           image, "600")
    try:
        before = docker("volume", "ls", "-q", "--filter", f"name={ops.name}_").split()
        result = ops.tr4ctl("--json", "down", "--volumes", "--yes", check=False)
        assert result.returncode == 2, result.stderr
        error = json.loads(result.stdout)["errors"][0]
        assert foreign in error["message"] and "nothing was removed" in error["hint"]
        assert docker("volume", "ls", "-q", "--filter", f"name={ops.name}_").split() == before
        assert len(before) == len(VOLUME_KEYS)
        assert ops.tr4ctl("status", "--check").returncode == 0  # not even stopped
    finally:
        docker("rm", "-f", foreign, check=False)


def test_backup_names_and_the_undo_command_are_never_cut(ops, tmp_path):
    backups = tmp_path / "backups"
    created = ops.json("backup", "create", "--dir", str(backups))["data"]["path"]
    name = Path(created).name
    assert len(name) > 40
    # On a narrow terminal the table may be wider than the screen, never cut.
    primary, secondary = pty.openpty()
    listing = subprocess.Popen(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(ops.project_dir), "backup",
         "list", "--dir", str(backups)], stdout=secondary, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "60"})
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the pty is closed once the process exits
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    assert listing.wait(timeout=60) == 0, listing.stderr.read()
    listing.stderr.close()
    table = ANSI.sub("", seen.decode())
    assert name in table and BOX & set(table), table
    # Piped: plain columns, the name whole.
    assert name in ops.tr4ctl("backup", "list", "--dir", str(backups)).stdout

    restored = ops.tr4ctl("backup", "restore", created, "--yes", "--dir", str(backups))
    undo = [line for line in restored.stderr.splitlines() if "undo with" in line]
    assert len(undo) == 1, restored.stderr
    command = re.search(r"`(tr4ctl [^`]+)`", undo[0]).group(1)
    assert command.endswith("--yes") and "backup restore" in command


def test_verify_only_reads_and_says_what_takes_time(ops):
    before = services(ops)["backend"]
    result = ops.tr4ctl("verify", "--json", check=False)
    assert result.returncode in (0, 1), result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    item = checks["data survives a backend restart"]
    assert item["verdict"] == "skip" and "--restart" in item["reason"]
    after = services(ops)["backend"]
    assert (after["container_id"], after["started_at"], after["restart_count"]) == (
        before["container_id"], before["started_at"], before["restart_count"])
    # A line for each item that takes over a second, none for the quick ones.
    progress = [line for line in result.stderr.splitlines() if line.startswith("… verify: ")]
    assert progress, result.stderr
    assert len(progress) < len(checks)
    assert all(line.removeprefix("… verify: ") in checks or "non-root" in line
               for line in progress), progress


# -- own stack: stopped -----------------------------------------------------------------------
NEEDS_THE_STACK = [("nginx", "use", "dev"), ("bench",), ("health",), ("verify",),
                   ("users", "list"), ("logs",), ("logs", "backend")]


def test_with_the_stack_down_every_command_that_needs_it_exits_3(ops):
    ops.tr4ctl("down")
    for command in NEEDS_THE_STACK:
        result = ops.tr4ctl(*command, check=False)
        assert result.returncode == 3, (command, result.stderr)
        error = lines_of(result.stderr)
        assert len(error) == 1 and "not running" in error[0] and "tr4ctl up" in error[0], (
            command, result.stderr)
        envelope = json.loads(ops.tr4ctl(*command, "--json", check=False).stdout)
        assert envelope["exit_code"] == 3 and envelope["status"] == "error", command
    status = ops.tr4ctl("status")
    assert "stack stopped" in status.stderr
    checked = ops.tr4ctl("--json", "status", "--check", check=False)
    assert checked.returncode == 3
    assert json.loads(checked.stdout)["data"]["condition"] == "stopped"


@pytest.mark.parametrize("how", SIGNALS)
def test_ctrl_c_during_up_says_where_it_stopped_and_the_next_up_finishes(ops, how):
    signum, send, code, name = SIGNALS[how]
    if services(ops)["nginx"]["state"] != "absent":
        ops.tr4ctl("down")
    # Healthchecks every 30 s for this `up` only: the step waited for is still under way
    # when the signal lands (with 1 s, `up` could finish first).
    process = start_up(ops, env={"TR4CTL_HEALTHCHECK_INTERVAL": "30s"})
    step = "waiting for the services to be healthy"
    out, err = signal_at(ops, process, "up_in_progress", step, signum=signum, send=send,
                         timeout=120)
    assert process.returncode == code, err
    assert state_file(ops)["up_in_progress"]["step"] == step
    # Progress lines of the steps before ("… starting the containers"), then one error.
    error = [line for line in lines_of(err) if not line.startswith("… ")]
    assert len(error) == 1 and f"`up` interrupted ({name}) while {step}" in error[0], err
    assert lines_of(err)[-1] == error[0]
    assert "tr4ctl up --env dev" in error[0] and "Traceback" not in err
    assert out == ""
    assert lock_is_free(ops)

    status = ops.tr4ctl("--json", "status", "--check", check=False)
    assert status.returncode == 1, status.stderr
    data = json.loads(status.stdout)["data"]
    assert data["condition"] == "degraded" and data["unfinished_up"]["step"] == step
    assert f"stopped while {step}" in status.stderr and "tr4ctl up --env dev" in status.stderr

    again = ops.tr4ctl("up", "--env", "dev")
    assert f"stopped while {step}: finishing it now" in again.stderr
    assert "up_in_progress" not in state_file(ops)
    assert ops.tr4ctl("status", "--check").returncode == 0


def test_a_killed_up_is_named_by_status(ops):
    ops.tr4ctl("down")
    process = start_up(ops)
    signal_at(ops, process, "up_in_progress", "waiting for the services to be healthy",
              signum=signal.SIGKILL, send=os.killpg, timeout=60)
    # The services come up without it; the record says the `up` never finished.
    wait_for(lambda: all(s["health"] == "healthy" for name, s in services(ops).items()
                         if name != "certbot"), "the services to be healthy anyway")
    status = ops.tr4ctl("status", "--check", check=False)
    assert status.returncode == 1
    assert "stopped while waiting for the services to be healthy" in status.stderr
    assert "finishing it now" in ops.tr4ctl("up", "--env", "dev").stderr
    assert ops.tr4ctl("status", "--check").returncode == 0
