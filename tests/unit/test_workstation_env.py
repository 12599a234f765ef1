"""`config set` of the workstation's own keys (TR4CTL_HOST and the rest) in a folder with
no .env: only those keys are written, 0600, never a stack's settings or a JWT secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from tr4ctl.actions.config.set import workstation_only

HOST = "ssh://ubuntu@203.0.113.7"  # never contacted: config set of these keys stays here


def test_only_workstation_keys_make_a_workstation_file():
    assert workstation_only({"TR4CTL_HOST": HOST, "TR4CTL_HOST_DIR": "/srv/t"})
    assert not workstation_only({"TR4CTL_HOST": HOST, "TR4CTL_HTTP_PORT": "8080"})
    assert not workstation_only({})


def _tr4ctl(folder, *args):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(folder), *args],
                          capture_output=True, text=True, env=clean, timeout=60)


def test_config_set_of_the_host_in_an_empty_folder_writes_only_those_keys(tmp_path):
    done = _tr4ctl(tmp_path, "config", "set", f"TR4CTL_HOST={HOST}",
                   "TR4CTL_HOST_DIR=/srv/t3")
    assert done.returncode == 0, done.stderr
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    settings = [line for line in env_file.read_text().splitlines()
                if line and not line.startswith("#")]
    assert settings == [f"TR4CTL_HOST={HOST}", "TR4CTL_HOST_DIR=/srv/t3"]
    # Set again (another workstation key): kept in the same small file.
    again = _tr4ctl(tmp_path, "config", "set", "TR4CTL_HOST_DIR=/srv/t4")
    assert again.returncode == 0, again.stderr
    assert "JWT_SECRET_KEY" not in env_file.read_text()
    assert "TR4CTL_HOST_DIR=/srv/t4" in env_file.read_text()


def test_forwarding_is_considered_only_when_a_host_may_be_set(tmp_path, monkeypatch):
    from tr4ctl.cli.launch import may_forward

    monkeypatch.delenv("TR4CTL_HOST", raising=False)
    monkeypatch.delenv("TR4CTL_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "local"
    local.mkdir()
    (local / ".env").write_text("TR4CTL_HTTP_PORT=8080\n")
    workstation = tmp_path / "ws"
    workstation.mkdir()
    (workstation / ".env").write_text(f"TR4CTL_HOST={HOST}\n")
    assert not may_forward(["--project-dir", str(local), "status"])
    assert not may_forward(["status"])  # no .env here
    assert may_forward(["--project-dir", str(workstation), "status"])
    assert may_forward([f"--project-dir={workstation}", "status"])
    assert may_forward(["--host", HOST, "status"])
    monkeypatch.setenv("TR4CTL_HOST", HOST)
    assert may_forward(["status"])
