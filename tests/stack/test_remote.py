"""Issue 21: the production host operated from a workstation over SSH.

The test process is the workstation: TR4CTL_HOST points at an SSH host of the test's own
(ssh_engine_hosts.py: OpenSSH and a Docker engine in a container on a network the test makes,
user `ubuntu` with sudo, a key and a known_hosts file the test generates). Every tr4ctl
command is typed here and runs in the host's tr4ctl (README "Remote hosts"). HTTP checks
go to the host's published port at its address on the test's network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Stack, docker, new_stack, own_environment, wait_for
from ssh_engine_hosts import (
    VENV,
    ArgvSampler,
    SshHost,
    env_secrets,
    file_modes,
    local_init_modes,
    stack_images,
)

pytestmark = [pytest.mark.own_engine]

HTTP_PORT, HTTPS_PORT = 18080, 18443  # the host's own ports (its own network namespace)
SERVICES = ("backend", "nginx", "chroma")


@dataclass
class RemoteStack(Stack):
    """A stack whose every command is typed on this workstation and runs on the host."""
    host: SshHost | None = None
    host_dir: str = ""

    def tr4ctl(self, *args: str, env: dict | None = None, **kwargs):
        return super().tr4ctl(*args, env={**self.host.workstation_environment(self.host_dir),
                                          **(env or {})}, **kwargs)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**own_environment(),
                                     **self.host.workstation_environment(self.host_dir)})

    def url(self, path: str) -> str:
        return f"http://{self.host.ip}:{self.http_port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""


@pytest.fixture(scope="module")
def host(docker_engine, tmp_path_factory):
    machine = SshHost(f"t4t-sshhost-{os.getpid()}", tmp_path_factory.mktemp("ssh-host"))
    try:
        yield machine.start()
    finally:
        machine.close_master() if machine.ip else None
        machine.remove()


@pytest.fixture(scope="module")
def images(docker_engine, tmp_path_factory):
    """The stack's images (built here, cached by recipe) and the settings naming them."""
    plain = new_stack(tmp_path_factory, "remoteimg")
    return stack_images(plain.json("images", "list"), own_environment())


@pytest.fixture(scope="module")
def stack(host, images, tmp_path_factory):
    """init, config set and `up --env dev`, each typed here and run on the host; `up`
    first sends the images the host lacks from this machine's engine (no registry)."""
    host.trust()
    _, settings = images
    name = f"t4t-remote-{os.getpid()}"
    remote = RemoteStack(name, tmp_path_factory.mktemp("workstation"), HTTP_PORT, HTTPS_PORT,
                         host=host, host_dir=f"/srv/{name}")
    remote.tr4ctl("init")
    remote.tr4ctl("config", "set", f"TR4CTL_PROJECT_NAME={name}", "TR4CTL_BIND_ADDRESS=0.0.0.0",
                  f"TR4CTL_HTTP_PORT={HTTP_PORT}", f"TR4CTL_HTTPS_PORT={HTTPS_PORT}",
                  *(f"{k}={v}" for k, v in settings.items()))
    remote.first_up = remote.tr4ctl("up", "--env", "dev")
    try:
        yield remote
    finally:
        remote.tr4ctl("down", "--volumes", "--yes", check=False)


def test_an_unknown_host_key_is_refused_unless_accepted_and_a_changed_one_always(
        host, tmp_path):
    workstation = RemoteStack("t4t-keys", tmp_path, 1, 2, host=host, host_dir="/srv/t4t-keys")
    host.close_master()
    host.known_hosts.write_text("")
    refused = workstation.tr4ctl("status", check=False)
    assert refused.returncode == 2, refused.stderr
    assert "host key is not in" in refused.stderr and "SHA256:" in refused.stderr
    assert "--accept-host-key" in refused.stderr
    assert host.known_hosts.read_text() == ""

    accepted = workstation.tr4ctl("--accept-host-key", "--version")  # stays here: no contact
    assert host.known_hosts.read_text() == "" and accepted.returncode == 0
    accepted = workstation.tr4ctl("--accept-host-key", "config", "show", "--json",
                                  check=False)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["command"] == "config show"
    recorded = host.known_hosts.read_text().split()  # hashed names (HashKnownHosts)
    assert recorded[-1] in host.host_keys()
    assert subprocess.run(["ssh-keygen", "-F", host.ip, "-f", str(host.known_hosts)],
                          capture_output=True).returncode == 0

    # Another key recorded for the host: refused, with or without the flag, naming the line.
    host.close_master()
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    public = other.with_suffix(".pub").read_text().split()[:2]
    host.known_hosts.write_text(f"# another machine\n{host.ip} {' '.join(public)}\n")
    for flags in ((), ("--accept-host-key",)):
        changed = workstation.tr4ctl(*flags, "status", check=False)
        assert changed.returncode == 2, changed.stderr
        assert f"{host.known_hosts}:2" in changed.stderr, changed.stderr
    host.trust()


