"""An SFTP server of a test's own, for off-host copies (TR4CTL_BACKUP_TARGET): OpenSSH
in a container (tests/stack/bare_ssh_hosts.py's image) on the stack's network, reached
with a key the test makes, its host key written to a known_hosts file of the test's."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import httpx
from bare_ssh_hosts import ssh_host_image
from conftest import docker, new_stack, wait_for
from load import AccountLoad
from swarm_nodes import address_on
from test_backup import ADMIN_EMAIL, ADMIN_PASSWORD, seed_admin

from tr4ctl.plan.offsite import RESTIC_WRAPPER

SFTP_USER = "plain"
REPOSITORY = "/home/plain/restic"


def target_settings(folder: Path, alias: str, schedule: str = "* * * * *") -> dict[str, str]:
    """The backup settings for a target at `alias`, with a new key pair in `folder`."""
    key, known = folder / "id_ed25519", folder / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return {"TR4CTL_BACKUP_SCHEDULE": schedule, "TR4CTL_BACKUP_KEEP": "1h",
            "TR4CTL_BACKUP_TARGET": f"sftp:{SFTP_USER}@{alias}:{REPOSITORY}",
            "TR4CTL_BACKUP_SSH_KEY": str(key), "TR4CTL_BACKUP_SSH_KNOWN_HOSTS": str(known)}


@contextmanager
def sftp_server(settings: dict[str, str], network: str, alias: str):
    """The server, on `network` (a test's own) under `alias`, trusting the settings' key;
    yields its container's name and address (known_hosts names both: a swarm node's
    tasks cannot resolve the alias). Not of a stack's project (its `down` would remove
    it); a t4t-...-<pid> name, so a killed run's leftover is found."""
    key = Path(settings["TR4CTL_BACKUP_SSH_KEY"])
    known = Path(settings["TR4CTL_BACKUP_SSH_KNOWN_HOSTS"])
    server = f"t4t-{alias}-{os.getpid()}"
    try:
        docker("run", "-d", "--name", server, "--label", f"com.docker.compose.project={server}",
               "--network", network, "--network-alias", alias, ssh_host_image())
        home = f"/home/{SFTP_USER}"
        script = (f"install -d -m 0700 -o {SFTP_USER} -g {SFTP_USER} {home}/.ssh && "
                  f"cat > {home}/.ssh/authorized_keys && "
                  f"chown {SFTP_USER}: {home}/.ssh/authorized_keys")
        subprocess.run(["docker", "exec", "-i", server, "sh", "-c", script],
                       input=key.with_suffix(".pub").read_bytes(), check=True)
        host_key = wait_for(lambda: docker("exec", server, "cat", "/etc/ssh/ssh_host_ed25519_key.pub",
                                           check=False).strip(), "the server's host key", 30)
        address = address_on(server, network)
        known.write_text(f"{alias},{address} {' '.join(host_key.split()[:2])}\n")
        yield server, address
    finally:
        docker("rm", "-f", server, check=False)


@contextmanager
def stack_with_target(tmp_path_factory, label: str, alias: str,
                      settings: dict[str, str] | None = None):
    """A dev stack copying on a schedule to a server of its own; yields (stack, server).
    Removed with its volumes and network, the server first: `down` refuses a network
    another container is on."""
    values = {**target_settings(tmp_path_factory.mktemp(f"{label}-keys"), alias),
              **(settings or {})}
    stack = new_stack(tmp_path_factory, label, settings=values)
    try:
        stack.tr4ctl("init")  # the stack's network, for the server to join first
        with sftp_server(values, f"{stack.name}_network", alias) as (server, _):
            stack.tr4ctl("up", "--env", "dev")
            yield stack, server
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)
        docker("network", "rm", f"{stack.name}_network", check=False)


def schedule_status(stack) -> dict:
    """`status`'s account of the backup schedule ({} while there is none to read)."""
    return (stack.json("status", check=False).get("data") or {}).get("backup_schedule") or {}


def restic(stack, *args: str) -> str:
    """restic in the backup-schedule service, as it calls it (the target's options)."""
    return stack.compose_exec("backup-schedule", RESTIC_WRAPPER, *args)


def api_client(stack, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stack.url(""), timeout=60, headers=headers)


def account_load(stack, prefix: str) -> AccountLoad:
    """Accounts created through nginx by a seeded admin, in a loop (not started yet)."""
    seed_admin(stack)
    with api_client(stack) as client:
        token = client.post("/api/auth/login", json={"email": ADMIN_EMAIL,
                                                     "password": ADMIN_PASSWORD}).json()["access_token"]
    return AccountLoad(lambda: api_client(stack, token), prefix=prefix)
