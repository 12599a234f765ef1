"""dump-tables, load-tables and table-checksums: a copy SQLite -> PostgreSQL -> SQLite
changes nothing, and a refused load writes nothing."""

import json
from datetime import UTC, datetime

import pytest
from app.core.config import load_settings
from app.core.logging import close_logging
from app.main import create_app
from app.services.rate_limit import LoginRateLimiter
from backend_helpers import PASSWORD, login, query, run_manage
from fastapi.testclient import TestClient

ACCOUNTS = [
    {"email": "ops@tr4ction.test", "role": "admin", "name": "Ops Ünïcødé ✓ \"quoted\"",
     "password": PASSWORD},
    {"email": "founder@tr4ction.test", "role": "founder", "password": "another long password"},
    {"email": "nia@tr4ction.test", "role": "founder", "name": "  Nia\tTab  ",
     "password": "yet another password"},
]


@pytest.fixture
def sqlite_env(settings_env, tmp_path):
    return {**settings_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'source.db'}"}


@pytest.fixture
def source(sqlite_env, cli):
    """A SQLite database with accounts and recent login failures (float timestamps)."""
    cli.json(sqlite_env, "seed", stdin=json.dumps({"accounts": ACCOUNTS}))
    settings = load_settings(**sqlite_env)
    app = create_app(settings)
    with TestClient(app):
        limiter = LoginRateLimiter(app.state.db.engine, 5, 3600)
        for ip in ("198.51.100.7", "2001:db8::1"):
            limiter.record_failure((ip, "founder@tr4ction.test"))
    close_logging()  # its last lines written now, not into a later command's stdout
    return sqlite_env


class Commands:
    """The manage commands on any database's settings: in this process (fast) or, with
    subprocess=True, as operators run them."""

    def __init__(self, inprocess, subprocess: bool = False) -> None:
        self._inprocess = inprocess
        self._subprocess = subprocess

    def run(self, env, *args, stdin: str = "") -> tuple[int, str, str]:
        if self._subprocess:
            result = run_manage(env, *args, stdin=stdin)
            return result.returncode, result.stdout, result.stderr
        return self._inprocess(*args, stdin=stdin, env=env)

    def json(self, env, *args, stdin: str = ""):
        code, out, err = self.run(env, *args, stdin=stdin)
        assert code == 0, err
        return json.loads(out)

    def dump(self, env) -> str:
        code, out, err = self.run(env, "dump-tables")
        assert (code, err) == (0, ""), err
        return out

    def refused(self, env, stream: str, fragment: str) -> None:
        code, out, err = self.run(env, "load-tables", stdin=stream)
        assert (code, out) == (2, ""), err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and fragment in json.loads(lines[0])["error"], err

    def empty(self, env) -> bool:
        sums = self.json(env, "table-checksums")["tables"]
        return all(table["rows"] == 0 for table in sums.values())


@pytest.fixture
def cli(run_manage_inprocess) -> Commands:
    return Commands(run_manage_inprocess)


def test_round_trip_sqlite_postgresql_sqlite_keeps_every_checksum(
    source, make_postgres_env, settings_env, tmp_path, run_manage_inprocess
):
    cli = Commands(run_manage_inprocess, subprocess=True)
    original = cli.json(source, "table-checksums")
    assert original["engine"] == "sqlite" and original["revision"] == "0002"
    assert {name: t["rows"] for name, t in original["tables"].items()} == {
        "users": 3, "login_failures": 2}

    first_dump = cli.dump(source)
    postgres = {**settings_env, **make_postgres_env()}
    loaded = cli.json(postgres, "load-tables", stdin=first_dump)
    assert loaded == {"engine": "postgresql", "revision": "0002", "tables": original["tables"]}
    on_postgres = cli.json(postgres, "table-checksums")
    assert on_postgres == {**original, "engine": "postgresql"}

    second_dump = cli.dump(postgres)
    # The same text from both engines, but for the header naming the engine.
    assert second_dump.splitlines()[1:] == first_dump.splitlines()[1:]
    assert json.loads(second_dump.splitlines()[0])["engine"] == "postgresql"

    back = {**settings_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'back.db'}"}
    cli.json(back, "load-tables", stdin=second_dump)
    assert cli.json(back, "table-checksums") == original


def test_a_loaded_postgresql_database_serves_and_keeps_numbering(
    source, make_postgres_env, settings_env, cli
):
    postgres = {**settings_env, **make_postgres_env()}
    cli.json(postgres, "load-tables", stdin=cli.dump(source))
    with TestClient(create_app(load_settings(**postgres))) as client:
        assert login(client, "ops@tr4ction.test", PASSWORD).status_code == 200
    close_logging()
    # The sequence continues after the copied ids: a new account does not collide.
    new = {"email": "new@tr4ction.test", "role": "founder", "password": "a fresh password!"}
    assert cli.json(postgres, "seed", stdin=json.dumps({"accounts": [new]}))["created"]
    ids = [row[0] for row in query(postgres, "SELECT id FROM users ORDER BY id")]
    assert ids == [1, 2, 3, 4]


