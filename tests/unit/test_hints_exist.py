"""Issue 19.10: every hint names only commands and options that exist. The source of
tr4ctl/ is walked for `tr4ctl ...` commands in backticks and for --options in messages
and hints, and each is checked against the CLI's own command tree (built from the Typer
app, as `tr4ctl --help` shows it; hidden former names do not count)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from one_line import one_line

from tr4ctl.cli.app import build_command

PACKAGE = Path(__file__).resolve().parents[2] / "tr4ctl"
HELP = {"--help", "-h"}
_BACKTICKED = re.compile(r"`(tr4ctl(?:\s[^`]*)?)`")
_OPTION = re.compile(r"(?<![\w/-])(--[a-z][a-z0-9-]*)")
PLACEHOLDER = "\x00"
# Errors, warnings and hints: the strings an operator reads as advice.
MESSAGE_CALLS = {"BadInput", "OperationFailed", "MissingPrerequisite", "Interrupted",
                 "Tr4ctlError", "Check", "warn", "info", "success", "say", "fail"}
# The command group each actions/ folder serves (top-level commands for the others).
ACTION_GROUPS = {"backup": ("backup",), "cert": ("cert",), "config": ("config",),
                 "users": ("users",), "db": ("db",), "images": ("images", "deploy", "up"),
                 "nginx": ("nginx",), "deploy": ("deploy", "rollback", "releases"),
                 "checks": ("health", "bench", "verify")}


def visible_options(command) -> set[str]:
    return {opt for param in command.params if not getattr(param, "hidden", False)
            for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def value_options(command) -> set[str]:
    return {opt for param in command.params if not getattr(param, "is_flag", True)
            for opt in param.opts}


ROOT = build_command()
VALUE_OPTIONS = value_options(ROOT)
GLOBAL = visible_options(ROOT) | HELP


def leaves(command=ROOT, path=()):
    children = getattr(command, "commands", None)
    if children is None:
        yield path, command
        return
    for name, child in children.items():
        yield from leaves(child, (*path, name))


LEAVES = dict(leaves())
EVERY_OPTION = set().union(*(visible_options(c) for c in LEAVES.values())) | GLOBAL
# A command may name a hidden former option the operator just gave it; a hint may not.
HIDDEN = {opt for c in LEAVES.values() for param in c.params if getattr(param, "hidden", False)
          for opt in param.opts}


def text_of(node: ast.AST) -> str | None:
    """A string literal, an f-string's values replaced by a placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else PLACEHOLDER
                       for part in node.values)
    return None


def sources() -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.rglob("*.py")) if "_assets" not in path.parts]


def every_string() -> list[tuple[str, int, str]]:
    found = []
    for module, tree in sources():
        for node in ast.walk(tree):
            text = text_of(node)
            if text is not None:
                found.append((module, node.lineno, text))
    return found


def message_strings() -> list[tuple[str, int, str]]:
    """Strings given to an error, a Check, an output message or a hint= argument."""
    found = []
    for module, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = [*node.args] if name in MESSAGE_CALLS else []
            args += [k.value for k in node.keywords if k.arg in ("hint", "fix")]
            for arg in args:
                parts = {id(part) for sub in ast.walk(arg) if isinstance(sub, ast.JoinedStr)
                         for part in sub.values}
                for sub in ast.walk(arg):
                    text = text_of(sub) if id(sub) not in parts else None
                    if text is not None:
                        found.append((module, node.lineno, text))
    return found


def command_problem(words: list[str]) -> str | None:
    """Why `tr4ctl <words>` is not a command line of this CLI, or None."""
    node, path, options = ROOT, (), GLOBAL
    takes_value = VALUE_OPTIONS
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word == "--" and getattr(node, "commands", None) is None:
            return None  # the rest is a leaf command's own (`exec SERVICE -- COMMAND`)
        if PLACEHOLDER in word or word in ("...", "|") or word.startswith(("<", "[")):
            if getattr(node, "commands", None) is not None and not word.startswith("-"):
                return None  # a computed command word: nothing more to check
            continue
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            if option not in options and option not in GLOBAL:
                return f"no option {option} for `tr4ctl {' '.join(path)}`"
            skip = "=" not in word and option in takes_value
            continue
        children = getattr(node, "commands", None)
        if children is None:
            continue  # an argument of a leaf command
        if word not in children:
            return f"no command `tr4ctl {' '.join((*path, word))}`"
        node, path = children[word], (*path, word)
        options = visible_options(node) | HELP
        takes_value = value_options(node)
    return None


def test_the_walk_sees_the_cli_and_the_hints():
    """Guards the walk itself: it finds commands and many hints."""
    assert ("backup", "create") in LEAVES and "--dir" in visible_options(LEAVES[("backup", "create")])
    assert "--safety-dir" not in EVERY_OPTION  # hidden former names do not count
    commands = [m for _, _, text in every_string() for m in _BACKTICKED.findall(text)]
    assert len(commands) > 40 and len(message_strings()) > 200