def image_id(image: str, *on_host: str) -> str:
    """The image's id on this machine's engine, or (on_host: `exec NODE`) on the host's."""
    inspect = ("image", "inspect", "--format", "{{.Id}}", image)
    return docker(*on_host, *((["docker"] if on_host else []) + list(inspect))).strip()


def test_up_sends_the_images_the_host_lacks_once(stack, host, images):
    _, settings = images
    sent_line = next(line for line in stack.first_up.stderr.splitlines() if "sent to" in line)
    for image in settings.values():
        assert image in sent_line, stack.first_up.stderr
        assert image_id(image, "exec", host.name) == image_id(image)
    again = stack.tr4ctl("up", "--env", "dev")
    assert "sent to" not in again.stderr, again.stderr


def test_the_core_path_from_the_workstation(stack, host, tmp_path):
    status = stack.json("status")
    assert status["command"] == "status" and status["exit_code"] == 0
    states = {s["service"]: s for s in status["data"]["services"]}
    for name in SERVICES:
        assert states[name]["state"] == "running", states
    wait_for(lambda: stack.get("/health")[0] == 200, "the host's nginx to answer", 120, 2)
    # Nothing of the stack on this machine's engine: it runs on the host's.
    assert subprocess.run(["docker", "ps", "-q", "--filter",
                           f"label=com.docker.compose.project={stack.name}"],
                          capture_output=True, text=True).stdout.strip() == ""
    # A bad input on the host comes back as the host's one-line error and exit 2.
    bad = stack.tr4ctl("config", "set", "TR4CTL_HTTP_PORT=banana", check=False)
    assert bad.returncode == 2 and "TR4CTL_HTTP_PORT" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_exec_on_the_host_passes_stdin_output_and_the_exit_code(stack):
    """`exec` forwarded: no pty (stdin is data here), the command's own `--help` and
    `--json` left to it, its exit code this process's."""
    done = stack.tr4ctl("exec", "backend", "--", "sh", "-c", 'cat; echo "$@"; exit 5', "sh",
                        "--help", "--json", input="from-the-workstation\n", check=False)
    assert done.returncode == 5, done.stderr
    assert done.stdout == "from-the-workstation\n--help --json\n"
    stopped = stack.tr4ctl("exec", "frontend", "--", "true", check=False)
    assert stopped.returncode == 2 and "unknown service 'frontend'" in stopped.stderr


def test_a_report_is_written_on_the_workstation(stack, host, tmp_path):
    """`report` runs on the host (its history is there); the file comes down here with
    the local path's mode, replaces a report it wrote before, and never another file. The
    host has tr4ctl alone (no `report` extra): the tables come, the charts are named."""
    stack.tr4ctl("health")
    page = tmp_path / "week.html"
    for _ in range(2):  # the second run replaces the first report
        done = stack.tr4ctl("report", "-o", str(page))
        assert f"{page} written here from" in done.stderr, done.stderr
        assert '<meta name="generator" content="tr4ctl report">' in page.read_text()
        assert oct(page.stat().st_mode & 0o777) == "0o644"
        assert "pip install 'tr4ctl[report]'" in done.stderr, done.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    refused = stack.tr4ctl("report", "--output", str(notes), check=False)
    assert refused.returncode == 2 and "is not a report tr4ctl wrote" in refused.stderr
    assert notes.read_text() == "mine\n"
    leftovers = host.exec("sh", "-c", "ls -d /tmp/tr4ctl-call.* 2>/dev/null || true")
    assert leftovers.strip() == "", leftovers


def test_files_on_the_host_have_the_modes_the_local_path_gives(stack, host, tmp_path):
    here = local_init_modes(tmp_path, f"t4t-localmodes-{os.getpid()}")
    there = file_modes(stack.host_dir, on=host)
    common = sorted(set(here) & set(there) - {"."})
    assert ".env" in {p.removeprefix("./") for p in common}, (here, there)
    assert {p: there[p] for p in common} == {p: here[p] for p in common}
    assert there["./.env"] == "600"
    # Nothing tr4ctl made there is writable by others; the secrets' folder is its owner's.
    assert [p for p, mode in there.items() if int(mode[-1]) & 2] == []
    secrets = [p for p in there if p.endswith("/secrets")]
    assert secrets and all(there[p] == "700" for p in secrets)


def test_a_version_mismatch_is_refused_before_anything(host):
    refused = subprocess.run(host.ssh_argv(
        "sudo", "-n", "env", "TR4CTL_REMOTE_SESSION=1", "TR4CTL_EXPECT_VERSION=0.0.0-other",
        f"TR4CTL_REMOTE_ADDRESS={host.address}", f"{VENV}/bin/tr4ctl", "--project-dir",
        "/srv/none", "up", "--env", "dev"), capture_output=True, text=True)
    assert refused.returncode == 2, refused.stderr
    assert "the workstation 0.0.0-other" in refused.stderr
    assert f"tr4ctl host bootstrap {host.address}" in refused.stderr
    assert host.exec("test", "-e", "/srv/none", check=False) is None  # nothing was made


