"""Scheduled off-host backups (#22) against a real SFTP server: OpenSSH in a container of
this module's own (tests/stack/bare_ssh_hosts.py's image), on the stack's network. The
backup-schedule service makes the copies by itself; retention prunes; a corrupted pack
at the target is caught by the scheduled check (status degraded) and by
`backup verify --offsite`. One stack and one server for the module, tests in order.
The schedule is the cron form, each minute (test_offsite_s3.py runs the interval form):
a first pass at the service's start, then one at each minute."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

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
from test_backup import accounts

from tr4ctl.plan.offsite import RESTIC_WRAPPER

ALIAS = "t3os-sftp"


@pytest.fixture(scope="module")
def offsite(docker_engine, tmp_path_factory):
    with stack_with_target(tmp_path_factory, "t3os-offsite", ALIAS) as made:
        yield made


def _snapshots(stack, tag: str) -> list[dict]:
    return json.loads(restic(stack, "snapshots", "--json", "--tag", tag))


def test_key_is_private_and_not_at_the_target(offsite):
    stack, server = offsite
    key_file = stack.project_dir / ".tr4ctl" / "secrets" / "restic_password"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = stack.tr4ctl("backup", "key", "export").stdout.strip()
    assert key and key == key_file.read_text().strip()
    found = subprocess.run(["docker", "exec", server, "grep", "-rlF", "-e", key, REPOSITORY],
                           capture_output=True, text=True)
    assert found.returncode == 1, found.stdout  # nothing at the target holds the key


def test_schedule_copies_land_and_retention_prunes(offsite):
    stack, server = offsite

    def two_passes():
        state = schedule_status(stack)
        return state and state["state"] and state["state"]["last_run"] and \
            state["verdict"] == "ok" and len(_snapshots(stack, "full")) >= 1 and state

    first = wait_for(two_passes, "the first scheduled pass", 240, every=3)
    wait_for(lambda: (s := schedule_status(stack)) and s["state"]["last_run"] > first["state"]["last_run"]
             and s["verdict"] == "ok", "the second scheduled pass", 240, every=3)
    # TR4CTL_BACKUP_KEEP=1h: two full passes within the hour, one kept.
    assert len(_snapshots(stack, "full")) == 1
    # The 30 s database snapshots land too (the cron form's first two passes can be
    # seconds apart: its start, then the next minute).
    wait_for(lambda: _snapshots(stack, "db"), "a database snapshot", 120, every=5)
    packs = docker("exec", server, "find", f"{REPOSITORY}/data", "-type", "f").split()
    assert packs, "restic's packs are at the target"
    status = stack.json("status")
    assert status["data"]["condition"] == "healthy"
    assert status["data"]["backup_schedule"]["verdict"] == "ok"
    listed = stack.json("backup", "list")["data"]["schedule"]
    assert listed["state"]["last_size"] > 0 and listed["state"]["last_snapshot"]
    verified = stack.tr4ctl("backup", "verify", "--offsite")
    assert "intact" in verified.stderr


def _locks(stack) -> list[str]:
    return restic(stack, "list", "locks", "--no-lock").split()


def test_a_lock_left_by_a_killed_run_does_not_fail_the_passes_after(offsite):
    """A restic run killed mid-upload (the service stopped or replaced) leaves its lock
    at the target; a prune refuses to run past it for 30 minutes. The service's next
    container clears it at start, and its passes succeed."""
    stack, _ = offsite
    wait_for(lambda: (s := schedule_status(stack)) and s["state"], "the repository at the target", 120)
    before = set(_locks(stack))
    # restic waiting on its stdin holds its lock; killed, it cannot remove it ($! is the
    # pipeline's last process; the sleep, on the pipe, holds none of exec's streams).
    held = (f"sleep 300 2>/dev/null | {RESTIC_WRAPPER} backup -q --stdin --stdin-filename "
            "held >/dev/null 2>&1 & sleep 5; kill -9 $!")
    stack.compose_exec("backup-schedule", "sh", "-c", held)
    left = set(_locks(stack)) - before
    assert left, "the killed run's lock is at the target"
    # The service replaced, as a changed setting or `docker rm` and `up` would do.
    docker("rm", "-f", stack.container_ids()["backup-schedule"])
    replaced_at = time.time()
    stack.tr4ctl("up", "--env", "dev")
    passed = wait_for(lambda: (s := schedule_status(stack)) and s["state"] and (s["state"]["last_run"] or 0)
                      >= replaced_at - 1 and s, "a pass of the new container", 240, every=3)
    assert passed["verdict"] == "ok", passed
    assert not left & set(_locks(stack))


RPO_TARGET = 60.0
FIGURES = Path(__file__).resolve().parents[2] / "build" / "bench" / "offsite-drill.json"


def test_disaster_drill_restores_from_the_target(offsite, tmp_path):
    """Accounts written in a loop; the project's volumes destroyed; a fresh project folder
    restores from the target with one command; every account committed more than 60 s
    before the loss is there. The measured RPO and RTO go to build/bench/ (bench/run.py
    prints them)."""
    stack, server = offsite
    load = account_load(stack, "drill")
    load.start()
    try:
        wait_for(lambda: load.committed and load.committed[-1][1] - load.committed[0][1] > 80,
                 "80 s of accounts written", 240, every=2)
    finally:
        lost_at = time.monotonic()
        # The host is lost: its containers, volumes and network go, with no last backup.
        docker("network", "disconnect", "-f", f"{stack.name}_network", server)
        stack.tr4ctl("down", "--volumes", "--yes")
        load.halt.set()
        load.join(timeout=60)
    assert stack.name + "_backend_data" not in docker("volume", "ls", "--format", "{{.Name}}")
    key = stack.tr4ctl("backup", "key", "export").stdout
    # A new host: the project folder with the operator's .env and the exported key only.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copyfile(stack.project_dir / ".env", fresh / ".env")
    key_file = tmp_path / "tr4ction.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    old_dir, stack.project_dir = stack.project_dir, fresh
    # The target stays reachable from the new host's network (made before tr4ctl does).
    docker("network", "create", f"{stack.name}_network")
    docker("network", "connect", "--alias", ALIAS, f"{stack.name}_network", server)
    started = time.monotonic()
    restored = stack.tr4ctl("backup", "restore", "--from",
                            f"sftp:{SFTP_USER}@{ALIAS}:{REPOSITORY}", "--key-file", str(key_file),
                            "--yes", timeout=1200)
    wait_for(lambda: httpx.get(stack.url("/health"), timeout=5).status_code == 200,
             "the restored stack serving", 300, every=0.5)
    rto = time.monotonic() - started
    assert "restored" in restored.stderr
    # One command, one line in the new host's audit log (the fetch is part of it).
    audit = [json.loads(line) for line in
             (fresh / ".tr4ctl" / "audit.jsonl").read_text().splitlines()]
    assert [(a["command"], a["result"]) for a in audit
            if a.get("command") == "backup restore"] == [("backup restore", "ok")], audit
    present = accounts(stack)
    due = load.committed_before(lost_at - RPO_TARGET)
    assert due, "accounts were committed more than 60 s before the loss"
    assert due <= present, sorted(due - present)[:5]
    # The measured recovery point: the newest account committed that came back.
    kept = [at for email, at in load.committed if email in present]
    rpo = lost_at - max(kept)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps({"format_version": 1, "rpo_seconds": round(rpo, 1),
                                   "rto_seconds": round(rto, 1),
                                   "accounts_committed": len(load.committed),
                                   "accounts_restored": len(present & {e for e, _ in load.committed}),
                                   "rpo_target_seconds": RPO_TARGET}, indent=2) + "\n")
    assert old_dir.exists()


def test_corrupted_pack_is_caught(offsite):
    stack, server = offsite
    assert stack.json("status", check=False)["data"]["condition"] != "stopped", \
        "the drill's restore did not bring the stack back (see its failure above)"
    # Healthy first (after the drill: the restored stack's own first pass), so that the
    # failure below is the damage's.
    wait_for(lambda: (s := schedule_status(stack)) and s["verdict"] == "ok" and s["state"]["last_run"],
             "a good pass before the damage", 240, every=3)
    packs = docker("exec", server, "find", f"{REPOSITORY}/data", "-type", "f", "-size", "+1k"
                   ).split()
    for pack in packs:  # every pack: whichever the check reads is damaged
        docker("exec", server, "sh", "-c",
               f"printf 'XXXXXXXXXXXXXXXX' | dd of={pack} bs=1 seek=64 conv=notrunc status=none")
    bad = stack.tr4ctl("backup", "verify", "--offsite", check=False)
    assert bad.returncode == 1 and "failed verification" in bad.stderr
    assert "Traceback" not in bad.stderr
    wait_for(lambda: (s := schedule_status(stack)) and s["verdict"] == "failed",
             "a scheduled pass that notices", 240, every=3)
    degraded = stack.tr4ctl("status", "--check", check=False)
    assert degraded.returncode == 1 and "scheduled backup" in degraded.stderr
