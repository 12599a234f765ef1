"""A PostgreSQL stack keeps the password its server has: a changed or emptied
TR4CTL_DATABASE_PASSWORD (in .env or the environment) is refused by `up` and `db use`
before anything changes, the secret file included, so the backend's next start still
logs in. A real PostgreSQL (the local image `images build-local` makes)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from conftest import docker, running_stack, wait_for
from one_line import one_line
from refusals import Unchanged

KEY = "TR4CTL_DATABASE_PASSWORD"


@pytest.fixture(scope="module")
def pg(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "pgpw",
                       settings={"TR4CTL_DATABASE": "postgres"}) as stack:
        stack.tr4ctl("users", "seed", "--admin-email", "admin@pgpw.test", "--founder-email",
                     "founder@pgpw.test", "--password-stdin",
                     input="password-test-pass-1\npassword-test-pass-1\n")
        yield stack


def secret_file(stack):
    return stack.project_dir / ".tr4ctl" / "secrets" / "db_password"


@contextmanager
def password_in_env(stack, value: str | None):
    """.env's password line replaced (None: removed), put back afterwards."""
    env_file = stack.project_dir / ".env"
    original = env_file.read_bytes()
    lines = [line for line in original.decode().splitlines() if not line.startswith(f"{KEY}=")]
    if value is not None:
        lines.append(f"{KEY}={value}")
    env_file.write_text("\n".join(lines) + "\n")
    try:
        yield
    finally:
        env_file.write_bytes(original)


@pytest.mark.parametrize("value, words", [
    ("another-password-4567", ["is not the password PostgreSQL has", "next start"]),
    ("x", ["is not the password PostgreSQL has"]),
    ("", ["is empty"]),
    (None, ["is empty"]),
])
def test_a_changed_or_emptied_password_in_env_is_refused(pg, value, words):
    secret = secret_file(pg).read_bytes()
    with password_in_env(pg, value), Unchanged(pg):
        one_line(pg.tr4ctl("up", check=False), 2, *words, "put back")
        one_line(pg.tr4ctl("db", "use", "sqlite", check=False), 2, *words)
    assert secret_file(pg).read_bytes() == secret


@pytest.mark.parametrize("value", ["from-the-environment-1", "z" * 40])
def test_a_password_from_the_environment_is_refused(pg, value):
    secret = secret_file(pg).read_bytes()
    with Unchanged(pg):
        result = pg.tr4ctl("up", check=False, env={KEY: value})
        one_line(result, 2, "in the environment", f"unset {KEY}")
    assert secret_file(pg).read_bytes() == secret


@pytest.mark.parametrize("assignment", ["TR4CTL_DATABASE=sqlite",
                                        "DATABASE_URL=sqlite:////app/data/tr4ction.db",
                                        "DATABASE_URL=postgresql://tr4ction@postgres:5432/x"])
def test_config_set_cannot_move_a_postgres_stack_off_its_data(pg, assignment):
    with Unchanged(pg):
        one_line(pg.tr4ctl("config", "set", assignment, check=False), 2,
                       "db use")


def set_server_password(stack, password: str) -> None:
    literal = "'" + password.replace("'", "''") + "'"
    stack.compose_exec("postgres", "psql", "-q", "-X", "-U", "tr4ction", "-d", "postgres",
                       "-v", "ON_ERROR_STOP=1", "-f", "-",
                       input=f"ALTER ROLE tr4ction PASSWORD {literal};")


def test_up_never_calls_healthy_a_stack_whose_next_start_would_fail(pg):
    """The server's password changed behind tr4ctl's back (as an earlier release left
    it): the running backend still serves, but `up` tries a new login and fails."""
    set_server_password(pg, "changed-behind-the-back-1")
    try:
        result = pg.tr4ctl("up", check=False)
        assert result.returncode == 1, result.stderr
        assert "new login to PostgreSQL" in result.stderr
        assert pg.json("status", check=False)["data"]["condition"] != "healthy"
    finally:
        set_server_password(pg, secret_file(pg).read_text())


def test_after_the_refusals_the_next_start_still_logs_in(pg):
    """The backend restarted (as after a reboot) connects with the secret file's password."""
    assert pg.tr4ctl("up").returncode == 0
    backend = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={pg.name}",
                     "--filter", "label=com.docker.compose.service=backend").split()[0]
    docker("restart", backend)
    wait_for(lambda: docker("inspect", "--format", "{{.State.Health.Status}}",
                            backend).strip() == "healthy", "the backend to be healthy", 180)
    emails = {u["email"] for u in pg.json("users", "list")["data"]["users"]}
    assert emails == {"admin@pgpw.test", "founder@pgpw.test"}