def test_two_workstations_deploy_one_after_the_other_and_no_secret_in_argv(stack, host):
    secrets = [s for s in env_secrets(host, stack.host_dir) if len(s) > 8]
    assert secrets
    sampler = ArgvSampler(host, every=0.2)
    sampler.start()
    try:
        backend = _host_settings(stack)["TR4CTL_BACKEND_IMAGE"]
        first = stack.popen("deploy", "--image", backend)
        wait_for(lambda: _lock_holder(stack), "the first deploy to take the lock", 120, 0.2)
        second = stack.popen("deploy", "--image", backend)
        _out_first, err_first = first.communicate(timeout=600)
        _out_second, err_second = second.communicate(timeout=600)
    finally:
        seen = sampler.stop()
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert "waiting for `tr4ctl deploy`" in err_second, err_second
    leaked = [s for s in secrets for sample in seen if s in sample]
    assert leaked == [] and len(seen) > 10


def _host_settings(stack: RemoteStack) -> dict[str, str]:
    shown = stack.json("config", "show")["data"]["settings"]
    return {k: str(v) for k, v in shown.items() if v is not None}


def _containers(stack: RemoteStack) -> list[str]:
    return sorted(stack.host.exec("docker", "ps", "-a", "--format", "{{.Names}} {{.ID}}",
                                  "--filter", f"label=com.docker.compose.project={stack.name}"
                                  ).split("\n"))


def _lock_holder(stack: RemoteStack) -> bool:
    held = stack.host.exec("flock", "-n", f"{stack.host_dir}/.tr4ctl/lock", "true", check=False)
    return held is None


def test_a_lost_connection_mid_deploy_leaves_the_old_release_and_the_lock_free(stack, host):
    before = stack.get("/version")
    assert before[0] == 200
    containers = _containers(stack)
    backend = _host_settings(stack)["TR4CTL_BACKEND_IMAGE"]
    deploying = stack.popen("deploy", "--image", backend)
    wait_for(lambda: _lock_holder(stack), "the deploy to take the lock", 120, 0.2)
    time.sleep(2)  # into the deploy's steps
    children = subprocess.run(["pgrep", "-P", str(deploying.pid), "-x", "ssh"],
                              capture_output=True, text=True).stdout.split()
    assert children, "the workstation's ssh client"
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)
    deploying.communicate(timeout=120)
    assert deploying.returncode != 0
    # On the host: the command ends by itself (its clean-up ran), the lock is free.
    wait_for(lambda: "tr4ctl" not in " ".join(
        line for line in (host.exec("ps", "-eo", "args") or "").splitlines()
        if "/opt/tr4ctl" in line), "the host's tr4ctl to end", 120, 0.5)
    assert not _lock_holder(stack)
    assert stack.get("/version") == before
    # Exactly the containers of before: the old release kept, no new backend left beside
    # it (one the engine finished creating after compose was stopped is swept too).
    assert _containers(stack) == containers
    started = time.monotonic()
    taken = stack.tr4ctl("config", "set", "TR4CTL_LOCK_TIMEOUT=1")
    assert "waiting" not in taken.stderr and time.monotonic() - started < 30


WATCHED = Path(__file__).resolve().parents[1] / "watched_session.py"


@pytest.mark.parametrize("mode", ["-T", "-tt"])
def test_a_lost_session_ends_the_host_command_through_sudo(host, mode):
    """Debian's sudo (use_pty by default) between sshd and tr4ctl: without a pty it hands
    the session's pipes over (the watchdog sees them close); with one, sudo's own pty stays
    open and its relay of the hang-up is not to be counted on, so the watchdog also sees the
    session's pty hang up. Either way the host's command runs its SIGTERM clean-up."""
    import pty

    host.trust()
    host.exec("sh", "-c", "cat > /tmp/watched.py", input=WATCHED.read_bytes())
    name = mode.strip("-")
    base = host.ssh_argv()
    argv = [*base[:-1], mode, base[-1], "sudo", "-n", "env", "TR4CTL_REMOTE_SESSION=1",
            f"{VENV}/bin/python", "/tmp/watched.py", f"/tmp/marker-{name}"]
    if mode == "-tt":
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(argv[0], argv)
        seen = b""
        while b"ready" not in seen:
            seen += os.read(fd, 100)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    else:
        client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        assert client.stdout.readline().strip() == b"ready"
        client.kill()
        client.wait()
    try:
        wait_for(lambda: host.exec("cat", f"/tmp/marker-{name}", check=False),
                 "the host's clean-up", 20, 0.5)
    except AssertionError:
        raise AssertionError(host.exec("ps", "-eo", "pid,ppid,stat,args")) from None
    assert host.exec("cat", f"/tmp/marker-{name}") == "cleaned up after SIGTERM"
    assert "watched.py" not in host.exec("ps", "-eo", "args")
