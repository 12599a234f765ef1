"""Constants and helpers shared by the backend tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
