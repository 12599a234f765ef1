"""Fixtures: the real app against a real SQLite file in tmp_path, or a real PostgreSQL
server started from the host's binaries (tests marked each_database run on both), no
Docker."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Helpers live in backend_helpers, not here: several conftest.py files exist under tests/
# and `from conftest import ...` would pick whichever was imported last.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# starlette's TestClient still works on httpx; its deprecation notice is noise here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")

# First: importing backend_helpers puts backend/ on sys.path for the app imports below.
from backend_helpers import ALLOWED_ORIGIN, GOOD_SECRET, PASSWORD, run_manage  # noqa: I001
from postgres_server import PostgresServer, ServerUnavailable, start_server

from app.core.config import Settings, load_settings
from app.core.logging import close_logging
from app.main import create_app
from app.services.seeding import apply_seed, parse_seed_input
from fastapi.testclient import TestClient


DATABASE_KINDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "each_database: run the test on SQLite and on PostgreSQL (database_kind)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "each_database"
    ):
        metafunc.parametrize("database_kind", DATABASE_KINDS, indirect=True)


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """The engine this test runs on: SQLite unless marked each_database."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = start_server()
    except ServerUnavailable as exc:
        # A failure, not a skip: a skipped PostgreSQL test would prove nothing.
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def make_postgres_env(
    postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[Callable[[], dict[str, str]]]:
    """DATABASE_URL and DATABASE_PASSWORD_FILE of a new, empty database owned by the test
    role (the URL carries no password, as in the stack); dropped after the test."""
    created: list[str] = []
    password_file = tmp_path / "db_password"
    password_file.write_text(postgres_server.role_password + "\n")
    password_file.chmod(0o600)

    def make() -> dict[str, str]:
        created.append(postgres_server.create_database())
        return {
            "DATABASE_URL": postgres_server.url(created[-1]),
            "DATABASE_PASSWORD_FILE": str(password_file),
        }

    yield make
    for name in created:
        postgres_server.drop_database(name)


@pytest.fixture
def database_env(
    request: pytest.FixtureRequest, database_kind: str, tmp_path: Path
) -> dict[str, str]:
    """DATABASE_URL (and, for PostgreSQL, the password file) of this test's database."""
    if database_kind == "sqlite":
        return {"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'test.db'}"}
    return request.getfixturevalue("make_postgres_env")()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's shell must not leak settings into tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _logging_closed_after_each_test() -> Iterator[None]:
    """Each app starts a logging thread; its last lines are written while this test's
    output capture is still in place, not after pytest's summary."""
    yield
    close_logging()


@pytest.fixture
def app_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The log lines of the apps this test makes (written to stdout only, which the
    engine keeps) in tmp_path/stdout.log instead. Not by replacing sys.stdout: pytest's
    capture puts its own back between a test's setup and its call."""
    import app.main

    path = tmp_path / "stdout.log"
    with path.open("a", buffering=1) as stream:
        monkeypatch.setattr(app.main, "configure_logging",
                            functools.partial(app.main.configure_logging, stream=stream))
        yield path
        close_logging()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings_env(tmp_path: Path, closed_port: int, database_env: dict[str, str]) -> dict[str, str]:
    """Environment for a development instance confined to tmp_path (and, on PostgreSQL,
    to its own database)."""
    return {
        "ENVIRONMENT": "development",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "logs"),
        **database_env,
        "JWT_SECRET_KEY": GOOD_SECRET,
        "CORS_ORIGINS": ALLOWED_ORIGIN,
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(closed_port),
        "BCRYPT_ROUNDS": "4",
    }


@pytest.fixture
def make_settings(settings_env: dict[str, str]) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        return load_settings(**{**settings_env, **overrides})

    return make


@pytest.fixture
def make_client(make_settings) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides), apply_migrations=True))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def manage(settings_env) -> Callable[..., subprocess.CompletedProcess]:
    return lambda *args, stdin="": run_manage(settings_env, *args, stdin=stdin)


@pytest.fixture
def run_manage_inprocess(settings_env, monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """app.manage.main() in this process (a subprocess costs ~1 s of imports)."""
    import io

    from app import manage

    def run(
        *args: str, stdin: bytes | str = b"", env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """env: another database's settings instead of this test's."""
        for name in Settings.model_fields:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or settings_env).items():
            monkeypatch.setenv(name, value)
        raw = stdin.encode() if isinstance(stdin, str) else stdin
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
        capsys.readouterr()
        code = manage.main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def seed(run_manage_inprocess) -> Callable[..., dict]:
    def run(*accounts: dict, reset_password: bool = False) -> dict:
        args = ["seed", "--reset-password"] if reset_password else ["seed"]
        code, out, err = run_manage_inprocess(*args, stdin=json.dumps({"accounts": list(accounts)}))
        assert code == 0, err
        return json.loads(out)

    return run


@pytest.fixture
def users(client) -> dict[str, dict]:
    """An admin and a founder (seeded in-process; test_manage covers the real command)."""
    accounts = {
        "admin": {
            "email": "Admin@TR4CTION.test",
            "role": "admin",
            "name": "Ada",
            "password": PASSWORD,
        },
        "founder": {
            "email": "founder@tr4ction.test",
            "role": "founder",
            "password": PASSWORD + "!",
        },
    }
    state = client.app.state
    with state.db.session() as session:
        apply_seed(
            session,
            parse_seed_input(json.dumps({"accounts": list(accounts.values())})),
            rounds=state.settings.BCRYPT_ROUNDS,
            reset_password=False,
        )
    return accounts


class _Heartbeat(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/api/v2/heartbeat":
            self.send_error(404)
            return
        body = json.dumps({"nanosecond heartbeat": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_chroma() -> Iterator[int]:
    """A tiny real HTTP server on 127.0.0.1 that answers Chroma's heartbeat."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Heartbeat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
