"""The database a stack's data lives in is state, not a setting: `config set`, a .env
edited by hand and an environment variable that name another database are refused,
with the command that moves the data (`db use`), and nothing changes; a state.json of
the previous release (no database recorded) is read by inferring it."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from conftest import running_stack
from one_line import one_line
from refusals import Unchanged

OTHER_URLS = ["sqlite:////app/data/other.db", "sqlite:///data/other.db",
              "sqlite:////app/data/tr4ction-20990101000000.db"]


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    """A SQLite stack with an account in its database."""
    with running_stack(tmp_path_factory, "dbid") as stack:
        stack.tr4ctl("users", "seed", "--admin-email", "admin@dbid.test", "--founder-email",
                     "founder@dbid.test", "--password-stdin",
                     input="identity-password-1\nidentity-password-1\n")
        yield stack


@contextmanager
def env_lines(stack, *lines: str):
    """.env with lines appended (as an operator's editor would), put back afterwards."""
    env_file = stack.project_dir / ".env"
    original = env_file.read_bytes()
    env_file.write_bytes(original + "".join(f"{line}\n" for line in lines).encode())
    try:
        yield
    finally:
        env_file.write_bytes(original)


@pytest.mark.parametrize("assignment, words", [
    (["TR4CTL_DATABASE=postgres"], ["TR4CTL_DATABASE is postgres", "data is in sqlite",
                                    "tr4ctl db use postgres"]),
    (["TR4CTL_DATABASE= postgres "], ["TR4CTL_DATABASE is postgres", "tr4ctl db use postgres"]),
    (["TR4CTL_DATABASE=postgres",
      "DATABASE_URL=postgresql+psycopg://tr4ction@postgres:5432/tr4ction"],
     ["data is in sqlite", "tr4ctl db use postgres"]),
    *[([f"DATABASE_URL={url}"], ["DATABASE_URL names", "data is in sqlite:////app/data/tr4ction.db",
                                 "db use"]) for url in OTHER_URLS],
])
def test_config_set_refuses_another_database(stack, assignment, words):
    with Unchanged(stack):
        result = stack.tr4ctl("config", "set", *assignment, check=False)
        one_line(result, 2, *words)


def test_config_set_of_the_database_the_data_is_in_is_accepted(stack):
    with env_lines(stack):
        assert stack.tr4ctl("config", "set", "TR4CTL_DATABASE=sqlite").returncode == 0


@pytest.mark.parametrize("lines, words", [
    (["TR4CTL_DATABASE=postgres"], ["TR4CTL_DATABASE is postgres", ".env", "db use postgres"]),
    (["TR4CTL_DATABASE=postgres",
      "DATABASE_URL=postgresql://tr4ction@postgres:5432/other"], ["data is in sqlite"]),
    *[([f"DATABASE_URL={url}"], ["DATABASE_URL names", "put DATABASE_URL back"])
      for url in OTHER_URLS],
])
def test_up_refuses_a_env_that_names_another_database(stack, lines, words):
    with env_lines(stack, *lines), Unchanged(stack):
        one_line(stack.tr4ctl("up", check=False), 2, *words)
        one_line(stack.tr4ctl("db", "use", "sqlite", check=False), 2, *words)


@pytest.mark.parametrize("value", ["postgres", " postgres"])
def test_up_refuses_an_environment_variable_that_names_another_database(stack, value):
    with Unchanged(stack):
        result = stack.tr4ctl("up", check=False, env={"TR4CTL_DATABASE": value})
        one_line(result, 2, "in the environment", "unset TR4CTL_DATABASE")


def test_a_state_of_the_previous_release_is_read_by_inference(stack):
    state_file = stack.project_dir / ".tr4ctl" / "state.json"
    state = json.loads(state_file.read_text())
    assert state["format"] == 2
    assert state["database"]["engine"] == "sqlite"
    # As the previous release wrote it: no format, no database.
    old = {k: v for k, v in state.items() if k not in ("format", "database", "postgres_cluster")}
    state_file.write_text(json.dumps(old))
    with Unchanged(stack):
        one_line(stack.tr4ctl("config", "set", "TR4CTL_DATABASE=postgres",
                                           check=False), 2, "data is in sqlite")
    # Stopped: the rendered files tell.
    stack.tr4ctl("down")
    env_before = (stack.project_dir / ".env").read_bytes()
    one_line(stack.tr4ctl("config", "set", "TR4CTL_DATABASE=postgres",
                                       check=False), 2, "data is in sqlite")
    assert (stack.project_dir / ".env").read_bytes() == env_before
    # And it keeps working: `up` records what it found.
    stack.tr4ctl("up")
    assert json.loads(state_file.read_text())["database"]["engine"] == "sqlite"
    assert {u["email"] for u in stack.json("users", "list")["data"]["users"]} == {
        "admin@dbid.test", "founder@dbid.test"}
