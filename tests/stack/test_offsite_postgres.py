"""Scheduled off-host backups of a stack on PostgreSQL (#22), against a real SFTP server
of this module's own (tests/stack/sftp_target.py): backup-schedule asks backup-dump (the
server's own image) for each pg_dump and ships it with restic; a fresh project restores
from the target with one command, and refuses first, with nothing made, when its
TR4CTL_DATABASE is not the copies'. One stack and one server, tests in order."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import docker, wait_for
from sftp_target import (
    REPOSITORY,
    SFTP_USER,
    account_load,
    restic,
    schedule_status,
    stack_with_target,
)
from test_backup import ADMIN_EMAIL, accounts

from tr4ctl.plan.offsite import RESTIC_WRAPPER

ALIAS = "t3pg-sftp"


@pytest.fixture(scope="module")
def offsite_pg(docker_engine, tmp_path_factory):
    with stack_with_target(tmp_path_factory, "t3pg-offsite", ALIAS,
                           {"TR4CTL_DATABASE": "postgres"}) as made:
        yield made


def test_each_pass_ships_a_dump_from_the_servers_own_image(offsite_pg):
    stack, _ = offsite_pg
    services = {s["service"]: s for s in stack.json("status")["data"]["services"]}
    assert services["backup-dump"]["state"] == "running"
    state = wait_for(lambda: (s := schedule_status(stack)) and s["state"] and s["state"]["last_run"]
                     and s["verdict"] == "ok" and s, "the first scheduled pass", 240, every=3)
    assert state["state"]["last_size"] > 0
    full = json.loads(restic(stack, "snapshots", "--json", "--tag", "full"))[-1]
    listed = restic(stack, "ls", full["id"])
    assert "/database/database.pgdump" in listed and ".db\n" not in listed
    # The dump is pg_dump's own archive (custom format), as `backup create` takes it.
    path = next(line for line in listed.splitlines()
                if line.endswith("/database/database.pgdump"))
    head = stack.compose_exec("backup-schedule", "sh", "-c",
                              f'{RESTIC_WRAPPER} dump {full["id"]} "$1" | head -c 5', "sh", path)
    assert head == "PGDMP"


def test_a_fresh_project_restores_every_account_from_the_target(offsite_pg, tmp_path):
    stack, server = offsite_pg
    load = account_load(stack, "pgdrill")
    load.start()
    try:
        wait_for(lambda: len(load.committed) >= 20, "20 accounts written", 120, every=1)
    finally:
        load.halt.set()
        load.join(timeout=60)
    written = {email for email, _ in load.committed}
    # A snapshot begun after the last account (the second to end from now: the first may
    # have begun before it); then the host is lost. Ids, not counts: retention prunes.
    before, new = _snapshot_ids(stack), set()

    def two_new() -> bool:
        new.update(_snapshot_ids(stack) - before)
        return len(new) >= 2

    wait_for(two_new, "a snapshot begun after the writes", 240, every=5)
    key = stack.tr4ctl("backup", "key", "export").stdout
    docker("network", "disconnect", "-f", f"{stack.name}_network", server)
    stack.tr4ctl("down", "--volumes", "--yes")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env_text = (stack.project_dir / ".env").read_text()
    (fresh / ".env").write_text(env_text.replace("TR4CTL_DATABASE=postgres",
                                                 "TR4CTL_DATABASE=sqlite"))
    key_file = tmp_path / "tr4ction.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    old_dir, stack.project_dir = stack.project_dir, fresh
    try:
        docker("network", "create", f"{stack.name}_network")
        docker("network", "connect", "--alias", ALIAS, f"{stack.name}_network", server)
        target = f"sftp:{SFTP_USER}@{ALIAS}:{REPOSITORY}"
        # Set to SQLite, the project refuses copies of a PostgreSQL database: exit 2, and
        # the volumes it made to fetch them are gone again.
        refused = stack.tr4ctl("backup", "restore", "--from", target, "--key-file",
                               str(key_file), "--yes", check=False, timeout=600)
        assert refused.returncode == 2, refused.stderr
        assert "TR4CTL_DATABASE=postgres" in refused.stderr
        assert not [v for v in docker("volume", "ls", "--format", "{{.Name}}").split()
                    if v.startswith(f"{stack.name}_")]
        (fresh / ".env").write_text(env_text)
        restored = stack.tr4ctl("backup", "restore", "--from", target, "--key-file",
                                str(key_file), "--yes", timeout=1200)
        assert "restored" in restored.stderr
        wait_for(lambda: httpx.get(stack.url("/health"), timeout=5).status_code == 200,
                 "the restored stack serving", 300, every=0.5)
        assert stack.json("db", "status")["data"]["engine"] == "postgresql"
        present = accounts(stack)
        assert written <= present, sorted(written - present)[:5]
        assert ADMIN_EMAIL in present
    finally:
        assert old_dir.exists()  # the fixture takes the restored stack down, from `fresh`


def _snapshot_ids(stack) -> set[str]:
    return {s["id"] for s in json.loads(restic(stack, "snapshots", "--json"))}
