"""The same migrations, constraints and commands on SQLite and on PostgreSQL."""

import json
import subprocess
import sys

import pytest
from app.core.config import load_settings
from app.migrate import code_revisions, database_revision, upgrade_to_head
from backend_helpers import BACKEND_DIR
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

pytestmark = pytest.mark.each_database

INSERT_USER = text(
    "INSERT INTO users (email, role, password_hash, created_at, updated_at)"
    " VALUES (:email, :role, 'h', :at, :at)"
)


@pytest.fixture
def database_url(settings_env):
    return load_settings(**settings_env).database_url


def test_migrations_give_each_engine_the_same_schema(database_url):
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)  # idempotent
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == {"alembic_version", "users", "login_failures"}
        assert [c["name"] for c in inspector.get_columns("users")] == [
            "id", "email", "name", "role", "password_hash", "created_at", "updated_at"]
        assert [(c["name"], c["nullable"]) for c in inspector.get_columns("login_failures")] == [
            ("id", False), ("key", False), ("failed_at", False)]
        assert {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("login_failures")} == {
            "ix_login_failures_key_failed_at": ["key", "failed_at"],
            "ix_login_failures_failed_at": ["failed_at"],
        }
        assert [c["name"] for c in inspector.get_check_constraints("users")] == ["ck_users_role"]
    finally:
        engine.dispose()
    assert database_revision(database_url) == code_revisions()[0] == "0002"


def test_role_and_unique_email_are_enforced_by_the_database(database_url):
    upgrade_to_head(database_url)
    engine = create_engine(database_url)
    at = "2026-01-01 00:00:00"
    try:
        with engine.begin() as connection:
            connection.execute(INSERT_USER, {"email": "a@b.test", "role": "admin", "at": at})
        for email, role in (("a@b.test", "founder"), ("c@d.test", "owner")):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(INSERT_USER, {"email": email, "role": role, "at": at})
    finally:
        engine.dispose()


def test_ready_names_the_database_engine(client, settings_env, database_kind):
    check = client.get("/ready").json()["checks"]["database"]
    assert check["ok"] is True
    url = load_settings(**settings_env).database_url
    place = url.database if database_kind == "sqlite" else f"{url.host}:{url.port}/{url.database}"
    assert check["reason"] == f"{database_kind} at {place}: users table reachable"


def test_check_config_and_revision_on_each_engine(manage, seed, settings_env, database_kind):
    seed({"email": "ops@tr4ction.test", "role": "admin", "password": "a long password!"})
    config = json.loads(manage("check-config").stdout)
    assert config["database_engine"] == database_kind
    assert config["database_url"] == settings_env["DATABASE_URL"]  # it carries no password
    assert config["database_password_file"] == settings_env.get("DATABASE_PASSWORD_FILE")
    revision = json.loads(manage("revision").stdout)
    assert revision["database"] == revision["head"] == "0002"


def test_replicas_migrating_at_once_take_turns(settings_env, database_kind):
    """Two `migrate` at the same moment on one new database (two replicas starting): both
    succeed, the schema is migrated once."""
    env = {**settings_env, "PATH": "/usr/bin:/bin"}
    commands = [
        subprocess.Popen([sys.executable, "-m", "app.manage", "migrate"], cwd=BACKEND_DIR,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(command.wait(timeout=60), *command.communicate()) for command in commands]
    assert [code for code, _, _ in results] == [0, 0], results
    assert database_revision(load_settings(**settings_env).database_url) == "0002"
