"""Scheduled off-host backups, the pure layer: schedule, retention, target, the state
file, and the backup-schedule service as rendered (compose and swarm)."""

import json
from pathlib import Path

import pytest
import yaml

from tr4ctl.assets import backend_context, backend_image, load_templates
from tr4ctl.config.model import Config
from tr4ctl.plan import offsite, stack
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.readiness import settings_refusal


@pytest.mark.parametrize(("text", "seconds"), [("hourly", 3600), ("daily", 86400),
                                               ("15m", 900), ("2h", 7200), ("1d", 86400)])
def test_schedules(text, seconds):
    assert offsite.schedule_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "weekly", "10s", "0m", "*/5 * * * *", "5 m"])
def test_schedules_refused(text):
    with pytest.raises(ValueError):
        offsite.schedule_seconds(text)


def test_keep_flags():
    assert offsite.keep_flags("24h,7d,4w") == ["--keep-hourly", "24", "--keep-daily", "7",
                                               "--keep-weekly", "4"]
    for bad in ("", "24x", "0h", "24h,2h", "h"):
        with pytest.raises(ValueError):
            offsite.keep_flags(bad)


def test_targets():
    sftp = offsite.parse_target("sftp:backup@store.example.test:2222:/srv/restic")
    assert (sftp.kind, sftp.repository, sftp.port) == (
        "sftp", "sftp:backup@store.example.test:/srv/restic", 2222)
    assert offsite.sftp_command(sftp, "/k", "/kh") == (
        "ssh -i /k -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes "
        "-o UserKnownHostsFile=/kh -p 2222 backup@store.example.test -s sftp")
    s3 = offsite.parse_target("s3:http://127.0.0.1:9000/tr4ction/prod")
    assert (s3.kind, s3.repository) == ("s3", "s3:http://127.0.0.1:9000/tr4ction/prod")
    for bad in ("/local/path", "sftp:host:/p", "sftp:u@h:/a/../b", "s3:ftp://h/b",
                "sftp:u@h:/p; rm -rf /", "s3:https://h/Bucket"):
        with pytest.raises(ValueError):
            offsite.parse_target(bad)


def test_state_round_trip_and_strictness():
    text = ('{"format_version": 1, "last_run": 100, "last_exit": 0, "last_size": 2000000, '
            '"last_added": 10, "last_snapshot": "ab12cd34", "last_check_exit": 0, '
            '"last_db_run": 130, "last_db_exit": 0, "next_run": 200, "failed_step": ""}')
    state = offsite.parse_state(text)
    assert not state.failed
    assert offsite.describe_state(state, 160) == (
        "ok", "last pass 60s ago, snapshot ab12cd34, 2.0 MB, database copied 30s ago")
    failed = offsite.parse_state(text.replace('"last_check_exit": 0', '"last_check_exit": 1')
                                 .replace('"failed_step": ""', '"failed_step": "check"'))
    verdict, words = offsite.describe_state(failed, 160)
    assert verdict == "failed" and "check" in words
    assert offsite.describe_state(None, 0)[0] == "unknown"
    for bad in (text[:-5], text.replace('"format_version": 1', '"format_version": 2'),
                text.replace('"ab12cd34"', '"a b"'), text.replace('"last_run": 100', '"last_run": "x"')):
        with pytest.raises(ValueError):
            offsite.parse_state(bad)


def _render(swarm=False, **values):
    config = Config.defaults(target="swarm" if swarm else "compose", **values)
    inputs = stack.StackInputs(load_templates(None), backend_image(None, "python:3.11-slim"),
                               str(backend_context()))
    return yaml.safe_load(stack.render_compose(config, Environment.DEV,
                                               ProjectPaths(Path("/srv/p")), inputs))


SFTP = {"backup_schedule": "15m", "backup_target": "sftp:b@store.test:/r",
        "backup_ssh_key": Path("/k/id"), "backup_ssh_known_hosts": Path("/k/known")}


