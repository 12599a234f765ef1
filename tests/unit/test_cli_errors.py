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


def test_no_engine_reachable_is_a_missing_prerequisite(tmp_path):
    result = tr4ctl(tmp_path, "status", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert_one_line_error(result, 3, "no Docker engine is reachable")


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
