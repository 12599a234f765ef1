"""The shape of tr4ctl/, checked from its source (docs/DEVELOPING.md has the map):
nothing below the CLI imports it, no import circle, the pure layer does no I/O, one
door to Docker, and the rules the backend enforces are not copied into the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tr4ctl"
PURE = ("plan", "config/values.py", "config/keys.py", "config/model.py", "docker/commands.py",
        "docker/failures.py")


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_assets" in path.parts:
            continue
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def top_level_imports(tree: ast.Module) -> set[str]:
    """Imports run at import time (not inside functions, not under TYPE_CHECKING)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def internal_graph() -> dict[str, set[str]]:
    trees = modules()
    return {name: {target for target in imported(tree) if target in trees} - {name}
            for name, tree in trees.items()}


def test_nothing_below_the_cli_imports_it():
    offenders = [name for name, targets in internal_graph().items()
                 if not name.startswith("tr4ctl.cli") and name != "tr4ctl.__main__"
                 and any(t.startswith("tr4ctl.cli") for t in targets)]
    assert offenders == []


def test_no_import_circle():
    graph = internal_graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target] if target in path
                               else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # A package's __init__ importing nothing makes `pkg` and `pkg.mod` distinct nodes.
    assert circles == []


def pure_modules() -> dict[str, ast.Module]:
    trees = modules()
    chosen = {}
    for name, tree in trees.items():
        relative = name.removeprefix("tr4ctl.").replace(".", "/")
        if any(relative == p.removesuffix(".py") or relative.startswith(p + "/")
               or relative == p for p in PURE):
            chosen[name] = tree
    assert "tr4ctl.plan.stack" in chosen and "tr4ctl.docker.commands" in chosen
    return chosen


FORBIDDEN_MODULES = ("subprocess", "httpx", "python_on_whales", "socket", "shutil",
                     "tr4ctl.docker.runner", "tr4ctl.docker.engine", "tr4ctl.runtime")
# Calls that read a file, the clock, or the environment.
FORBIDDEN_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "exists",
                   "is_file", "is_dir", "iterdir", "glob", "rglob", "stat", "now", "utcnow",
                   "today", "time", "monotonic", "perf_counter", "getenv", "listdir",
                   "resolve"}


def test_the_pure_layer_runs_no_process_and_reads_no_file_or_clock():
    problems = []
    for name, tree in pure_modules().items():
        for module in imported(tree):
            if module.split(".")[0] in FORBIDDEN_MODULES or module in FORBIDDEN_MODULES \
                    or any(module.startswith(f + ".") for f in FORBIDDEN_MODULES):
                problems.append(f"{name} imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in FORBIDDEN_CALLS:
                    problems.append(f"{name}:{node.lineno} calls {called}()")
            if isinstance(node, ast.Attribute) and node.attr == "environ":
                problems.append(f"{name}:{node.lineno} reads os.environ")
    assert problems == []


# The doors that start processes: docker (the runner), ssh and its own tools (the
# connection, the host keys), pip building the wheel `host bootstrap` ships, the
# operator's deploy hooks, and git checking out TR4CTL_BACKEND_SOURCE at a ref.
PROCESS_DOORS = ["tr4ctl.actions.deploy.hooks", "tr4ctl.actions.host.wheel",
                 "tr4ctl.actions.images.backend_source",
                 "tr4ctl.docker.runner", "tr4ctl.remote.connection", "tr4ctl.remote.host_keys"]


def test_one_door_to_docker():
    """Only the runner starts docker processes; only the named doors start any."""
    starters = [name for name, tree in modules().items()
                if "subprocess" in top_level_imports(tree) | imported(tree)]
    assert starters == PROCESS_DOORS


def test_heavy_libraries_are_imported_where_used():
    heavy = ("httpx", "jinja2", "pydantic", "cryptography", "dotenv", "python_on_whales")
    at_import = [f"{name}: {module}" for name, tree in modules().items()
                 for module in top_level_imports(tree) if module.split(".")[0] in heavy]
    assert at_import == []