def test_small_batches_copy_every_row(source, postgres_target, cli, monkeypatch):
    from app import table_copy

    # One row per fetch, one or two rows per INSERT: every batch boundary is crossed.
    monkeypatch.setattr(table_copy, "BATCH_ROWS", 1)
    monkeypatch.setattr(table_copy, "BATCH_VALUES", 7)
    stream = cli.dump(source)
    assert cli.dump(source) == stream
    loaded = cli.json(postgres_target, "load-tables", stdin=stream)
    assert loaded["tables"] == cli.json(source, "table-checksums")["tables"]
    assert cli.dump(postgres_target).splitlines()[1:] == stream.splitlines()[1:]


def test_the_stream_is_json_lines_with_normalised_values(source, cli):
    lines = [json.loads(line) for line in cli.dump(source).splitlines()]
    header, end = lines[0], lines[-1]
    assert header == {"format": "tr4ction-tables", "version": 1, "engine": "sqlite",
                      "revision": "0002", "tables": ["login_failures", "users"]}
    assert end == {"end": True}
    users_at = next(i for i, line in enumerate(lines) if isinstance(line, dict)
                    and line.get("table") == "users")
    users_header = lines[users_at]
    assert users_header["columns"] == ["id", "email", "name", "role", "password_hash",
                                       "created_at", "updated_at"]
    assert users_header["rows"] == 3
    first = dict(zip(users_header["columns"], lines[users_at + 1], strict=True))
    assert first["email"] == "ops@tr4ction.test" and first["name"] == ACCOUNTS[0]["name"]
    stamp = first["created_at"]
    assert stamp.endswith("Z") and len(stamp) == len("2026-01-01T00:00:00.000000Z")
    assert abs(datetime.fromisoformat(stamp) - datetime.now(UTC)).total_seconds() < 600


@pytest.fixture
def postgres_target(make_postgres_env, settings_env):
    return {**settings_env, **make_postgres_env()}


def test_a_non_empty_target_is_refused_and_left_alone(source, postgres_target, cli):
    stream = cli.dump(source)
    cli.json(postgres_target, "load-tables", stdin=stream)
    before = cli.json(postgres_target, "table-checksums")
    cli.refused(postgres_target, stream, "the target database is not empty (login_failures has 2 "
                                     "rows, users has 3 rows)")
    assert cli.json(postgres_target, "table-checksums") == before


def test_a_changed_row_is_refused_and_nothing_is_kept(source, postgres_target, cli):
    lines = cli.dump(source).splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if "ops@tr4ction.test" in line)
    lines[row] = lines[row].replace('"admin"', '"founder"')
    cli.refused(postgres_target, "".join(lines), "table users: the rows read do not match")
    assert cli.empty(postgres_target)


def test_a_cut_stream_is_refused_and_nothing_is_kept(source, postgres_target, cli):
    lines = cli.dump(source).splitlines(keepends=True)
    cli.refused(postgres_target, "".join(lines[:-2]), "the stream ends early")
    assert cli.empty(postgres_target)
    cli.refused(postgres_target, "".join(lines[:-1]), "the stream ends early: expected a table "
                                                  "header or the end line")
    assert cli.empty(postgres_target)


def test_other_input_is_refused(source, postgres_target, cli, run_manage_inprocess):
    stream = cli.dump(source)
    cli.refused(postgres_target, '{"accounts": []}\n', "not a tr4ction-tables stream")
    cli.refused(postgres_target, "users,1,ops\n", "line 1: not JSON")
    older = stream.replace('"revision": "0002"', '"revision": "0001"', 1)
    cli.refused(postgres_target, older, "the stream is from a database at migration 0001, the "
                                    "target is at 0002")
    code, out, err = run_manage_inprocess("load-tables", stdin=b"\xff\xfe{", env=postgres_target)
    assert (code, out) == (2, "") and "not UTF-8" in err
    assert cli.empty(postgres_target)


def test_a_row_that_breaks_a_constraint_is_refused_by_the_database(source, postgres_target, cli):
    # Same sums announced, but a role the CHECK constraint refuses: PostgreSQL says no.
    lines = cli.dump(source).splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if "ops@tr4ction.test" in line)
    lines[row] = lines[row].replace('"admin"', '"owner"')
    cli.refused(postgres_target, "".join(lines),
            "table users: the database refused a row up to line 8 (CheckViolation)")
    assert cli.empty(postgres_target)


@pytest.mark.each_database
def test_db_stats_describe_the_database(manage, seed, database_kind, postgres_server_version):
    seed(*ACCOUNTS[:2])
    stats = json.loads(manage("db-stats").stdout)
    assert stats.keys() == {"engine", "server_version", "database", "database_size_bytes",
                            "revision", "tables"}
    assert stats["engine"] == database_kind
    assert stats["database"].startswith(f"{database_kind} at ")
    assert stats["revision"] == "0002"
    assert stats["tables"] == {"login_failures": 0, "users": 2}
    assert stats["database_size_bytes"] > 0
    if database_kind == "postgresql":
        assert stats["server_version"] == postgres_server_version
    else:
        import sqlite3

        assert stats["server_version"] == sqlite3.sqlite_version


@pytest.fixture
def postgres_server_version(request, database_kind):
    if database_kind != "postgresql":
        return None
    return request.getfixturevalue("postgres_server").server_version()


@pytest.mark.each_database
def test_db_stats_of_a_database_never_migrated(manage, database_kind):
    stats = json.loads(manage("db-stats").stdout)
    assert (stats["revision"], stats["tables"]) == (None, {})
