"""The files that become swarm secrets are named after what they hold as it is now: the
runtime reads them at each render (no Docker engine: rendering needs none)."""

import hashlib
import os

import yaml

from tr4ctl.output import Output
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.stack import render_compose
from tr4ctl.runtime import Runtime


def _secret_names(folder) -> dict[str, str]:
    rt = Runtime(project_dir=folder, out=Output())
    text = render_compose(rt.config, Environment.DEV, rt.paths, rt.stack_inputs)
    return {key: value["name"] for key, value in yaml.safe_load(text)["secrets"].items()}


def test_a_rewritten_key_file_renders_a_new_secret_name(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith(("TR4CTL_", "DOCKER_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    key, known = tmp_path / "id", tmp_path / "known_hosts"
    key.write_text("key one\n")
    known.write_text("store.test ssh-ed25519 AAAA\n")
    (tmp_path / ".env").write_text(
        "TR4CTL_TARGET=swarm\nTR4CTL_BIND_ADDRESS=0.0.0.0\nTR4CTL_BACKUP_SCHEDULE=hourly\n"
        "TR4CTL_BACKUP_TARGET=sftp:b@store.test:/r\n"
        f"TR4CTL_BACKUP_SSH_KEY={key}\nTR4CTL_BACKUP_SSH_KNOWN_HOSTS={known}\n")
    before = _secret_names(tmp_path)
    digest = hashlib.sha256(b"key one\n").hexdigest()[:12]
    assert before["backup_ssh_key"].endswith(f"_backup_ssh_key_{digest}")
    key.write_text("key two\n")
    after = _secret_names(tmp_path)
    assert after["backup_ssh_key"] != before["backup_ssh_key"]
    assert after["backup_known_hosts"] == before["backup_known_hosts"]
    # The restic key, not written yet, is named after nothing; then after its content.
    password = tmp_path / ".tr4ctl" / "secrets" / "restic_password"
    password.parent.mkdir(parents=True)
    password.write_text("restic key\n")
    assert _secret_names(tmp_path)["restic_password"] != after["restic_password"]


def test_a_fifo_as_a_key_is_named_after_nothing_and_never_read(tmp_path, monkeypatch):
    """`config show` renders without the checks `up` makes first: it must not hang."""
    for key in [k for k in os.environ if k.startswith(("TR4CTL_", "DOCKER_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    fifo, known = tmp_path / "id", tmp_path / "known_hosts"
    os.mkfifo(fifo)
    known.write_text("store.test ssh-ed25519 AAAA\n")
    (tmp_path / ".env").write_text(
        "TR4CTL_TARGET=swarm\nTR4CTL_BIND_ADDRESS=0.0.0.0\nTR4CTL_BACKUP_SCHEDULE=hourly\n"
        "TR4CTL_BACKUP_TARGET=sftp:b@store.test:/r\n"
        f"TR4CTL_BACKUP_SSH_KEY={fifo}\nTR4CTL_BACKUP_SSH_KNOWN_HOSTS={known}\n")
    empty = hashlib.sha256(b"").hexdigest()[:12]
    assert _secret_names(tmp_path)["backup_ssh_key"].endswith(f"_{empty}")
