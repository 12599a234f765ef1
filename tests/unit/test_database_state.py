"""The stack's database as recorded state (state.json format 2), the previous release's
state.json (no database: inferred), and the refusals that keep the data where it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tr4ctl.actions.db.identity import database_refusal
from tr4ctl.config.load import parse_env_text, resolve
from tr4ctl.errors import BadInput
from tr4ctl.plan.database import (
    DEFAULT_SQLITE_URL,
    DatabaseRecord,
    database_of_environment,
    database_of_rendered,
    same_url,
)
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.project.state import (
    postgres_cluster_made,
    record_database,
    recorded_database,
    remember_environment,
)

PG_URL = "postgresql+psycopg://tr4ction@postgres:5432/tr4ction"
SQLITE = DatabaseRecord("sqlite", DEFAULT_SQLITE_URL)
POSTGRES = DatabaseRecord("postgres", PG_URL)


def paths_with_state(tmp_path: Path, state: dict | None) -> ProjectPaths:
    paths = ProjectPaths(tmp_path)
    if state is not None:
        paths.rendered_dir.mkdir()
        paths.state_file.write_text(json.dumps(state))
    return paths


@pytest.mark.parametrize("state", [
    None,  # no state.json at all
    {"env": "dev", "validated_compose_sha256": "ab" * 32},  # the previous release's
    {"env": "prod", "up_in_progress": {"env": "prod", "step": "x", "started": "y"}},
    {"format": 2, "env": "dev"},  # format 2 before any up
])
def test_a_state_without_a_database_record_asks_for_inference(tmp_path, state):
    assert recorded_database(paths_with_state(tmp_path, state)) == (False, None)


def test_recording_keeps_the_other_keys_and_reads_back(tmp_path):
    paths = paths_with_state(tmp_path, {"env": "prod", "validated_compose_sha256": "cd" * 32})
    record_database(paths, POSTGRES)
    state = json.loads(paths.state_file.read_text())
    assert state["format"] == 2 and state["env"] == "prod"
    assert state["validated_compose_sha256"] == "cd" * 32
    assert recorded_database(paths) == (True, POSTGRES)
    assert postgres_cluster_made(paths)
    remember_environment(paths, Environment.DEV)
    assert recorded_database(paths) == (True, POSTGRES)
    record_database(paths, None)  # down --volumes: no data any more
    assert recorded_database(paths) == (True, None)
    assert not postgres_cluster_made(paths)


@pytest.mark.parametrize("state, words", [
    ({"format": 3, "database": None}, ["format 3", "newer"]),
    ({"format": "2", "database": None}, ["format '2'"]),
    ({"format": 2, "database": {"engine": "mysql", "url": "mysql://x"}}, ["damaged"]),
    ({"format": 2, "database": {"engine": "sqlite"}}, ["damaged"]),
    ({"format": 2, "database": "sqlite"}, ["damaged"]),
])
def test_a_state_that_cannot_be_trusted_is_refused(tmp_path, state, words):
    with pytest.raises(BadInput) as refused:
        recorded_database(paths_with_state(tmp_path, state))
    assert all(word in refused.value.message for word in words)


@pytest.mark.parametrize("a, b, same", [
    ("postgresql://tr4ction@postgres:5432/tr4ction", PG_URL, True),
    ("sqlite:///data/tr4ction.db", DEFAULT_SQLITE_URL, True),
    ("sqlite:////app/data/../data/tr4ction.db", DEFAULT_SQLITE_URL, True),
    ("sqlite:///data/other.db", DEFAULT_SQLITE_URL, False),
    ("postgresql://tr4ction@postgres:5432/other", PG_URL, False),
])
def test_urls_of_the_same_database_are_the_same(a, b, same):
    assert same_url(a, b) is same


def test_the_database_of_a_running_backend_and_of_the_rendered_files():
    assert database_of_environment({}) == SQLITE
    assert database_of_environment({"DATABASE_URL": PG_URL}) == POSTGRES
    compose = ("services:\n  backend:\n    environment:\n"
               f'      DATABASE_PASSWORD_FILE: "/run/secrets/db_password"\n'
               f'      DATABASE_URL: "{PG_URL}"\n')
    assert database_of_rendered(compose, {}) == POSTGRES
    assert database_of_rendered("services:\n  backend:\n", {}) == SQLITE
    moved = "sqlite:////app/data/tr4ction-20260101000000.db"
    assert database_of_rendered("services: {}\n", {"DATABASE_URL": moved}) == \
        DatabaseRecord("sqlite", moved)


def config_of(env_text: str, environ: dict | None = None):
    return resolve(parse_env_text(env_text, Path(".env")), environ or {}, {})


@pytest.mark.parametrize("stack, env_text, environ, words", [
    (SQLITE, "TR4CTL_DATABASE=postgres\n", {}, ["is postgres (in .env)", "db use postgres"]),
    (SQLITE, "", {"TR4CTL_DATABASE": "postgres"}, ["in the environment", "unset"]),
    (POSTGRES, "", {}, ["is sqlite (by default)", "data is in postgres"]),
    (POSTGRES, "TR4CTL_DATABASE=sqlite\n", {}, ["db use sqlite"]),
    (SQLITE, "DATABASE_URL=sqlite:////app/data/x.db\n", {}, ["DATABASE_URL names",
                                                             "put DATABASE_URL back"]),
    (POSTGRES, f"TR4CTL_DATABASE=postgres\nDATABASE_URL={PG_URL}2\n", {}, ["DATABASE_URL"]),
])
def test_a_configuration_naming_another_database_is_refused(stack, env_text, environ, words):
    refusal = database_refusal(stack, config_of(env_text, environ), ".env")
    assert refusal is not None and refusal.exit_code == 2
    said = f"{refusal.message} ({refusal.hint})"
    assert all(word in said for word in words), said


@pytest.mark.parametrize("stack, env_text", [
    (None, "TR4CTL_DATABASE=postgres\n"),  # no data yet: any choice
    (None, ""),
    (SQLITE, ""),
    (SQLITE, "TR4CTL_DATABASE=sqlite\nDATABASE_URL=sqlite:///data/tr4ction.db\n"),
    (POSTGRES, "TR4CTL_DATABASE=postgres\n"),
    (POSTGRES, ("TR4CTL_DATABASE=postgres\n"
                "DATABASE_URL=postgresql://tr4ction@postgres:5432/tr4ction\n")),
])
def test_a_configuration_of_the_data_s_own_database_passes(stack, env_text):
    assert database_refusal(stack, config_of(env_text), ".env") is None


def tr4ctl(project: Path, *args: str, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # no engine: the files tell
    env.update(environ)
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project),
                           *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("assignment, environ", [
    ("TR4CTL_DATABASE=postgres", {}),
    # What .env would say counts, even while the environment overrides it.
    ("TR4CTL_DATABASE=postgres", {"TR4CTL_DATABASE": "sqlite"}),
    ("DATABASE_URL=sqlite:////app/data/elsewhere.db", {}),
])
def test_config_set_on_a_project_of_the_previous_release_infers_its_database(
        tmp_path, assignment, environ):
    """A state.json with no database, the files the previous `up` rendered: SQLite."""
    (tmp_path / ".env").write_text("TR4CTL_HTTP_PORT=18080\nTR4CTL_HTTPS_PORT=18443\n")
    paths = paths_with_state(tmp_path, {"env": "dev"})
    paths.compose_file.write_text("services:\n  backend:\n    image: x\n")
    before = (tmp_path / ".env").read_bytes()
    result = tr4ctl(tmp_path, "config", "set", assignment, **environ)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "data is in sqlite" in lines[0], result.stderr
    assert (tmp_path / ".env").read_bytes() == before


def test_a_new_project_chooses_its_database_with_config_set(tmp_path):
    result = tr4ctl(tmp_path, "config", "set", "TR4CTL_DATABASE=postgres")
    assert result.returncode == 0, result.stderr
    assert "TR4CTL_DATABASE=postgres" in (tmp_path / ".env").read_text()
