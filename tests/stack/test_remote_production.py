"""Issue 21's production path from a workstation: the README's "Production on one host",
typed here (the test process is the workstation, TR4CTL_HOST=ssh://...) against an SSH
host of the test's own (ssh_engine_hosts.py), with a real ACME server.

pebble runs as a container on the host's test network; that network's DNS answers the
domain with the host's address (a network alias), so pebble's HTTP-01 validation reaches
the host's nginx on its port 80, and the host's certbot (in the host's own engine) reaches
pebble by name. The CA files a private ACME CA needs are placed on the host, at the
README's paths, as an operator would. Then, besides the README's lines: `deploy` under a
load loop through the host's published 443 (0 failed requests), `backup create` and
`status --json`. During the whole run `ps -eo args` is sampled here and on the host: no
secret (the host's JWT secret, the seeded passwords) may appear. At the end every file
tr4ctl made in the host's project folder has the modes the local path gives.

One host for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import docker, new_stack, own_environment, wait_for
from load import RequestLoad
from pebble import PEBBLE_IMAGE, tls_context, write_pebble_files
from ssh_engine_hosts import (
    ArgvSampler,
    SshHost,
    env_secrets,
    file_modes,
    local_init_modes,
    stack_images,
)
from test_production import Readme, readme_blocks, substituted

pytestmark = [pytest.mark.own_engine]

DOMAIN = "prod.t3p2-remote.internal"
HOST_DIR = "/srv/tr4ction"  # the README's default, on the test's own host
ACME_SERVER_CA = "/etc/ssl/certs/acme-server-ca.pem"  # the README's paths, on the host
ISSUING_CA = "/etc/ssl/certs/issuing-ca.pem"


class Workstation:
    """The host, pebble beside it, the README's commands typed in a workstation folder."""

    def __init__(self, host: SshHost, readme: Readme, settings_line: str, root_file: Path,
                 sampler: ArgvSampler):
        self.host, self.readme, self.settings_line = host, readme, settings_line
        self.root_file, self.sampler = root_file, sampler

    def run(self, command: str) -> subprocess.CompletedProcess:
        return self.readme.run(command)

    def json(self, command: str) -> dict:
        return json.loads(self.run(f"tr4ctl --json {command}").stdout)

    def https(self, path: str) -> str:
        return f"https://{self.host.ip}{path}"


def pebble_get(pebble_ip: str, ca_file: Path, url_path: str, port: int) -> str:
    """pebble's API by its address on the test network."""
    with httpx.Client(verify=tls_context(ca_file), timeout=10) as client:
        return client.get(f"https://{pebble_ip}:{port}{url_path}").text


@pytest.fixture(scope="module")
def station(docker_engine, tmp_path_factory):
    # Settings and images only, no stack; pebble's image too: this module runs beside the
    # others, and may come before any test of theirs that builds it.
    plain = new_stack(tmp_path_factory, "rprodimg", with_pebble=True)
    _, settings = stack_images(plain.json("images", "list"), own_environment())
    host = SshHost(f"t3p2-rprod-{os.getpid()}", tmp_path_factory.mktemp("ssh-host"))
    pebble = f"{host.name}-pebble"
    sampler = ArgvSampler(host)
    try:
        host.start(aliases=(DOMAIN,))
        host.trust()  # the README's `host bootstrap --accept-host-key` (test_host_bootstrap)
        # pebble first, waiting for its files: its certificate must name the address the
        # host's certbot uses (the host's engine resolves no name of the test network).
        pebble_files = tmp_path_factory.mktemp("pebble")
        docker("run", "-d", "--name", pebble, "--label",
               f"com.docker.compose.project={host.name}", "--network", host.network,
               "--network-alias", "pebble", "-e", "PEBBLE_VA_NOSLEEP=1",
               "-e", "PEBBLE_WFE_NONCEREJECT=0", "-v", f"{pebble_files}:/pebble:ro",
               "--entrypoint", "sh", PEBBLE_IMAGE, "-c",
               "until [ -e /pebble/ready ]; do sleep 0.2; done; "
               "exec pebble -config /pebble/config.json")
        pebble_ip = docker("inspect", "--format",
                           f'{{{{(index .NetworkSettings.Networks "{host.network}").IPAddress}}}}',
                           pebble).strip()
        ca_file = write_pebble_files(pebble_files, addresses=(pebble_ip,))
        (pebble_files / "ready").touch(mode=0o644)
        root_file = tmp_path_factory.mktemp("root") / "pebble-root.pem"
        wait_for(lambda: "newAccount" in _quietly(pebble_get, pebble_ip, ca_file, "/dir",
                                                  14000), "pebble", 60, 1)
        root_file.write_text(pebble_get(pebble_ip, ca_file, "/roots/0", 15000))
        # The operator's CA files, where the README's private-CA lines name them.
        host.exec("sh", "-c", f"cat > {ACME_SERVER_CA}", input=ca_file.read_bytes())
        host.exec("sh", "-c", f"cat > {ISSUING_CA}", input=root_file.read_bytes())

        shim_dir = tmp_path_factory.mktemp("bin")
        (shim_dir / "tr4ctl").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tr4ctl "$@"\n')
        (shim_dir / "tr4ctl").chmod(0o755)
        values = {"ssh://ubuntu@api.example.com": host.address,
                  "~/.ssh/tr4ction.pem": str(host.key),
                  "api.example.com": DOMAIN,
                  "https://acme.internal/directory": f"https://{pebble_ip}:14000/dir"}
        main, _drill, private_ca = (substituted(b, values) for b in readme_blocks())
        folder = tmp_path_factory.mktemp("workstation")
        # `host bootstrap` and `host check` have their own test (test_host_bootstrap.py):
        # this host comes with tr4ctl, and the domain is the test network's alone.
        main = [c for c in main if not c.startswith("tr4ctl host ")]
        readme = Readme(main, [], private_ca, shim_dir, folder,
                        exports=[f"export TR4CTL_SSH_KNOWN_HOSTS={host.known_hosts}"])
        # The images: this machine's, sent by `up` (no registry), named for the host.
        settings_line = "tr4ctl config set " + " ".join(
            [f"TR4CTL_PROJECT_NAME={host.name}", *(f"{k}={v}" for k, v in settings.items())])
        sampler.start()
        yield Workstation(host, readme, settings_line, root_file, sampler)
    finally:
        sampler.halt.set()
        if host.ip:
            host.close_master()  # the host goes with its engine and everything on it
        docker("rm", "-f", pebble, check=False)
        host.remove()


