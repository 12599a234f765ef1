"""`tr4ctl host bootstrap` and `host check` from the test process as the workstation,
against a fresh Debian 13 host of the test's own over SSH (bare_ssh_hosts.py): no Docker on
it, a user that needs sudo, a key and a known_hosts file the test made.

Slow: the first bootstrap installs Debian's docker.io and tr4ctl's dependencies there.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from bare_ssh_hosts import SshHost
from conftest import TEST_PREFIX

from tr4ctl import __version__

pytestmark = [pytest.mark.own_engine]

STEPS = ["reach", "os", "docker", "python", "tr4ctl", "project dir"]
# What a run must leave as it was: every package and its version, and every file tr4ctl
# put on the host with its mode, owner and modification time.
SNAPSHOT = ("dpkg-query -W -f='${Package} ${Version}\\n'; "
            "find /opt/tr4ctl /srv/tr4ction -printf '%p %m %u %T@\\n' | sort")


@pytest.fixture(scope="module")
def ssh_host(docker_engine, tmp_path_factory):
    name = f"{TEST_PREFIX}hostboot-{os.getpid()}"
    host = SshHost(name, tmp_path_factory.mktemp(name))
    try:
        yield host.start()
    finally:
        host.remove()


@pytest.fixture(scope="module")
def bootstrapped(ssh_host):
    first = ssh_host.tr4ctl("--json", "host", "bootstrap", ssh_host.target(),
                            "--accept-host-key")
    print(first.stderr[-4000:])
    assert first.returncode == 0, first.stderr[-4000:]
    return json.loads(first.stdout), first.stderr


def test_an_unknown_host_key_is_refused_showing_its_fingerprint(ssh_host):
    known_hosts = ssh_host.folder / "refused_known_hosts"
    ssh_host.close_connections()  # a shared connection already open would be reused
    refused = ssh_host.tr4ctl("host", "bootstrap", ssh_host.target(), known_hosts=known_hosts)
    assert refused.returncode == 2, refused.stderr
    assert f"host key is not in {known_hosts}: refused" in refused.stderr
    assert f"ED25519 {ssh_host.host_key_fingerprint()}" in refused.stderr
    assert "--accept-host-key" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not known_hosts.exists() or known_hosts.read_text() == ""
    assert ssh_host.exec_sh("command -v docker || true").strip() == ""


def test_a_user_without_passwordless_sudo_is_refused_naming_the_fix(ssh_host):
    refused = ssh_host.tr4ctl("host", "bootstrap", ssh_host.target("plain"),
                              "--accept-host-key",
                              known_hosts=ssh_host.folder / "plain_known_hosts")
    assert refused.returncode == 3, refused.stderr
    assert "cannot use sudo without a password" in refused.stderr
    assert "NOPASSWD" in refused.stderr


def test_bootstrap_installs_docker_and_tr4ctl_reporting_each_step(ssh_host, bootstrapped):
    envelope, stderr = bootstrapped
    steps = {step["name"]: step for step in envelope["data"]["steps"]}
    assert list(steps) == STEPS
    reported = [line.split(":", 1)[0][2:] for line in stderr.splitlines()
                if line.startswith(("✓ ", "· ")) and " is a tr4ctl host" not in line]
    assert reported == STEPS, stderr
    assert steps["reach"]["state"] == "done"  # the host key was accepted
    assert ssh_host.host_key_fingerprint() in steps["reach"]["detail"]
    assert steps["os"]["detail"] == "Debian 13 (trixie)"
    for name in ("docker", "python", "tr4ctl", "project dir"):
        assert steps[name]["state"] == "done", steps[name]
    assert "installed docker.io docker-cli docker-compose" in steps["docker"]["detail"]
    assert "python3-venv" in steps["python"]["detail"]
    engine = ssh_host.exec_sh("docker version --format '{{.Server.Version}}'").strip()
    assert engine.startswith("26."), engine
    assert ssh_host.exec_sh("docker compose version --short").strip().startswith("2.")
    there = ssh_host.exec_sh("/opt/tr4ctl/venv/bin/tr4ctl --version").strip()
    assert there == f"tr4ctl {__version__}"
    assert ssh_host.exec_sh("stat -c '%a %U %G' /srv/tr4ction").strip() == "700 root root"
    assert ssh_host.address in ssh_host.known_hosts.read_text() or \
        ssh_host.known_hosts.read_text().startswith("|1|")


def test_a_second_bootstrap_changes_nothing(ssh_host, bootstrapped):
    before = ssh_host.exec_sh(SNAPSHOT)
    again = ssh_host.tr4ctl("--json", "host", "bootstrap", ssh_host.target())
    assert again.returncode == 0, again.stderr
    steps = json.loads(again.stdout)["data"]["steps"]
    assert [s["name"] for s in steps] == STEPS
    assert [s["state"] for s in steps] == ["already there"] * len(STEPS), steps
    assert json.loads(again.stdout)["data"]["changed"] == []
    assert ssh_host.exec_sh(SNAPSHOT) == before
    human = ssh_host.tr4ctl("host", "bootstrap", ssh_host.target())
    assert human.returncode == 0, human.stderr
    assert "nothing changed" in human.stderr
    assert sum("already there" in line for line in human.stderr.splitlines()) == len(STEPS)


def test_host_check_before_any_stack_warns_of_the_ports_nothing_listens_on_yet(ssh_host,
                                                                            bootstrapped):
    # Where the README runs it: before `up`, nothing listens on 80 and 443 yet. The host
    # refuses the connections (it answered: nothing on the way drops them): warnings.
    checked = ssh_host.tr4ctl("--json", "host", "check", ssh_host.target())
    assert checked.returncode == 0, checked.stderr
    envelope = json.loads(checked.stdout)
    checks = {c["name"]: c for c in envelope["data"]["checks"]}
    assert checks["clock"]["verdict"] == "ok", checks["clock"]
    for port in (80, 443):
        assert checks[f"port {port}"]["verdict"] == "warn", checks[f"port {port}"]
        assert f"{ssh_host.address}:{port} refused: nothing listens there yet" in \
            checks[f"port {port}"]["detail"]
    assert checks["disk docker"]["verdict"] in ("ok", "warn")
    assert checks["disk docker"]["detail"].startswith("/var/lib/docker: ")
    assert checks["disk project"]["detail"].startswith("/srv/tr4ction: ")
    assert checks["dns"]["verdict"] == "warn"  # no TR4CTL_DOMAIN on the host yet
    table = ssh_host.tr4ctl("host", "check", ssh_host.target())
    assert table.returncode == 0, table.stderr
    assert "after `tr4ctl up --env prod`" in table.stdout + table.stderr


def test_host_check_passes_open_ports_and_reads_the_domain_from_the_hosts_project(
        ssh_host, bootstrapped):
    # Anything listening on 80 and 443 there (the stack's nginx, in production).
    for port in (80, 443):
        ssh_host.exec_sh(f"cd /tmp && (python3 -m http.server {port} >/dev/null 2>&1 & "
                         f"echo $! > /tmp/listener-{port}.pid)")
    ssh_host.exec_sh("/opt/tr4ctl/venv/bin/tr4ctl --project-dir /srv/tr4ction config set "
                     "TR4CTL_DOMAIN=site.example")
    # The domain is resolved where `host check` runs: here, the host itself stands in for
    # a workstation (its installed tr4ctl, its /etc/hosts), so no name is asked of any
    # DNS server. First the record points elsewhere, then at the host.
    ssh_host.exec_sh("install -m 0600 /dev/stdin /root/key", input=ssh_host.key.read_bytes())
    workstation = ("/opt/tr4ctl/venv/bin/tr4ctl --json host check "
                   f"{ssh_host.target()} -i /root/key --known-hosts /root/known_hosts "
                   "--accept-host-key")
    try:
        ssh_host.exec_sh("echo '203.0.113.10 site.example' >> /etc/hosts")
        checks = {c["name"]: c for c in json.loads(
            ssh_host.exec_sh(f"{workstation} || true"))["data"]["checks"]}
        assert checks["port 80"]["verdict"] == checks["port 443"]["verdict"] == "ok", checks
        assert checks["dns"]["verdict"] == "fail"
        assert checks["dns"]["detail"] == (f"site.example -> 203.0.113.10, but the host is "
                                           f"{ssh_host.address}")
        assert checks["dns"]["fix"] == (f"point every A/AAAA record of site.example at "
                                        f"{ssh_host.address} (remove 203.0.113.10)")
        # /etc/hosts is a file Docker mounts: rewritten in place, not replaced.
        ssh_host.exec_sh(f"sed 's/^203.0.113.10 /{ssh_host.address} /' /etc/hosts > /tmp/hosts"
                         " && cat /tmp/hosts > /etc/hosts")
        passed = json.loads(ssh_host.exec_sh(workstation))
        assert passed["exit_code"] == 0 and passed["data"]["ok"] is True, passed
        assert {c["name"]: c for c in passed["data"]["checks"]}["dns"]["detail"] == \
            f"site.example -> {ssh_host.address}"
    finally:
        ssh_host.exec_sh("kill $(cat /tmp/listener-*.pid); rm -f /srv/tr4ction/.env",
                         check=False)


def test_a_changed_host_key_is_refused_even_with_the_accept_flag(ssh_host, bootstrapped):
    other = ssh_host.folder / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    known_hosts = ssh_host.folder / "changed_known_hosts"
    kind, key = other.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(f"# an earlier host at this address\n{ssh_host.address} {kind} {key}\n")
    ssh_host.close_connections()  # a shared connection already open would be reused
    refused = ssh_host.tr4ctl("host", "bootstrap", ssh_host.target(), "--accept-host-key",
                              known_hosts=known_hosts)
    assert refused.returncode == 2, refused.stderr
    assert f"host key has changed since {known_hosts}:2 recorded it: refused" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_host_check_of_an_unreachable_host_exits_3(ssh_host):
    gone = ssh_host.tr4ctl("host", "check", f"ssh://ubuntu@{ssh_host.address}:2")
    assert gone.returncode == 3, gone.stderr
    assert "cannot reach" in gone.stderr
