"""Bad input through the real CLI process: one line, the right exit code, no traceback."""

import json
import os
import subprocess
import sys

import pytest


def tr4ctl(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60,
    )


def assert_one_line_error(result, code, *words):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def test_unknown_environment(tmp_path):
    result = tr4ctl(tmp_path, "up", "--env", "staging")
    assert_one_line_error(result, 2, "unknown environment 'staging'", "--env dev")
    assert not (tmp_path / ".env").exists()  # nothing was started or written


def test_json_envelope_on_failure(tmp_path):
    result = tr4ctl(tmp_path, "--json", "up", "--env", "staging")
    envelope = json.loads(result.stdout)
    assert envelope["status"] == "error" and envelope["exit_code"] == 2
    assert "unknown environment" in envelope["errors"][0]["message"]


def test_malformed_env_file(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_HTTP_PORT=8080\nnot an assignment\n")
    assert_one_line_error(tr4ctl(tmp_path, "status"), 2, "line 2")


def test_invalid_setting_value(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_HTTP_PORT=eighty\n")
    assert_one_line_error(tr4ctl(tmp_path, "up"), 2, "TR4CTL_HTTP_PORT")


def test_down_volumes_needs_yes(tmp_path):
    assert_one_line_error(tr4ctl(tmp_path, "down", "--volumes"), 2, "--yes")


def test_unknown_service_for_logs(tmp_path):
    assert_one_line_error(tr4ctl(tmp_path, "logs", "frontend"), 2, "unknown service")


def test_unknown_option_is_usage_error(tmp_path):
    assert_one_line_error(tr4ctl(tmp_path, "up", "--bogus"), 2, "--bogus")


@pytest.mark.parametrize("assignment, word", [
    ("NOEQUALS", "KEY=VALUE"),
    ("JWT_SECRET_KEY=abc", "secret"),
    ("TR4CTL_HTTP_PORT=eighty", "TR4CTL_HTTP_PORT"),
])
def test_config_set_rejects_bad_input_and_changes_nothing(tmp_path, assignment, word):
    (tmp_path / ".env").write_text("TR4CTL_HTTP_PORT=8080\n")
    os.chmod(tmp_path / ".env", 0o600)
    assert_one_line_error(tr4ctl(tmp_path, "config", "set", assignment), 2, word)
    assert (tmp_path / ".env").read_text() == "TR4CTL_HTTP_PORT=8080\n"


def a_project(tmp_path) -> bytes:
    """A folder that is a project (its .env), named so that nothing real is ever read."""
    env = tmp_path / ".env"
    env.write_text(f"TR4CTL_PROJECT_NAME=t4t-unit-{os.getpid()}\n")
    os.chmod(env, 0o600)
    return env.read_bytes()


def test_no_engine_reachable_is_a_missing_prerequisite(tmp_path):
    before = a_project(tmp_path)
    result = tr4ctl(tmp_path, "status", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert_one_line_error(result, 3, "no Docker engine is reachable")
    assert (tmp_path / ".env").read_bytes() == before


@pytest.mark.parametrize("host", ["garbage://x", "http://[::1", "ssh://", "tcp://host:abc"])
@pytest.mark.parametrize("command", [("status",), ("down",), ("backup", "create")])
def test_a_docker_host_that_is_no_address_is_bad_input(tmp_path, host, command):
    before = a_project(tmp_path)
    result = tr4ctl(tmp_path, *command, env={"DOCKER_HOST": host})
    assert_one_line_error(result, 2, "DOCKER_HOST", "address is not valid")
    assert (tmp_path / ".env").read_bytes() == before


@pytest.mark.parametrize("folder", ["empty", "missing", "lock only", "other files"])
@pytest.mark.parametrize("command", [("status",), ("status", "--check"), ("nginx", "status"),
                                     ("releases",), ("down",), ("logs",)])
def test_a_folder_with_no_project_is_exit_3_whatever_runs_elsewhere(tmp_path, folder, command):
    """Whatever runs on the engine under the default name (README command 1's stack):
    a folder with no .env and no rendered files is no project (README, exit codes)."""
    where = tmp_path / "here"
    if folder != "missing":
        where.mkdir()
    if folder == "lock only":  # what a refused command may leave
        (where / ".tr4ctl").mkdir()
        (where / ".tr4ctl" / "lock").write_text("")
    if folder == "other files":
        (where / "notes.txt").write_text("not a project\n")
    result = tr4ctl(where, *command)
    assert_one_line_error(result, 3, "no tr4ctl project", "--project-dir", "tr4ctl init")
    assert not (where / ".env").exists()


def test_a_project_named_explicitly_is_looked_up_without_its_folder(tmp_path):
    # Named and absent on the engine: still exit 3, about that project's stack.
    result = tr4ctl(tmp_path, "--project-name", f"t4t-unit-{os.getpid()}", "status")
    assert_one_line_error(result, 3, "not running")
    assert not (tmp_path / ".env").exists()


def in_process(monkeypatch, capsys, args, raised):
    """tr4ctl's main() with `status`'s flow raising `raised`: (exit code, stderr lines)."""
    from tr4ctl.actions.stack import status
    from tr4ctl.cli import app

    def fail(rt):
        raise raised

    monkeypatch.setattr(status, "stack_status", fail)
    with pytest.raises(SystemExit) as ended:
        app.main(args)
    return ended.value.code, [line for line in capsys.readouterr().err.splitlines() if line]


@pytest.mark.parametrize("number, words", [
    (13, "permission denied"), (1, "operation not permitted"),
    (30, "read-only file system"), (28, "no space left on device"),
    (20, "not a folder"),
])
@pytest.mark.parametrize("path", ["/srv/tr4ction/.env", "/var/backups/b c/x.tar.gz"])
def test_a_path_the_host_refuses_is_bad_input_naming_it(tmp_path, monkeypatch, capsys, number,
                                                         words, path):
    before = a_project(tmp_path)
    code, lines = in_process(monkeypatch, capsys, ["--project-dir", str(tmp_path), "status"],
                             OSError(number, os.strerror(number), path))
    assert code == 2 and len(lines) == 1, lines
    assert words in lines[0] and path in lines[0] and "Traceback" not in lines[0]
    assert (tmp_path / ".env").read_bytes() == before


def test_an_os_error_that_is_no_host_problem_stays_unexpected(tmp_path, monkeypatch, capsys):
    a_project(tmp_path)
    code, lines = in_process(monkeypatch, capsys, ["--project-dir", str(tmp_path), "status"],
                             OSError(5, "Input/output error", "/dev/sdz"))
    assert code == 1 and len(lines) == 1 and "unexpected OSError" in lines[0]


def test_help_and_version_import_nothing_heavy():
    code = (
        "import sys\n"
        "from tr4ctl.cli import app\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try:\n"
        "        app.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('python_on_whales', 'httpx', 'jinja2', 'pydantic') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("gone", ["backups/deploy-r2.tar.gz", "elsewhere/x y.tar.gz"])
def test_rollback_restore_data_with_its_backup_gone_is_exit_3(tmp_path, monkeypatch, capsys,
                                                              gone):
    """Refused before the lock, nothing changed: the backup the release's data needs."""
    from tr4ctl.actions.deploy import rollback
    from tr4ctl.cli import app
    from tr4ctl.plan.layout import ProjectPaths
    from tr4ctl.plan.releases import History, Release
    from tr4ctl.project.releases import write_history

    before = a_project(tmp_path)
    missing = tmp_path / gone

    def release(rid, revision, backup=None):
        return Release(id=rid, kind="deploy", time="2026-01-01T00:00:00Z", image=f"b:{rid}",
                       image_id=None, fingerprint=rid, db_revision=revision,
                       known_revisions=[revision], backup=backup)

    (tmp_path / ".tr4ctl").mkdir()
    write_history(ProjectPaths(tmp_path), History([release("r1", "0001"),
                                                   release("r2", "0002", str(missing))]))
    history = (tmp_path / ".tr4ctl" / "releases.json").read_bytes()
    monkeypatch.setattr(rollback, "database_revision", lambda rt: "0002")
    with pytest.raises(SystemExit) as ended:
        app.main(["--project-dir", str(tmp_path), "rollback", "r1", "--restore-data"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert ended.value.code == 3 and len(lines) == 1, lines
    assert str(missing) in lines[0] and "is gone" in lines[0]
    assert (tmp_path / ".env").read_bytes() == before
    assert (tmp_path / ".tr4ctl" / "releases.json").read_bytes() == history