def _quietly(function, *args) -> str:
    try:
        return function(*args)
    except httpx.HTTPError:
        return ""


def test_readme_production_path_from_the_workstation(station):
    readme = station.readme
    readme.run_main(last="tr4ctl config set TR4CTL_DOMAIN")
    readme.run(station.settings_line)  # this test's images and project name
    said = readme.run_main(first="tr4ctl up --env prod", last="tr4ctl up --env prod")
    assert "HTTPS is pending" in " ".join(" ".join(said.values()).split())
    for command in readme.private_ca:  # the README's step 4 for a private ACME CA
        readme.run(command)
    said = readme.run_main(first="tr4ctl users seed")  # seed, verify, cert status
    assert any("checks passed" in text for text in said.values()), said
    passwords = readme.folder / "initial-passwords.json"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600  # written here, not on the host
    assert station.host.exec("test", "-e", f"{HOST_DIR}/initial-passwords.json",
                             check=False) is None
    with httpx.Client(verify=tls_context(station.root_file), timeout=10) as client:
        health = client.get(station.https("/health"), headers={"Host": DOMAIN},
                            extensions={"sni_hostname": DOMAIN})
    assert health.json() == {"status": "healthy"}


def test_deploy_under_load_through_the_hosts_port_fails_no_request(station):
    admin = next(a for a in json.loads((station.readme.folder / "initial-passwords.json")
                                       .read_text()) if a["role"] == "admin")
    load = RequestLoad(station.https, login={"email": admin["email"],
                                             "password": admin["password"]},
                       verify=tls_context(station.root_file), headers={"Host": DOMAIN},
                       extensions={"sni_hostname": DOMAIN})
    with load:
        deployed = station.json("deploy")
    assert load.failures == [], load.failures[:5]
    assert load.done > 20 and load.logins > 2
    assert deployed["data"]["release"]["result"] == "succeeded"


def test_backup_and_status_from_the_workstation(station):
    backup = station.json("backup create")
    assert backup["exit_code"] == 0
    status = station.json("status")
    assert status["command"] == "status" and status["exit_code"] == 0
    states = {s["service"]: s["state"] for s in status["data"]["services"]}
    assert {states[s] for s in ("backend", "nginx", "chroma", "certbot-renew")} == {"running"}
    assert status["data"].get("https_pending") is not True


def test_no_secret_in_any_argv_on_either_side(station):
    samples = station.sampler.stop()
    secrets = env_secrets(station.host, HOST_DIR) + [a["password"] for a in json.loads(
        (station.readme.folder / "initial-passwords.json").read_text())]
    assert len(secrets) >= 3 and all(len(s) > 8 for s in secrets)
    assert len(samples) > 20 and any("tr4ctl" in s for s in samples[1::2])
    assert [s for s in secrets for sample in samples if s in sample] == []


def test_files_on_the_host_have_the_modes_the_local_path_gives(station, tmp_path):
    there = file_modes(HOST_DIR, on=station.host)
    here = local_init_modes(tmp_path, f"t3p2-localmodes-{os.getpid()}")
    common = sorted(set(here) & set(there) - {"."})
    assert "./.env" in common and there["./.env"] == "600"
    assert {p: there[p] for p in common} == {p: here[p] for p in common}
    # What only the production path made: the modes the code writing it gives locally
    # (backup.location: the folder 0700; backup.archive: archives 0600; lock.py: 0600),
    # and nothing writable by others.
    later = {p: m for p, m in there.items() if p not in here}
    assert later.get("./backups") == "700", later
    archives = [p for p in later if p.startswith("./backups/") and p.endswith(".tar.gz")]
    assert archives and {later[p] for p in archives} == {"600"}, later
    assert there.get("./.tr4ctl/lock", "600") == "600"
    assert [p for p, mode in there.items() if int(mode[-1]) & 2] == []
    secrets = [p for p in there if p.endswith("/secrets")]
    assert secrets and {there[p] for p in secrets} == {"700"}, there