def test_the_checks_catch_what_issue_19_found():
    assert command_problem(["backup", "restore", "ARCHIVE", "--safety-dir", "x"])
    assert command_problem(["backup", "create", "--output", "x"])
    assert command_problem(["backups", "list"])
    assert command_problem(["exec", "backend", "--", "sh", "--bogus"]) is None
    assert command_problem(["exec", "backend", "--bogus"])
    assert command_problem(["up", "--env", "prod"]) is None
    assert command_problem(["--project-dir", "x", "backup", "restore", "A", "--yes"]) is None


@pytest.mark.parametrize("module, line, text", [
    (module, line, text) for module, line, text in every_string()
    if _BACKTICKED.search(text)], ids=lambda value: str(value)[:50])
def test_every_backticked_command_exists(module, line, text):
    for command in _BACKTICKED.findall(text):
        problem = command_problem(command.split()[1:])
        assert problem is None, f"{module}:{line}: {command!r}: {problem}"


def test_every_option_a_message_names_exists():
    wrong = []
    for module, line, text in message_strings():
        # Commands in backticks are checked above (tr4ctl's) or are other programs'.
        stripped = re.sub(r"`[^`]*`", "", text)
        known = EVERY_OPTION | (HIDDEN if module.startswith("cli/") else set())
        for option in _OPTION.findall(stripped):
            if option not in known:
                wrong.append(f"{module}:{line}: {option} in {text[:80]!r}")
                continue
            folder = module.split("/")[1] if module.startswith("actions/") else None
            groups = ACTION_GROUPS.get(folder or "")
            if groups is None:
                continue
            theirs = set().union(*(visible_options(c) for path, c in LEAVES.items()
                                   if path[0] in groups)) | GLOBAL
            if option not in theirs and "tr4ctl" not in text:
                wrong.append(f"{module}:{line}: {option} is not an option of "
                             f"{'/'.join(groups)} in {text[:80]!r}")
    assert wrong == []


# -- the hints issue 19 found, through the real CLI (no engine) ----------------------------
def run(project: Path, *args: str, **env: str):
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**base, "DOCKER_HOST": "unix:///nonexistent/docker.sock", **env})


@pytest.mark.parametrize("args", [["up"], ["status"], ["config", "validate"]])
def test_a_missing_docker_command_is_named_as_missing_not_stopped(tmp_path, args):
    (tmp_path / ".env").write_text("TR4CTL_HTTP_PORT=18080\nTR4CTL_HTTPS_PORT=18443\n")
    line = one_line(run(tmp_path, *args, PATH=str(tmp_path / "no-bin")), 3)
    assert "docker command is not installed" in line and "install Docker" in line
    assert "start the" not in line


@pytest.mark.parametrize("mode, ok, words", [
    (0o000, False, "mode 0000: not readable by its owner"),
    (0o200, False, "mode 0200: not readable by its owner"),
    (0o640, False, "mode 0640: readable by group or others"),
    (0o604, False, "mode 0604: readable by group or others"),
    (0o400, True, "present, mode 0400"),
    (0o600, True, "present, mode 0600"),
])
def test_doctor_states_the_real_mode_of_env(tmp_path, mode, ok, words):
    import json

    env_file = tmp_path / ".env"
    env_file.write_text("JWT_SECRET_KEY=0f3b8c2d9e4a7b1c6d5e8f2a3b4c9d0e1f7a6b5c4d3e2f1a0b9c8d7e"
                        "6f5a4b3c\nTR4CTL_HTTP_PORT=18080\nTR4CTL_HTTPS_PORT=18443\n")
    env_file.chmod(mode)
    checks = json.loads(run(tmp_path, "--json", "doctor").stdout)["data"]["checks"]
    check = next(c for c in checks if c["name"] == ".env")
    assert check["ok"] is ok and words in check["detail"], check


@pytest.mark.parametrize("key", ["TR4CTL_DATABASE_PASSWORD", "JWT_SECRET_KEY"])
@pytest.mark.parametrize("value", ["ab\x01cdefghijklmnop", "x\x7fyz0123456789abcdef"])
def test_a_bad_secret_is_not_sent_to_config_set(tmp_path, key, value):
    env_file = tmp_path / ".env"
    env_file.write_bytes(f"TR4CTL_HTTP_PORT=18080\n{key}={value}\n".encode())
    env_file.chmod(0o600)
    before = env_file.read_bytes()
    line = one_line(run(tmp_path, "config", "show"), 2)
    assert key in line and "config set" not in line and str(env_file) in line
    # What the old hint proposed is indeed refused: config set takes no secret.
    assert "secret" in one_line(run(tmp_path, "config", "set", f"{key}=abcdefghijklmnop1"), 2)
    assert env_file.read_bytes() == before
