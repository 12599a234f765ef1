"""`config set` of the workstation's own keys (TR4CTL_HOST and the rest) in a folder with
no .env: only those keys are written, 0600, never a stack's settings or a JWT secret."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest

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


# A plain .env is read line by line on a forwarded start; anything else by python-dotenv.
PLAIN_FILES = [
    f"# tr4ctl workstation\nTR4CTL_HOST={HOST}\nTR4CTL_HOST_DIR=/srv/t3\n",
    f"TR4CTL_HOST={HOST}  # the EC2 box\nTR4CTL_SSH_KEY=keys/id_ed25519\n\n",
    "TR4CTL_HOST=\nTR4CTL_HTTP_PORT=8080\n",
    "# TR4CTL_HOST=ssh://old@198.51.100.9\n",
]
NOT_PLAIN = [
    f'TR4CTL_HOST="{HOST}"\n',
    f"export TR4CTL_HOST={HOST}\n",
    f"TR4CTL_HOST = {HOST}\n",
    f" TR4CTL_HOST={HOST}\n",
    "TR4CTL_SSH_KEY=${HOME}/k\n",
    f"TR4CTL_HOST={HOST}#x\n",
    "TR4CTL_HOST\n",
    f"OTHER='a\nTR4CTL_HOST={HOST}'\n",
]


def test_a_plain_env_reads_as_python_dotenv_reads_it_and_any_other_is_left_to_it():
    import io

    from dotenv.parser import parse_stream

    from tr4ctl.config.workstation import WORKSTATION_KEYS, plain_env_values

    for text in PLAIN_FILES:
        dotenv = {b.key: b.value for b in parse_stream(io.StringIO(text))
                  if b.key in WORKSTATION_KEYS}
        assert plain_env_values(text) == dotenv, text
    for text in NOT_PLAIN:
        assert plain_env_values(text) is None, text


@pytest.mark.parametrize("set_by", [".env", "environment"])
def test_a_forwarded_start_imports_no_heavy_module(tmp_path, set_by):
    """What a forwarded `status` costs before ssh starts (bench/results/*-remote-*.json):
    the forwarding modules and small stdlib ones, never the command tree, config's keys,
    python-dotenv, dataclasses, typing or rich, nor re, enum, pathlib or hashlib (with the
    launcher, bin/tr4ctl, that is 8 ms less than pip's console script, which imports re);
    with the host in a plain .env, or in the environment and no .env at all."""
    if set_by == ".env":
        (tmp_path / ".env").write_text(f"TR4CTL_HOST={HOST}:2\n")
    fake_ssh = tmp_path / "bin" / "ssh"
    fake_ssh.parent.mkdir()
    fake_ssh.write_text("#!/bin/sh\nexit 0\n")
    fake_ssh.chmod(0o755)
    code = ("import sys\nfrom tr4ctl.cli.launch import main\ntry:\n    main(['status'])\n"
            "except SystemExit as exit:\n    print('EXIT', exit.code)\n"
            "heavy = ('tr4ctl.cli.app', 'tr4ctl.config.keys', 'dotenv', 'dataclasses', "
            "'typing', 'rich', 'tempfile', 're', 'enum', 'shlex', 'pathlib', 'hashlib', "
            "'urllib.parse', 'contextlib', 'signal')\n"
            "print('HEAVY', [m for m in heavy if m in sys.modules])\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    environment = {**clean, "PATH": f"{fake_ssh.parent}:{clean['PATH']}",
                   "XDG_RUNTIME_DIR": str(tmp_path)}
    if set_by == "environment":
        environment["TR4CTL_HOST"] = f"{HOST}:2"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=environment, timeout=60)
    assert "EXIT 0" in done.stdout and "HEAVY []" in done.stdout, done.stdout + done.stderr


# The regexes the plain reader had before a forwarded start stopped importing re.
OLD_NOT_PLAIN = re.compile(r"""['"\\$]|^\s*export\s""", re.MULTILINE)
OLD_PLAIN_LINE = re.compile(r"^(TR4CTL_[A-Z0-9_]+)=([^\s#]*)(?:[ \t]+#.*|[ \t]*)$")
TRICKY = [
    *PLAIN_FILES, *NOT_PLAIN, "", "export", "export\n", "exportX=1\n", "  export\tA=1\n",
    "A=1\n\n   \nexport B=2", "A=1 export B\n", "# export A\n", "\n\texport\nA=1",
    "TR4CTL_HOST=a b\n", "TR4CTL_HOST=a\t# c\n", "TR4CTL_HOST=a\u00a0# c\n",
    "TR4CTL_HOST=\u00a0\n", "TR4CTL_=x\n", "TR4CTL_host=x\n", "TR4CTL_HOST==x\n",
    "TR4CTL_HOST=a#\n", "TR4CTL_HOST= #c\n", "TR4CTL_HOST=x \t \n", "TR4CTL_HOST=x #\n",
    "TR4CTL_HOST=x y #c\n", "tr4ctl_HOST=x\n", "TR4CTL_HÖST=x\n", "TR4CTL_HOST=ä\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_the_plain_reader_reads_as_its_regexes_did(text):
    from tr4ctl.config.workstation import _needs_dotenv, _plain_line

    assert _needs_dotenv(text) == bool(OLD_NOT_PLAIN.search(text))
    for line in text.splitlines():
        match = OLD_PLAIN_LINE.match(line)
        assert _plain_line(line) == (match.groups() if match else None), line
