"""Constants and helpers shared by the backend tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from app.core.config import Settings
from fastapi.testclient import TestClient

GOOD_SECRET = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2a3b4c"
ALLOWED_ORIGIN = "https://app.tr4ction.test"
PASSWORD = "correct horse battery"


def run_manage(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`python3 -m app.manage ...` as operators run it: cwd = the app directory."""
    full_env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields} | env
    return subprocess.run(
        [sys.executable, "-m", "app.manage", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=BACKEND_DIR,
        env=full_env,
        timeout=60,
    )


def query(settings_env: dict[str, str], sql: str, **params: object) -> list[tuple]:
    """Rows of one SQL statement on the test's database (SQLite or PostgreSQL); [] while
    the users table does not exist yet."""
    from app.core.config import load_settings
    from app.db import sqlite_file
    from sqlalchemy import create_engine, inspect, text

    url = load_settings(**settings_env).database_url
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.exists():
        return []
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("users"):
                return []
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def seed_via_subprocess(
    settings_env: dict[str, str], *accounts: dict, reset_password: bool = False
) -> dict:
    args = ["seed", "--reset-password"] if reset_password else ["seed"]
    result = run_manage(settings_env, *args, stdin=json.dumps({"accounts": list(accounts)}))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def login(client: TestClient, email: str, password: str, **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def auth_header(client: TestClient, account: dict) -> dict[str, str]:
    response = login(client, account["email"], account["password"])
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    full_env = {**os.environ, **env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        cwd=BACKEND_DIR,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_health(port: int, proc: subprocess.Popen, deadline: float = 20) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not become healthy")