@pytest.mark.parametrize("swarm", [False, True])
def test_service_rendered_only_with_a_schedule(swarm):
    assert "backup-schedule" not in _render(swarm)["services"]
    service = _render(swarm, **SFTP)["services"]["backup-schedule"]
    assert service["image"] == "tr4ctl-local/backup:bookworm"
    assert service["environment"]["RESTIC_REPOSITORY"] == "sftp:b@store.test:/r"
    assert service["environment"]["RESTIC_PASSWORD_FILE"] == offsite.PASSWORD_IN_CONTAINER
    script = service["command"][0]
    assert "interval=900\n" in script and "--keep-hourly 24 --keep-daily 7 --keep-weekly 4" in script
    assert "-o sftp.command=" in script and "check --read-data-subset=100M" in script
    binds = {(m["source"], m["target"]) for m in service["volumes"] if isinstance(m, dict)}
    assert binds == {("/srv/p/.tr4ctl/secrets/restic_password", offsite.PASSWORD_IN_CONTAINER),
                     ("/k/id", offsite.SSH_KEY_IN_CONTAINER),
                     ("/k/known", offsite.KNOWN_HOSTS_IN_CONTAINER)}
    # No secret reaches the rendered file: only the paths of the files holding them.
    assert "AWS_SECRET_ACCESS_KEY=" not in script or "sed -n" in script


def test_s3_credentials_read_as_data():
    service = _render(backup_schedule="hourly", backup_target="s3:http://127.0.0.1:9/bk1",
                      backup_s3_credentials=Path("/k/s3"))["services"]["backup-schedule"]
    script = service["command"][0]
    assert f"$$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' {offsite.S3_CREDENTIALS_IN_CONTAINER}" in script
    assert ". /run" not in script and "sftp.command" not in script


def test_up_refuses_a_schedule_without_somewhere_to_go():
    refusal = settings_refusal(Config.defaults(backup_schedule="hourly"), Environment.DEV,
                               secret_problem=None)
    assert refusal is not None and "TR4CTL_BACKUP_TARGET" in refusal.hint
    refusal = settings_refusal(Config.defaults(backup_schedule="hourly",
                                               backup_target="sftp:b@h:/r"),
                               Environment.DEV, secret_problem=None)
    assert refusal is not None and "TR4CTL_BACKUP_SSH_KEY" in refusal.hint
    assert settings_refusal(Config.defaults(**SFTP), Environment.DEV, secret_problem=None) is None
    on_postgres = settings_refusal(Config.defaults(database="postgres", **SFTP), Environment.DEV,
                                   secret_problem=None)
    assert on_postgres is not None and "PostgreSQL" in on_postgres.message


def _cli(project, *args):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")})


