"""What a command line becomes with TR4CTL_HOST set (plan/remote_call.py), ssh's
failures as errors (remote/failures.py), and the host's version check: no ssh here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.plan.remote_call import (
    TempPath,
    Terminal,
    Workstation,
    mixed_config_set,
    plan_remote_call,
    runs_here,
)
from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.remote.commands import SshOptions
from tr4ctl.remote.failures import ssh_failure
from tr4ctl.remote.session import version_refusal

TR4CTL = "/opt/tr4ctl/venv/bin/tr4ctl"
HOST = Workstation("ssh://ubuntu@203.0.113.7:2222", "/srv/tr4ction")
PIPES = Terminal(stdin_tty=False, stdout_tty=False)
TERMINAL = Terminal(stdin_tty=True, stdout_tty=True, columns=132, term="xterm")


def plan(argv, terminal=PIPES, local_files=(), workstation=HOST):
    return plan_remote_call(argv, workstation, terminal, version="9.9", remote_tr4ctl=TR4CTL,
                            is_local_file=lambda path: path in local_files)


def test_the_whole_command_line_runs_on_the_host_in_its_project_folder():
    call = plan(["--project-dir", "ws", "--host=ssh://x@y", "--accept-host-key", "--verbose",
                 "--project-name", "blue", "status", "--check"])
    assert call.remote_argv() == [TR4CTL, "--project-dir", "/srv/tr4ction", "--verbose",
                                  "--project-name", "blue", "status", "--check"]
    assert call.accept_host_key and not call.tty and not call.needs_temp
    assert str(call.target) == "ssh://ubuntu@203.0.113.7:2222"


def test_the_environment_names_the_session_and_the_version_and_never_a_secret():
    call = plan(["status"])
    assert call.environment == {"TR4CTL_REMOTE_SESSION": "1", "TR4CTL_EXPECT_VERSION": "9.9",
                                "TR4CTL_REMOTE_ADDRESS": "ssh://ubuntu@203.0.113.7:2222"}


def test_a_pty_only_for_a_prompt_when_both_ends_are_a_terminal_and_no_json():
    prompts = ["users", "seed", "--admin-email", "a@b.org", "--founder-email", "f@b.org"]
    assert plan(prompts, TERMINAL).tty
    assert plan(["backup", "restore", "b.tar.gz"], TERMINAL).tty
    assert plan(["users", "seed", "--generate"], TERMINAL).tty  # shown on the terminal
    assert not plan(["--json", *prompts], TERMINAL).tty
    assert not plan(prompts, Terminal(stdin_tty=False, stdout_tty=True)).tty
    for no_prompt in (["up"], ["backup", "restore", "b.tar.gz", "--yes"],
                      ["users", "seed", "--password-stdin"],
                      ["users", "seed", "--generate", "--output=pw.json"]):
        assert not plan(no_prompt, TERMINAL).tty, no_prompt


def test_without_a_pty_the_host_still_writes_for_the_workstations_terminal():
    shown = plan(["up"], TERMINAL).environment
    assert shown["COLUMNS"] == "132" and shown["FORCE_COLOR"] == "1"
    assert shown["TR4CTL_WORKSTATION_TERMINAL"] == "1"
    assert "TR4CTL_WORKSTATION_TERMINAL" not in plan(["up"], PIPES).environment
    assert "TR4CTL_WORKSTATION_TERMINAL" not in plan(["up", "--json"], TERMINAL).environment


def test_a_seed_file_goes_up_and_the_output_comes_down():
    call = plan(["users", "seed", "--file", "acc/users.json", "--output=pw.txt", "--generate"])
    assert [(c.local, c.remote.name) for c in call.uploads] == [("acc/users.json",
                                                                 "0-users.json")]
    assert [(c.local, c.remote.name) for c in call.downloads] == [("pw.txt", "1-pw.txt")]
    assert call.remote_argv("/tmp/t")[-5:] == ["--file", "/tmp/t/0-users.json", "--output",
                                               "/tmp/t/1-pw.txt", "--generate"]
    with pytest.raises(ValueError):
        call.remote_argv()


def test_an_archive_crosses_only_when_it_is_a_local_file():
    local = plan(["backup", "restore", "--timeout", "60", "b.tar.gz", "--yes"],
                 local_files={"b.tar.gz"})
    assert local.argv[-2:] == (TempPath("0-b.tar.gz"), "--yes")
    assert local.argv[-4:-2] == ("--timeout", "60")
    on_host = plan(["backup", "restore", "/srv/tr4ction/backups/b.tar.gz", "--yes"])
    assert not on_host.uploads and on_host.argv[-2] == "/srv/tr4ction/backups/b.tar.gz"
    assert plan(["backup", "verify", "x.tar.gz"], local_files={"x.tar.gz"}).uploads


def test_what_stays_on_the_workstation():
    assert runs_here([]) and runs_here(["--version"]) and runs_here(["deploy", "--help"])
    assert runs_here(["config", "set", "TR4CTL_HOST=ssh://a@b", "TR4CTL_SSH_KEY=k"])
    # The commands that reach the host themselves never go there.
    assert runs_here(["host", "check"]) and runs_here(["--json", "images", "ship"])
    assert not runs_here(["images", "list"])
    assert not runs_here(["config", "set", "TR4CTL_HTTP_PORT=8080"])
    assert not runs_here(["--json", "status"])
    assert mixed_config_set(["config", "set", "TR4CTL_HOST=ssh://a@b", "TR4CTL_HTTP_PORT=1"])
    assert not mixed_config_set(["config", "set", "TR4CTL_HOST=ssh://a@b"])


TARGET = parse_target("ssh://ubuntu@203.0.113.7:2222")
OPTIONS = SshOptions(control_dir="/run/x", known_hosts="/w/known_hosts")


def test_a_changed_host_key_names_the_line_of_known_hosts():
    text = ("@@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@@\n"
            "Offending ED25519 key in /w/known_hosts:3\nHost key verification failed.\n")
    error = ssh_failure(TARGET, OPTIONS, text)
    assert isinstance(error, BadInput) and "/w/known_hosts:3" in error.message
    assert "[203.0.113.7]:2222" in error.hint


def test_an_unknown_host_key_shows_its_fingerprint_and_the_flag():
    text = ("No ED25519 host key is known for [203.0.113.7]:2222 and you have requested "
            "strict checking.\nHost key verification failed.\n")
    error = ssh_failure(TARGET, OPTIONS, text, ["ED25519 SHA256:abc"])
    assert isinstance(error, BadInput) and "SHA256:abc" in error.message
    assert "--accept-host-key" in error.hint


def test_refused_login_and_no_route():
    refused = ssh_failure(TARGET, OPTIONS, "ubuntu@203.0.113.7: Permission denied (publickey).")
    assert isinstance(refused, BadInput) and "TR4CTL_SSH_KEY" in refused.hint
    down = ssh_failure(TARGET, OPTIONS, "ssh: connect to host 203.0.113.7 port 2222: "
                                        "Connection timed out")
    assert isinstance(down, MissingPrerequisite) and down.exit_code == 3


def test_a_version_mismatch_is_the_same_line_either_way():
    refusal = version_refusal("1.0", "1.1", "ssh://ubuntu@h")
    assert refusal.message == "the host runs tr4ctl 1.0, the workstation 1.1"
    assert refusal.hint == "run `tr4ctl host bootstrap ssh://ubuntu@h` to install 1.1 there"
    assert version_refusal("1.0", "1.0", None) is None and version_refusal("1.0", None, None) \
        is None


def test_a_connection_lost_mid_command_is_no_unreachable_host():
    error = ssh_failure(TARGET, OPTIONS, "Connection to 203.0.113.7 closed by remote host.")
    assert error.exit_code == 1 and "was lost" in error.message


WATCHED = Path(__file__).resolve().parents[1] / "watched_session.py"


def test_a_session_whose_pipes_close_runs_its_clean_up_as_on_sigterm(tmp_path):
    """The host's side when the SSH connection goes: no signal comes, the pipes close."""
    import os
    import subprocess
    import sys

    marker = tmp_path / "marker"
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        child = subprocess.Popen([sys.executable, str(WATCHED), str(marker)],
                                 stdout=subprocess.PIPE, stderr=stderr,
                                 env={**os.environ, "TR4CTL_REMOTE_SESSION": "1"})
    assert child.stdout.readline() == b"ready\n"
    child.stdout.close()
    assert child.wait(timeout=60) == 143, errors.read_text()
    assert marker.read_text() == "cleaned up after SIGTERM"


