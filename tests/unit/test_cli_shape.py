"""The same shape for every command, through the real CLI process (no Docker): --json
after any command, help with an example and real metavars, value completion, doctor's
exit code without an engine, and the pure pieces behind status and logs --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tr4ctl.cli.app import build_command
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.logs import log_record
from tr4ctl.plan.services import ServiceState, absent, stack_condition
from tr4ctl.project.state import last_environment, unfinished_up


def tr4ctl(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "tr4ctl", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=cwd)


def leaf_commands():
    def walk(command, path):
        children = getattr(command, "commands", None)
        if children is None:
            yield path, command
            return
        for name, child in children.items():
            yield from walk(child, [*path, name])
    return list(walk(build_command(), []))


COMMANDS = [" ".join(path) for path, _ in leaf_commands()]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_json_after_its_name_and_has_an_example(command):
    result = tr4ctl(*command.split(), "--help", env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "--json" in text and "Examples:" in text and f"$ tr4ctl {command}" in text
    assert "<bool>" not in text and "BOOLEAN" not in text
    options = [line for line in text.splitlines() if line.lstrip("│ ").startswith("--")]
    assert not [line for line in options if "<str>" in line or "TEXT" in line], options


def test_choices_and_metavars_instead_of_types():
    up = tr4ctl("up", "--help", env={"COLUMNS": "100"}).stdout
    assert "dev|prod" in up and "SECONDS" in up
    assert "dev|prod|prod-http" in tr4ctl("nginx", "use", "--help").stdout
    logs = tr4ctl("logs", "--help", env={"COLUMNS": "100"}).stdout
    assert "--follow" in logs and "Keep printing new lines" in logs
    assert "--timestamps" in logs and "Prefix each line with its time" in logs


def test_the_backup_directory_has_one_name():
    for command in (["backup", "create"], ["backup", "list"], ["backup", "restore"]):
        text = tr4ctl(*command, "--help", env={"COLUMNS": "100"}).stdout
        assert "--dir" in text and "--output" not in text and "--safety-dir" not in text
    assert "--output" in tr4ctl("users", "seed", "--help").stdout  # a file, the only one


def complete(line: str) -> list[str]:
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = tr4ctl(env={"_TR4CTL_COMPLETE": "complete_bash", "COMP_WORDS": line,
                         "COMP_CWORD": str(cword)})
    return result.stdout.split()


def test_completion_knows_values():
    assert complete("tr4ctl up --env ") == ["dev", "prod"]
    assert complete("tr4ctl logs ") == ["chroma", "backend", "nginx", "certbot-renew",
                                        "certbot"]
    assert complete("tr4ctl nginx use p") == ["prod", "prod-http"]
    assert "TR4CTL_HTTP_PORT=" in complete("tr4ctl config set TR4CTL_HT")


def test_unknown_command_with_json_prints_the_envelope(tmp_path):
    for args in (["--json", "upp"], ["upp", "--json"]):
        result = tr4ctl("--project-dir", str(tmp_path), *args)
        envelope = json.loads(result.stdout)
        assert result.returncode == envelope["exit_code"] == 2
        assert "No such command 'upp'" in envelope["errors"][0]["message"]


def test_doctor_without_an_engine_exits_3_like_every_command(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    result = tr4ctl("--project-dir", str(tmp_path), "doctor", "--json", env=env)
    assert result.returncode == 3, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["exit_code"] == 3
    engine = next(c for c in envelope["data"]["checks"] if c["name"] == "docker engine")
    assert not engine["ok"] and engine["prerequisite"]
    assert tr4ctl("--project-dir", str(tmp_path), "status", env=env).returncode == 3


# -- the pure pieces -----------------------------------------------------------------------
def running(name: str, health: str | None = "healthy") -> ServiceState:
    return ServiceState(name, "id-" + name, "running", health)


SERVICES = ("chroma", "backend", "nginx")


def test_stack_condition():
    healthy = {name: running(name) for name in SERVICES}
    assert stack_condition(healthy, SERVICES) == ("healthy", [])
    assert stack_condition(healthy, SERVICES, unfinished=True) == ("degraded", [])
    half = {**healthy, "nginx": ServiceState("nginx", "x", "created", None)}
    assert stack_condition(half, SERVICES) == ("degraded", ["nginx is created, not running"])
    down = {name: absent(name) for name in SERVICES}
    assert stack_condition(down, SERVICES)[0] == "stopped"
    assert stack_condition(down, SERVICES, unfinished=True)[0] == "degraded"
    starting = {**healthy, "backend": running("backend", "starting")}
    assert stack_condition(starting, SERVICES)[1] == ["backend is running, health starting"]


def test_an_old_state_file_reads_with_no_up_under_way(tmp_path):
    paths = ProjectPaths(tmp_path)
    paths.state_file.parent.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({"env": "prod", "validated_compose_sha256": "ab"}))
    assert unfinished_up(paths) is None
    assert last_environment(paths).value == "prod"


def test_log_lines_become_records():
    line = "certbot-renew-1  | 2024-05-01T10:00:00.123Z \x1b[32m INFO\x1b[0m renewed"
    assert log_record(line, timestamps=True) == {
        "service": "certbot-renew", "container": "certbot-renew-1",
        "time": "2024-05-01T10:00:00.123Z", "message": " INFO renewed"}
    assert log_record("backend-1  | {\"msg\": \"a | b\"}", timestamps=False) == {
        "service": "backend", "container": "backend-1", "time": None,
        "message": "{\"msg\": \"a | b\"}"}
    assert log_record("no prefix", timestamps=False)["service"] is None


def test_every_top_level_command_is_in_the_lazy_registry():
    from tr4ctl.cli.app import COMMAND_MODULES

    assert {path[0] for path, _ in leaf_commands()} == set(COMMAND_MODULES)


@pytest.mark.parametrize("argv, loaded", [
    (["status"], {"stack"}),
    (["--project-dir", "backup", "--json", "status"], {"stack"}),  # a dir named backup
    (["backup", "list"], {"backup"}),
    (["--help"], None),
    (["--help", "status"], None),  # the root's help: every command listed
    (["status", "--help"], {"stack"}),
    (["upp"], None),  # a typo: every command, for the closest-name suggestion
])
def test_a_command_line_loads_only_its_commands_module(argv, loaded):
    code = ("import sys; from tr4ctl.cli import app; app.load_commands(sys.argv[1:]); "
            "print(','.join(sorted(app._loaded)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         check=True).stdout.split()
    from tr4ctl.cli.app import COMMAND_MODULES

    assert set(out[0].split(",")) == (loaded or set(COMMAND_MODULES.values()))


@pytest.mark.parametrize("group", [[], ["db"], ["nginx"]])
def test_a_group_without_its_command_prints_its_help_once(group):
    result = tr4ctl(*group)
    assert result.returncode == 2
    assert result.stdout.count("Usage:") == 1, result.stdout
