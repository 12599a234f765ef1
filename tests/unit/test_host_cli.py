"""`host bootstrap | check`: refused input in one line with exit 2 before any
connection, and what the host gets shipped (the scripts, in the wheel too)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tr4ctl.actions.host.connect import HOST_SCRIPTS, host_packages, scripts_tar
from tr4ctl.cli import app
from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.failures import UnknownHostKey, ssh_failure

REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], monkeypatch, capsys) -> tuple[int, str]:
    for key in ("TR4CTL_HOST", "TR4CTL_HOST_DIR", "TR4CTL_SSH_KEY", "TR4CTL_SSH_KNOWN_HOSTS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as ended:
        app.main(args)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("args", "env", "words"), [
    (["host", "bootstrap"], {}, "no host given"),
    (["host", "check"], {}, "set TR4CTL_HOST"),
    (["host", "bootstrap", "ubuntu@host"], {}, "is not an ssh:// address"),
    (["host", "bootstrap", "ssh://ubuntu:pw@host"], {}, "never carries a password"),
    (["host", "check", "ssh://ubuntu@host", "-i", "/nonexistent/key"], {}, "no SSH key"),
    (["host", "bootstrap", "ssh://ubuntu@host"], {"TR4CTL_SSH_KEY": "/nonexistent/key"},
     "no SSH key at /nonexistent/key"),
    (["host", "bootstrap", "ssh://ubuntu@host"], {"TR4CTL_HOST_DIR": "srv/x"},
     "not an absolute path"),
])
def test_bad_input_is_refused_before_any_connection(args, env, words, monkeypatch, capsys):
    code, stderr = run(args, env, monkeypatch, capsys)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, stderr
    assert words in lines[0] and lines[0].startswith("error: ")


def test_a_first_contact_is_its_own_error_kind():
    error = ssh_failure(SshTarget("h", "ubuntu"), None,
                        "No ED25519 host key is known for h and you have requested strict "
                        "checking.\nHost key verification failed.\n")
    assert isinstance(error, UnknownHostKey) and error.exit_code == 2
    changed = ssh_failure(SshTarget("h", "ubuntu"), None,
                          "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\n"
                          "Offending ECDSA key in /k:3\nHost key verification failed.\n")
    assert not isinstance(changed, UnknownHostKey) and "/k:3" in changed.message


def test_known_hosts_names_a_port_off_22_in_brackets():
    assert SshTarget("203.0.113.10", "ubuntu", 2222).known_hosts_name == "[203.0.113.10]:2222"
    assert SshTarget("host.example", "ubuntu", 22).known_hosts_name == "host.example"


def test_the_wheel_carries_the_scripts_the_host_runs():
    force = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["wheel"]["force-include"]
    for name in HOST_SCRIPTS:
        assert force[f"scripts/{name}"] == f"tr4ctl/_assets/scripts/{name}"


def test_the_shipped_tar_holds_the_scripts_and_the_rule_is_host_packages():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(scripts_tar({"extra.sh": "true\n"}))) as archive:
        assert sorted(archive.getnames()) == sorted([*HOST_SCRIPTS, "extra.sh"])
    assert ("debian", "13") in host_packages().HOSTS


def test_an_installed_tr4ctl_ships_the_wheel_it_was_installed_from(tmp_path, monkeypatch):
    from tr4ctl.actions.host import wheel
    from tr4ctl.errors import MissingPrerequisite

    built = tmp_path / "tr4ctl-0.1.0-py3-none-any.whl"
    built.write_bytes(b"PK")

    class Installed:
        def __init__(self, url):
            self.url = url

        def read_text(self, name):
            recorded = {"url": self.url, "archive_info": {}}
            return json.dumps(recorded) if name == "direct_url.json" else None

    monkeypatch.setattr(wheel.metadata, "distribution", lambda name: Installed(built.as_uri()))
    assert wheel.installed_from() == built
    monkeypatch.setattr(wheel.metadata, "distribution",
                        lambda name: Installed((tmp_path / "gone.whl").as_uri()))
    with pytest.raises(MissingPrerequisite, match="installed from"):
        wheel.installed_from()