def test_up_and_deploy_offer_the_images_the_host_lacks():
    from tr4ctl.plan.remote_call import images_the_host_lacks, offers_images

    assert offers_images(["up", "--env", "prod"]) and offers_images(["--json", "deploy"])
    assert not offers_images(["status"]) and not offers_images(["up", "--help"])
    rows = [{"role": "backend", "image": "b:1", "present": True},
            {"role": "backend base", "image": "py:3", "present": False},
            {"role": "nginx", "image": "n:1", "present": False},
            {"role": "chroma", "image": "c:1", "present": True}]
    # The base only matters when the backend must be built there.
    assert images_the_host_lacks(rows, ["up"]) == ["n:1"]
    rows[0]["present"] = False
    assert images_the_host_lacks(rows, ["up"]) == ["b:1", "py:3", "n:1"]
    assert images_the_host_lacks([], ["deploy", "--image", "x:2"]) == ["x:2"]
    assert images_the_host_lacks([], ["deploy", "--image=x:3"]) == ["x:3"]


def test_a_report_comes_down_named_or_under_its_default_name():
    named = plan(["report", "-o", "week.html", "--since", "7d"])
    assert [(c.local, c.remote.name, c.replaces_report) for c in named.downloads] == [
        ("week.html", "0-week.html", True)]
    assert named.remote_argv("/tmp/t")[-4:] == ["-o", "/tmp/t/0-week.html", "--since", "7d"]
    default = plan(["report"])
    assert [(c.local, c.remote.name) for c in default.downloads] == [
        ("tr4ctl-report.html", "0-tr4ctl-report.html")]
    assert default.remote_argv("/tmp/t")[-3:] == ["report", "--output",
                                                  "/tmp/t/0-tr4ctl-report.html"]
    assert not plan(["report", "--help"]).needs_temp


def test_a_key_file_goes_up_beside_a_snapshot_that_stays_a_word():
    call = plan(["backup", "restore", "--from", "sftp:b@s:/r", "--key-file", "k.key",
                 "1a2b3c4d", "--yes"], local_files={"k.key", "1a2b3c4d"})
    assert [(c.local, c.remote.name) for c in call.uploads] == [("k.key", "0-k.key")]
    assert call.remote_argv("/tmp/t")[-6:] == ["--from", "sftp:b@s:/r", "--key-file",
                                               "/tmp/t/0-k.key", "1a2b3c4d", "--yes"]
    assert not call.downloads


@pytest.mark.parametrize("word", [
    "", "plain", "a b", "it's", "$HOME", "a\nb", "ü", "-o", "x=y,z:1/2@h%+", "'", '"', "`x`",
    "*", "a;b", "tab\there", "\\", "~", "#c", "ssh://u@[::1]:22",
])
def test_quoting_is_shlex_quoting(word):
    import shlex

    from tr4ctl.remote.commands import join, quote

    assert quote(word) == shlex.quote(word)
    assert join([word, "x", word]) == shlex.join([word, "x", word])
