"""health / bench / verify refuse bad input before touching anything (real CLI process)."""

import json
import os
import subprocess
import sys

import pytest


def tr4ctl(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), *args],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60, check=False,
    )


@pytest.mark.parametrize("command", ["health", "verify", "bench"])
def test_no_stack_exits_3_with_one_line(tmp_path, command):
    result = tr4ctl(tmp_path, command)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no stack yet" in lines[0], result.stderr


@pytest.mark.parametrize("args, words", [
    (["health", "--samples", "0"], "--samples"),
    (["health", "--baseline", "missing.json"], "missing.json does not exist"),
    (["bench", "--duration", "1", "--requests", "5"], "cannot be combined"),
    (["bench", "--duration", "600"], "--duration"),
    (["bench", "--concurrency", "1000"], "--concurrency"),
    (["bench", "--path", "http://example.com/"], "not a path on the stack"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, words):
    result = tr4ctl(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_bad_baseline_file_is_named(tmp_path):
    (tmp_path / "b.json").write_text('{"format": "tr4ctl-baseline/1"}')
    result = tr4ctl(tmp_path, "health", "--baseline", str(tmp_path / "b.json"))
    assert result.returncode == 2 and "latency_ms" in result.stderr


@pytest.mark.parametrize("where", ["global", "command"])
def test_json_error_envelope_either_way(tmp_path, where):
    args = ["--json", "health"] if where == "global" else ["health", "--json"]
    envelope = json.loads(tr4ctl(tmp_path, *args).stdout)
    assert envelope["status"] == "error" and envelope["exit_code"] == 3
    assert "no stack yet" in envelope["errors"][0]["message"]
