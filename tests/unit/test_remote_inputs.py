"""Hostile inputs on the workstation's side of a remote host (#21): a known_hosts file
that is a FIFO or a folder, a host that never answers, and `config set` of the
workstation's own keys in a folder without a project."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tr4ctl.cli import launch
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.commands import SshOptions
from tr4ctl.remote.settings import read_workstation, require_known_hosts_file

HOST = "ssh://ubuntu@host.invalid:2222"


def run(args: list[str], env: dict[str, str], monkeypatch, capsys, cwd: Path
        ) -> tuple[int, str]:
    for key in ("TR4CTL_HOST", "TR4CTL_HOST_DIR", "TR4CTL_SSH_KEY", "TR4CTL_SSH_KNOWN_HOSTS",
                "TR4CTL_PROJECT_DIR", "TR4CTL_REMOTE_SESSION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as ended:
        launch.main(args)
    return ended.value.code, capsys.readouterr().err


def one_error_line(stderr: str, *words: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "known_hosts"
    os.mkfifo(path)
    return path


def test_a_known_hosts_fifo_or_folder_is_refused_naming_it(tmp_path, fifo):
    with pytest.raises(BadInput, match="is a FIFO"):
        require_known_hosts_file(fifo)
    with pytest.raises(BadInput, match="is a folder"):
        require_known_hosts_file(tmp_path)
    with pytest.raises(BadInput, match="no folder"):
        require_known_hosts_file(tmp_path / "missing" / "known_hosts")
    require_known_hosts_file(tmp_path / "new_known_hosts")  # ssh adds accepted keys there


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_forwarded_command_never_waits_on_a_known_hosts_fifo(kind, tmp_path, fifo,
                                                                monkeypatch, capsys):
    known = fifo if kind == "fifo" else tmp_path
    code, stderr = run(["status"], {"TR4CTL_HOST": HOST, "TR4CTL_SSH_KNOWN_HOSTS": str(known)},
                       monkeypatch, capsys, tmp_path)
    assert code == 2
    one_error_line(stderr, str(known), "TR4CTL_SSH_KNOWN_HOSTS")


def test_the_known_hosts_setting_is_checked_only_with_a_host(tmp_path, fifo):
    (tmp_path / ".env").write_text(f"TR4CTL_SSH_KNOWN_HOSTS={fifo}\n")
    assert read_workstation(tmp_path).known_hosts == str(fifo)  # unused: no host
    with pytest.raises(BadInput, match="is a FIFO"):
        read_workstation(tmp_path, HOST)


def test_a_host_that_never_answers_is_named_not_waited_on(tmp_path, monkeypatch):
    """A fake ssh that hangs: the step ends at its timeout with one error naming the host."""
    from tr4ctl.remote.connection import SshConnection

    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")

    class Quiet:
        def detail(self, message: str) -> None:
            pass

    connection = SshConnection(SshTarget("host.invalid", "ubuntu"),
                               SshOptions(control_dir=tmp_path), Quiet())
    with pytest.raises(OperationFailed) as failed:
        connection.run(["tr4ctl", "images", "list"], timeout=1)
    assert "host.invalid" in failed.value.message and "within 1 s" in failed.value.message
    assert failed.value.exit_code == 1


def test_config_set_of_the_host_keeps_an_existing_projects_settings(tmp_path, monkeypatch,
                                                                    capsys):
    env = tmp_path / ".env"
    env.write_text("TR4CTL_HTTP_PORT=8088\n")
    env.chmod(0o600)
    code, stderr = run(["config", "set", f"TR4CTL_HOST={HOST}"], {}, monkeypatch, capsys,
                       tmp_path)
    assert code == 0, stderr
    assert env.read_text().splitlines() == ["TR4CTL_HTTP_PORT=8088", f"TR4CTL_HOST={HOST}"]
