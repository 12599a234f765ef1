"""`tr4ctl exec` without Docker: the argv, which container, what refuses, what the audit
log keeps, and how a remote call carries the command's own words."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tr4ctl.docker import commands as cmd
from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.plan.remote_call import Terminal, Workstation, plan_remote_call, runs_here
from tr4ctl.plan.service_exec import ExecRequest, audit_details, check_request, running_container
from tr4ctl.plan.services import ServiceState


def test_exec_argv_is_attached_with_a_terminal_only_when_asked():
    assert cmd.exec_attached("abc", ["sh", "-c", "exit 3"], tty=False) == [
        "docker", "exec", "-i", "abc", "sh", "-c", "exit 3"]
    assert cmd.exec_attached("abc", ["sh"], tty=True) == ["docker", "exec", "-i", "-t", "abc", "sh"]


def test_unknown_service_names_the_services_and_no_command_names_the_separator():
    with pytest.raises(BadInput) as unknown:
        check_request("frontend", ["ls"], ("chroma", "backend", "nginx"))
    assert "frontend" in unknown.value.message and "chroma, backend, nginx" in unknown.value.hint
    with pytest.raises(BadInput) as empty:
        check_request("backend", [], ("backend",))
    assert "-- sh" in empty.value.hint


def state(container_id, state_="running", health="healthy"):
    return ServiceState("backend", container_id, state_, health)


def test_a_running_container_healthy_first_and_a_stopped_service_is_exit_3():
    assert running_container("backend", [state("new", health="starting"), state("old")]) == "old"
    assert running_container("backend", [state("a", "exited"), state("b", health=None)]) == "b"
    with pytest.raises(MissingPrerequisite) as stopped:
        running_container("backend", [state("a", "exited", None)])
    assert stopped.value.exit_code == 3 and "tr4ctl up" in stopped.value.hint


def test_the_audit_keeps_the_program_never_its_arguments():
    details = audit_details(ExecRequest("backend", ("/usr/bin/psql", "password=hunter2"), True))
    assert details == {"service": "backend", "program": "psql", "tty": True}
    assert "hunter2" not in repr(details)


HOST = Workstation("ssh://ubuntu@203.0.113.7:2222", "/srv/tr4ction")


def test_a_remote_exec_keeps_the_commands_help_and_json_its_own():
    argv = ["exec", "backend", "--", "python", "--help", "--json"]
    assert not runs_here(argv)
    call = plan_remote_call(argv, HOST, Terminal(stdin_tty=True, stdout_tty=True),
                            version="9", remote_tr4ctl="tr4ctl", is_local_file=lambda p: False)
    assert call.tty  # the command's --json is not tr4ctl's: a shell still gets its pty
    assert call.remote_argv()[-6:] == argv
    piped = plan_remote_call(argv, HOST, Terminal(stdin_tty=False, stdout_tty=True),
                             version="9", remote_tr4ctl="tr4ctl", is_local_file=lambda p: False)
    assert not piped.tty  # stdin carries data: no pty to mangle it


def test_exec_cli_refuses_an_unknown_service_in_one_line(tmp_path):
    (tmp_path / ".env").write_text("")
    done = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path),
                           "exec", "frontend", "--", "ls"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown service 'frontend'" in lines[0] and "backend" in lines[0]
    assert not (tmp_path / ".tr4ctl" / "audit.jsonl").exists()
