"""Scheduled off-host backups, the pure layer: schedule, retention, target, the state
file, and the backup-schedule service as rendered (compose and swarm)."""

import json
import os
import re
import subprocess
from datetime import UTC, datetime
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


def test_cron_schedules_expand_to_what_each_field_matches():
    times = offsite.parse_schedule("  0 */6 * * *  ")
    assert (times.minutes, times.hours, times.days_and) == ((0,), (0, 6, 12, 18), True)
    weekdays = offsite.parse_schedule("30 2 * * mon-fri")
    assert weekdays.weekdays == (1, 2, 3, 4, 5) and len(weekdays.days) == 31
    assert offsite.parse_schedule("0 0 * * 7").weekdays == (0,)  # Sunday, as date +%w says
    either = offsite.parse_schedule("0 0 1,15 * fri")
    assert (either.days, either.weekdays, either.days_and) == ((1, 15), (5,), False)
    assert offsite.parse_schedule("15m") == 900
    assert either.next_after(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == \
        datetime(2026, 12, 11, 0, 0, tzinfo=UTC)  # the next Friday comes before the 15th


@pytest.mark.parametrize(("text", "words"), [
    ("0 0 0 * * *", "5 fields"), ("@reboot", "cron expression such as"),
    ("61 * * * *", "Bad minute"), ("0 0 31 2 *", "Bad day-of-month"),
    ("0 0 L * *", "L, W and # are not taken"), ("0 0 * * 5#2", "L, W and # are not taken"),
    ("0 0 * *", "5 fields")])
def test_cron_schedules_refused_naming_the_rule(text, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        offsite.parse_schedule(text)


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


def _render(swarm=False, file_digests=None, **values):
    config = Config.defaults(target="swarm" if swarm else "compose", **values)
    inputs = stack.StackInputs(load_templates(None), backend_image(None, "python:3.11-slim"),
                               str(backend_context()),
                               file_digests=file_digests or (DIGESTS if swarm else {}))
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
    script = service["command"][0]
    assert "interval=900\n" in script and "--keep-hourly 24 --keep-daily 7 --keep-weekly 4" in script
    assert "-o sftp.command=" in script and "check --read-data-subset=100M" in script
    # No secret reaches the rendered file: only the paths of the files holding them.
    assert "AWS_SECRET_ACCESS_KEY=" not in script or "sed -n" in script


@pytest.mark.parametrize("swarm", [False, True])
def test_a_lock_left_by_a_cut_short_run_is_cleared_at_start(swarm):
    """restic takes a lock of its host whose process is gone for stale: the service's
    hostname is the same in every container of it, and it unlocks once the repository
    answers, before its first pass."""
    service = _render(swarm, **SFTP)["services"]["backup-schedule"]
    assert service["hostname"] == "tr4ction-backup"
    script = service["command"][0]
    assert script.index("r init; do") < script.index("r unlock") < script.index("while :; do")
    assert "--remove-all" not in script  # another host's live lock is never removed


def test_lock_hostnames_are_the_projects_and_fit():
    assert offsite.lock_hostname("shop") == "shop-backup"
    long_one, other = "p" * 60, "p" * 59 + "q"
    assert len(offsite.lock_hostname(long_one)) <= 63
    assert offsite.lock_hostname(long_one) != offsite.lock_hostname(other)


def test_on_compose_the_service_binds_its_files_from_this_machine():
    service = _render(**SFTP)["services"]["backup-schedule"]
    assert service["environment"]["RESTIC_PASSWORD_FILE"] == offsite.PASSWORD_IN_CONTAINER
    binds = {(m["source"], m["target"]) for m in service["volumes"] if isinstance(m, dict)}
    assert binds == {("/srv/p/.tr4ctl/secrets/restic_password", offsite.PASSWORD_IN_CONTAINER),
                     ("/k/id", offsite.SSH_KEY_IN_CONTAINER),
                     ("/k/known", offsite.KNOWN_HOSTS_IN_CONTAINER)}
    assert "secrets" not in service


DIGESTS = {offsite.PASSWORD: "a" * 64, offsite.SSH_KEY: "b" * 64, offsite.KNOWN_HOSTS: "c" * 64}


@pytest.mark.parametrize("target", ["sftp", "s3"])
def test_on_a_swarm_its_files_are_secrets_named_after_their_content(target):
    """No path of this machine in the service: a task may run on another node."""
    values = SFTP if target == "sftp" else {
        "backup_schedule": "hourly", "backup_target": "s3:http://127.0.0.1:9/bk1",
        "backup_s3_credentials": Path("/k/s3")}
    keys = [offsite.PASSWORD, *((offsite.SSH_KEY, offsite.KNOWN_HOSTS) if target == "sftp"
                                else (offsite.S3_CREDENTIALS,))]
    digests = {key: f"{index}" * 64 for index, key in enumerate(keys)}
    rendered = _render(True, file_digests=digests, **values)
    service = rendered["services"]["backup-schedule"]
    assert not [m for m in service["volumes"] if isinstance(m, dict)]  # no bind mount
    assert service["secrets"] == [{"source": key, "target": key, "mode": 0o400} for key in keys]
    for index, key in enumerate(keys):
        assert rendered["secrets"][key]["name"] == f"tr4ction_{key}_{str(index) * 12}"
    assert service["environment"]["RESTIC_PASSWORD_FILE"] == "/run/secrets/restic_password"
    script = service["command"][0]
    if target == "sftp":
        assert "ssh -i /run/secrets/backup_ssh_key" in script
        assert "UserKnownHostsFile=/run/secrets/backup_known_hosts" in script
    else:
        assert "/run/secrets/backup_s3_credentials" in script
    assert "/k/" not in yaml.safe_dump(service)


def test_a_changed_file_is_a_new_secret():
    before = _render(True, file_digests=DIGESTS, **SFTP)["secrets"]
    after = _render(True, file_digests={**DIGESTS, offsite.KNOWN_HOSTS: "d" * 64},
                    **SFTP)["secrets"]
    assert after[offsite.KNOWN_HOSTS]["name"] != before[offsite.KNOWN_HOSTS]["name"]
    assert after[offsite.SSH_KEY] == before[offsite.SSH_KEY]


def _cron_match(script: str) -> str:
    """The rendered service's cron sets and matcher, as sh runs them (compose's $$ is $)."""
    start = script.index("cron_minutes=")
    end = script.index("first=1 last_minute=")
    return "\n".join(line.strip() for line in script[start:end].replace("$$", "$").splitlines())


@pytest.mark.parametrize(("when", "matches"), [
    ("00 06 05 12 6", True), ("00 07 05 12 6", False), ("30 06 05 12 6", False),
    ("00 00 01 01 4", True), ("00 18 31 07 5", True)])
def test_the_service_matches_a_cron_minute_as_cron_does(when, matches):
    script = _render(**{**SFTP, "backup_schedule": "0 */6 * * *"})["services"][
        "backup-schedule"]["command"][0]
    assert "\ninterval=" not in script and "cron_days_and=1" in script
    done = subprocess.run(["sh", "-c", _cron_match(script) + f"\ncron_match {when}"])
    assert (done.returncode == 0) == matches, when


@pytest.mark.parametrize(("when", "matches"), [
    ("00 00 01 12 2", True),  # the 1st, a Tuesday: the day of the month matches
    ("00 00 04 12 5", True),  # a Friday, the 4th: the day of the week matches
    ("00 00 03 12 4", False), ("00 00 15 06 1", True), ("30 00 15 06 1", False)])
def test_with_both_day_fields_either_is_enough(when, matches):
    script = _render(**{**SFTP, "backup_schedule": "0 0 1,15 * fri"})["services"][
        "backup-schedule"]["command"][0]
    done = subprocess.run(["sh", "-c", _cron_match(script) + f"\ncron_match {when}"])
    assert (done.returncode == 0) == matches, when


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
    # On PostgreSQL too: backup-dump takes its pg_dump.
    assert settings_refusal(Config.defaults(database="postgres", **SFTP), Environment.DEV,
                            secret_problem=None) is None


@pytest.mark.parametrize("swarm", [False, True])
def test_on_postgres_the_dump_comes_from_the_servers_own_image(swarm):
    rendered = _render(swarm, database="postgres", **SFTP)
    services = rendered["services"]
    dump = services["backup-dump"]
    assert dump["image"] == services["postgres"]["image"]
    assert dump["environment"]["PGHOST"] == "postgres" and dump["secrets"] == ["db_password"]
    assert dump["user"] == "0:0"  # an image with a non-root USER writes the volume too
    assert dump["volumes"] == [f"backup_dumps:{offsite.DUMPS_IN_CONTAINER}"]
    assert f"backup_dumps:{offsite.DUMPS_IN_CONTAINER}" in services["backup-schedule"]["volumes"]
    assert "backup_dumps" in rendered["volumes"]
    # The password reaches pg_dump's environment from the secret's file, never argv.
    assert "PGPASSWORD=$$(cat /run/secrets/" in dump["command"][0]
    assert "sqlite3" not in services["backup-schedule"]["command"][0].split("copy_tree()")[0]
    assert "backup-dump" not in _render(swarm, **SFTP)["services"]


def test_the_request_and_answer_between_the_two_services(tmp_path):
    """The two rendered loops, run with sh over one folder (pg_dump a stub): a request
    gets one dump and its answer; a failed pg_dump fails the pass."""
    services = _render(database="postgres", **SFTP)["services"]
    folder = tmp_path / "dumps"
    folder.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("pw\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "pg_dump"
    stub.write_text('#!/bin/sh\n[ "$PGPASSWORD" = pw ] || exit 3\n[ ! -e "$STUB_FAIL" ] || exit 1\n'
                    'for a; do case "$a" in --file=*) printf PGDMPstub > "${a#--file=}";; esac; '
                    'done\n')
    stub.chmod(0o755)

    def sh(script: str) -> str:
        return (script.replace("$$", "$").replace(offsite.DUMPS_IN_CONTAINER, str(folder))
                .replace("/run/secrets/db_password", str(secret)))

    dumper = subprocess.Popen(["sh", "-c", sh(services["backup-dump"]["command"][0])],
                              env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
                                   "STUB_FAIL": str(tmp_path / "fail")})
    script = services["backup-schedule"]["command"][0]
    start = script.index("copy_databases() {")
    function = sh(script[start:script.index("copy_tree() {")])
    try:
        out = tmp_path / "out"
        done = subprocess.run(["sh", "-c", f"{function}\ncopy_databases {out}"], timeout=30)
        assert done.returncode == 0
        assert (out / "database.pgdump").read_bytes() == b"PGDMPstub"
        (tmp_path / "fail").touch()
        failed = subprocess.run(["sh", "-c", f"{function}\ncopy_databases {out}"],
                                capture_output=True, text=True, timeout=30)
        assert failed.returncode == 1 and "pg_dump failed" in failed.stderr
    finally:
        dumper.kill()


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
    known.write_text("")
    with pytest.raises(BadInput, match="is empty") as refused:
        require_backup_files(config)
    assert "host key" in refused.value.hint
    require_backup_files(Config.defaults())  # no schedule: nothing to check


def test_a_cron_schedules_next_pass_is_worked_out_here():
    state = offsite.ScheduleState(100, 0, 1, 1, "ab12cd34", 0, 130, 0, None, None)
    noon = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC).timestamp()
    filled = offsite.with_next_run(state, "0 */6 * * *", noon)
    assert filled.next_run == int(datetime(2026, 12, 5, 18, 0, tzinfo=UTC).timestamp())
    interval = offsite.ScheduleState(100, 0, 1, 1, "ab12cd34", 0, 130, 0, 3700, None)
    assert offsite.with_next_run(interval, "hourly", noon) == interval