def test_key_export(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_PROJECT_NAME=t3os-key\n")
    missing = _cli(tmp_path, "backup", "key", "export")
    assert missing.returncode == 3 and "tr4ctl up" in missing.stderr and not missing.stdout
    key_file = ProjectPaths(tmp_path).restic_password_file
    key_file.parent.mkdir(parents=True)
    key_file.write_text("k3y-Value\n")
    key_file.chmod(0o600)
    shown = _cli(tmp_path, "backup", "key", "export")
    assert shown.returncode == 0 and shown.stdout == "k3y-Value\n"
    assert "cannot be read" in shown.stderr


def test_bad_schedule_is_one_line(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_PROJECT_NAME=t3os-bad\nTR4CTL_BACKUP_SCHEDULE=5s\n")
    result = _cli(tmp_path, "config", "validate")
    assert result.returncode == 2 and "TR4CTL_BACKUP_SCHEDULE" in result.stderr
    assert "Traceback" not in result.stderr


def _snap(n, tags, host="p"):
    return {"id": str(n) * 64, "time": f"2026-12-05T00:0{n}:00Z", "tags": tags, "hostname": host}


def test_snapshots_chosen_newest_full_and_newer_database():
    text = json.dumps([_snap(1, ["full"]), _snap(2, ["db"]), _snap(3, ["full"]),
                       _snap(4, ["db"]), _snap(5, ["db"]), _snap(6, ["full"], host="other")])
    snapshots = offsite.parse_snapshots(text, "p")
    full, db = offsite.choose_snapshots(snapshots, None)
    assert (full.id, db.id) == ("3" * 64, "5" * 64)
    named, none = offsite.choose_snapshots(snapshots, "1" * 10)
    assert named.id == "1" * 64 and none is None
    with pytest.raises(ValueError):
        offsite.choose_snapshots(snapshots, "ffff")
    with pytest.raises(ValueError):
        offsite.choose_snapshots(offsite.parse_snapshots(json.dumps([_snap(2, ["db"])]), "p"), None)
    for bad in ("{", '{"a": 1}', json.dumps([{"id": "../x", "time": "t", "hostname": "p"}])):
        with pytest.raises(ValueError):
            offsite.parse_snapshots(bad, "p")


def test_restic_run_keeps_secrets_out_of_argv():
    s3 = offsite.restic_run(offsite.parse_target("s3:https://s3.example.test/bk1"),
                            ["snapshots", "--json"], password_file="/p/key", ssh_key=None,
                            known_hosts=None, out_dir="/tmp/out")
    assert s3.command == ["restic", "--no-cache", "snapshots", "--json"]
    assert s3.mounts == {"/p/key": f"{offsite.PASSWORD_IN_CONTAINER}:ro",
                         "/tmp/out": offsite.RESTORE_OUT}
    assert s3.env_keys == ("RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE", "AWS_ACCESS_KEY_ID",
                           "AWS_SECRET_ACCESS_KEY")
    sftp = offsite.restic_run(offsite.parse_target("sftp:b@h:/r"), ["restore", "x"],
                              password_file="/p/key", ssh_key="/k", known_hosts="/kh",
                              out_dir=None)
    command = (f"sftp.command=ssh -i {offsite.SSH_KEY_IN_CONTAINER} -o IdentitiesOnly=yes -o "
               "BatchMode=yes -o StrictHostKeyChecking=yes -o "
               f"UserKnownHostsFile={offsite.KNOWN_HOSTS_IN_CONTAINER} b@h -s sftp")
    assert sftp.command[:4] == ["restic", "--no-cache", "-o", command]
    assert "AWS_ACCESS_KEY_ID" not in sftp.env_keys


@pytest.mark.parametrize(("args", "words"), [
    (["--from", "/mnt/backups"], "--from /mnt/backups: use sftp:"),
    (["--from", "sftp:b@h:/r"], "needs a key"),
    (["--from", "sftp:b@h:/r", "--key-file", "/nonexistent"], "needs a key"),
    (["x.tar.gz", "--key-file", "k"], "--key-file goes with --from"),
])
def test_restore_from_refusals(tmp_path, args, words):
    (tmp_path / ".env").write_text("TR4CTL_PROJECT_NAME=t3os-refuse\n")
    result = _cli(tmp_path, "backup", "restore", *args, "--yes")
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".tr4ctl" / "secrets").exists()


def test_backup_files_checked_before_up(tmp_path):
    from tr4ctl.actions.backup.schedule import require_backup_files
    from tr4ctl.errors import BadInput

    key, known = tmp_path / "id", tmp_path / "known"
    key.write_text("k")
    known.write_text("h")
    key.chmod(0o644)
    config = Config.defaults(**(SFTP | {"backup_ssh_key": key, "backup_ssh_known_hosts": known}))
    with pytest.raises(BadInput, match="readable by others"):
        require_backup_files(config)
    key.chmod(0o600)
    require_backup_files(config)
    with pytest.raises(BadInput, match="does not exist"):
        require_backup_files(config.replace(backup_ssh_known_hosts=tmp_path / "nope"))
    require_backup_files(Config.defaults())  # no schedule: nothing to check
