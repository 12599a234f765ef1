"""deploy, rollback, releases on the real engine, each under a load loop through nginx
that counts every failed request (a connection error or a non-2xx answer)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from backend_images import build_context, build_image, derived_image, releases, served_version
from conftest import docker, own_environment, running_stack
from load import RequestLoad
from terminal import screen

REPO = Path(__file__).resolve().parents[2]
ADMIN, FOUNDER = "admin@deploy.test", "founder@deploy.test"
PASSWORD = "deploy-test-password-1"


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "deploy") as running:
        running.tr4ctl("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                       "--password-stdin", input=f"{PASSWORD}\n{PASSWORD}\n")
        yield running


def head_revision() -> str:
    """The newest migration the backend ships: the one no other names as its parent."""
    versions = (REPO / "backend" / "migrations" / "versions").glob("*.py")
    found = {}
    for path in versions:
        text = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', text, re.MULTILINE)
        parent = re.search(r'^down_revision = "([^"]+)"', text, re.MULTILINE)
        if revision:
            found[revision.group(1)] = parent.group(1) if parent else None
    (head,) = set(found) - set(found.values())
    return head


def Load(stack) -> RequestLoad:
    return RequestLoad(stack.url, login={"email": ADMIN, "password": PASSWORD})


def backend_containers(stack) -> list[str]:
    return docker("ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}",
                  "--filter", "label=com.docker.compose.service=backend").split()


def test_two_deploys_in_a_row_fail_no_request(stack, tmp_path):
    before = served_version(stack)
    with build_context(tmp_path, version="changed-1") as context:
        image = build_image(stack, context, f"{stack.name}-backend:changed-1", "changed-1")
    with Load(stack) as load:
        first = stack.json("deploy")["data"]  # the code `up` runs: a rolling restart
        second = stack.json("deploy", "--image", image)["data"]  # changed code
    assert load.failures == [], load.failures[:5]
    assert load.done > 50 and load.logins > 5
    assert first["release"]["result"] == "succeeded" and second["release"]["result"] == "succeeded"
    assert set(first["steps"]) >= {"backup", "start", "ready", "switch", "drain", "retire"}
    history = releases(stack)
    ids = [r["id"] for r in history["releases"]]
    assert ids[-2:] == [first["release"]["id"], second["release"]["id"]]
    assert history["current"] == second["release"]["id"]
    shipped = next(r for r in history["releases"] if r["id"] == second["release"]["id"])
    assert shipped["db_revision"] and shipped["by"]
    assert shipped["fingerprint"] == served_version(stack) == "changed-1" != before
    assert len(backend_containers(stack)) == 1
    # up keeps the current release: nothing is recreated.
    ids_before = backend_containers(stack)
    stack.tr4ctl("up")
    assert backend_containers(stack) == ids_before
    audit = (stack.project_dir / ".tr4ctl" / "audit.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in audit]
    assert [e["release"] for e in events if e["event"] in ("deploy", "rollback")][-2:] == \
        ids[-2:]
    assert [e["command"] for e in events if e["event"] == "command"][-2:] == ["deploy", "up"]


def test_rollback_serves_the_previous_image_with_no_failed_request(stack):
    history = releases(stack)
    previous = [r for r in history["releases"] if r["result"] == "succeeded"][-2]
    with Load(stack) as load:
        report = stack.json("rollback")["data"]
    assert load.failures == [], load.failures[:5]
    assert report["release"]["rolled_back_to"] == previous["id"]
    assert report["release"]["image"] == previous["image"]
    assert served_version(stack) == previous["fingerprint"] != "changed-1"
    assert releases(stack)["current"] == report["release"]["id"]


@pytest.mark.parametrize("kind", ["never ready", "failing migration"])
def test_a_broken_release_leaves_the_old_one_serving(stack, tmp_path, kind):
    current = releases(stack)["current"]
    serving = served_version(stack)
    if kind == "never ready":
        image = derived_image(stack, f"{stack.name}-broken:never-ready",
                              'CMD ["sleep", "infinity"]', tmp_path=tmp_path)
        args = ["--timeout", "15"]
    else:
        migration = (f'"""broken on purpose"""\nrevision = "9999"\ndown_revision = "{head_revision()}"\n'
                     'branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n'
                     '    raise RuntimeError("this migration fails on purpose")\n\n\n'
                     'def downgrade():\n    pass\n')
        image = derived_image(stack, f"{stack.name}-broken:migration",
                              "COPY 9999_broken.py /app/migrations/versions/9999_broken.py",
                              files={"9999_broken.py": migration}, tmp_path=tmp_path)
        args = []
    with Load(stack) as load:
        result = stack.tr4ctl("--json", "deploy", "--image", image, *args, check=False)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["errors"][0]
    assert error["message"].startswith("deploy failed at ready")
    assert "still serves, unchanged" in error["hint"]
    if kind == "failing migration":
        assert "this migration fails on purpose" in (error["details"] or "")
    assert load.failures == [], load.failures[:5]
    assert served_version(stack) == serving
    history = releases(stack)
    assert history["current"] == current
    assert history["releases"][-1]["result"] == "failed"
    assert history["releases"][-1]["failed_step"] == "ready"
    assert len(backend_containers(stack)) == 1


@pytest.mark.parametrize("image, code, words", [
    ("t4t-no-such-image:1", 3, "does not exist on this host"),
    ("t4t-gone/backend:2", 3, "does not exist on this host"),
    # Refused by deploy's own check or by the engine ("invalid reference format").
    ("UPPER/backend:1", 2, "reference"),
    ("a::b", 2, "reference"),
    ("backend:a tag", 2, "reference"),
])
def test_a_missing_or_malformed_image_is_refused_before_anything(stack, image, code, words):
    count = len(releases(stack)["releases"])
    env_file = (stack.project_dir / ".env").read_bytes()
    before = backend_containers(stack)
    result = stack.tr4ctl("deploy", "--image", image, check=False)
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert len(releases(stack)["releases"]) == count
    assert (stack.project_dir / ".env").read_bytes() == env_file
    assert backend_containers(stack) == before


def test_two_deploys_at_once_ship_one_release_at_a_time(stack):
    count = len(releases(stack)["releases"])
    runs = [subprocess.Popen(stack.argv("deploy"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=own_environment())
            for _ in range(2)]
    results = [(run.wait(timeout=600), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert [code for code, _ in results] == [0, 0], results
    assert "waiting for `tr4ctl deploy`" in " ".join(text for _, text in results)
    history = releases(stack)["releases"][count:]
    assert [r["result"] for r in history] == ["succeeded", "succeeded"]
    assert history[0]["time"] <= history[1]["time"]
    assert len(backend_containers(stack)) == 1


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_the_terminal_and_wide_keeps_every_value_whole(stack, width):
    """Last in the module: releases has rows by now. What the six commands print on
    stdout, drawn in a real terminal (tmux) of that width, wraps no line."""
    if width == 80:
        stack.tr4ctl("backup", "create")
    env = own_environment()
    for command in (["status"], ["health"], ["verify"], ["releases"], ["backup", "list"],
                    ["config", "show"]):
        shown, written = screen(stack.argv(*command), width, env)
        assert shown == written, f"{command} wraps at {width} columns:\n" + "\n".join(shown)
        assert shown and max(len(line) for line in shown) <= width
        assert any(line.startswith(("┏", "┃")) for line in shown), (command, shown)
    image = next(s["image"] for s in stack.json("status")["data"]["services"]
                 if s["service"] == "backend")
    narrow, _ = screen(stack.argv("status"), 60, env)
    assert not any(image in line for line in narrow)  # cut to fit ...
    wide, _ = screen(stack.argv("status", "--wide"), 60, env)
    assert any(image in line for line in wide)  # ... and whole with --wide
