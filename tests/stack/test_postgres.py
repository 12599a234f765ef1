"""PostgreSQL as the stack's database, with a real server (real engine, local images):
the stack on it, the move from SQLite and back, backups, crashes, workers, secrecy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import docker, new_stack, own_environment, running_stack, wait_for
from load import AccountLoad

ADMIN, FOUNDER = "admin@pg.test", "founder@pg.test"
PASSWORD = "postgres-test-password-1"


def seed(stack, *emails_and_roles: tuple[str, str]) -> None:
    accounts = [{"email": e, "role": r, "password": PASSWORD} for e, r in emails_and_roles]
    stack.compose_exec("backend", "python3", "-m", "app.manage", "seed",
                       input=json.dumps({"accounts": accounts}))


def users(stack) -> list[dict]:
    return stack.json("users", "list")["data"]["users"]


def emails(stack) -> set[str]:
    return {user["email"] for user in users(stack)}


def login(stack, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(stack.url("/api/auth/login"), json={"email": email, "password": password},
                      timeout=30)


def token(stack, email: str = ADMIN) -> str:
    response = login(stack, email)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def client(stack, bearer: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url(""), timeout=60,
                        headers={"Authorization": f"Bearer {bearer}"})


def healthy(stack) -> bool:
    services = stack.json("status")["data"]["services"]
    return all(s["state"] == "running" and s["health"] in ("healthy", None)
               for s in services if s["service"] in ("backend", "nginx", "chroma", "postgres"))


@pytest.fixture(scope="module")
def pg(docker_engine, tmp_path_factory):
    """A stack on PostgreSQL from its first `up`, with two gunicorn workers."""
    with running_stack(tmp_path_factory, "pg",
                       settings={"TR4CTL_DATABASE": "postgres",
                                 "TR4CTL_GUNICORN_WORKERS": "2"}) as stack:
        stack.tr4ctl("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                     "--password-stdin", input=f"{PASSWORD}\n{PASSWORD}\n")
        yield stack


def test_the_stack_runs_on_postgres_and_keeps_its_data(pg):
    status = {s["service"]: s for s in pg.json("status")["data"]["services"]}
    assert status["postgres"]["state"] == "running" and status["postgres"]["ports"] == []
    stats = pg.json("db", "status")["data"]
    assert stats["engine"] == "postgresql" and stats["setting"] == "postgres"
    assert stats["tables"]["users"] == 2
    assert login(pg, FOUNDER).status_code == 200
    assert emails(pg) == {ADMIN, FOUNDER}
    ready = pg.compose_exec("backend", "python3", "-c",
                            "import urllib.request; print(urllib.request.urlopen("
                            "'http://127.0.0.1:8000/ready').read().decode())")
    assert json.loads(ready)["checks"]["database"]["ok"] is True
    pg.tr4ctl("down")
    pg.tr4ctl("up")
    assert emails(pg) == {ADMIN, FOUNDER}
    assert login(pg, ADMIN).status_code == 200


def test_the_password_is_in_no_argv_no_log_no_inspect_no_rendered_file(pg):
    env_lines = (pg.project_dir / ".env").read_text().splitlines()
    secret = next(line.split("=", 1)[1] for line in env_lines
                  if line.startswith("TR4CTL_DATABASE_PASSWORD="))
    secret = secret.strip("'\"")
    assert len(secret) >= 24
    assert oct((pg.project_dir / ".env").stat().st_mode & 0o777) == "0o600"
    # Host processes (tr4ctl's docker calls included, had any carried it).
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert secret not in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={pg.name}").split()
    for container in ids:
        assert secret not in docker("inspect", container)
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
        assert secret not in logs.stdout + logs.stderr
        processes = docker("top", container, "-o", "pid,args")
        assert secret not in processes
    assert secret not in (pg.project_dir / ".tr4ctl" / "docker-compose.yml").read_text()
    assert secret not in (pg.project_dir / ".tr4ctl" / "backend.env").read_text()
    shown = pg.tr4ctl("config", "show")
    assert secret not in shown.stdout + shown.stderr
    assert pg.json("config", "show")["data"]["settings"]["TR4CTL_DATABASE_PASSWORD"] == "****"


def test_the_sixth_bad_login_is_refused_whichever_worker_answers(pg):
    workers = pg.json("health")["data"]["gunicorn_workers"]
    assert workers == 2
    for n in range(3):
        email = f"nobody-{n}@pg.test"
        codes = [login(pg, email, "wrong-password-123").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429], codes


def test_postgres_killed_comes_back_by_itself_with_no_data_lost(pg):
    before = emails(pg)
    postgres = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={pg.name}",
                      "--filter", "label=com.docker.compose.service=postgres").split()[0]
    main_pid = docker("inspect", "--format", "{{.State.Pid}}", postgres).strip()
    os.kill(int(main_pid), signal.SIGKILL)
    wait_for(lambda: not healthy(pg), "the stack to notice", timeout=30, every=0.2)
    wait_for(lambda: healthy(pg), "postgres and the backend to be healthy again", timeout=180)
    wait_for(lambda: login(pg, ADMIN).status_code == 200, "logins to work again", timeout=60)
    assert emails(pg) == before


def test_a_backup_under_writes_restores_every_committed_account_into_a_fresh_stack(pg):
    bearer = token(pg)
    load = AccountLoad(lambda: client(pg, bearer), prefix="pgload")
    load.start()
    try:
        wait_for(lambda: len(load.committed) >= 3, "accounts to be created")
        started = time.monotonic()
        created = pg.json("backup", "create")["data"]
        wait_for(lambda: load.committed and load.committed[-1][1] > started, "more accounts")
    finally:
        load.halt.set()
        load.join(timeout=120)
    before_backup = load.committed_before(started)
    parts = {p["name"]: p for p in created["manifest"]["parts"]}
    assert parts["database.pgdump"]["kind"] == "postgres" and len(parts["database.pgdump"]["sha256"]) == 64
    pg.tr4ctl("backup", "verify", created["path"])

    pg.tr4ctl("down", "--volumes", "--yes")  # a fresh stack: no volumes at all
    pg.tr4ctl("backup", "restore", created["path"], "--yes")
    after = emails(pg)
    assert before_backup <= after, sorted(before_backup - after)
    assert {ADMIN, FOUNDER} <= after
    assert login(pg, ADMIN).status_code == 200


@pytest.fixture(scope="module")
def sqlite_stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "move") as stack:
        seed(stack, (ADMIN, "admin"), (FOUNDER, "founder"),
             *[(f"user-{n}@pg.test", "founder") for n in range(20)])
        yield stack


def test_moving_to_postgres_and_back_keeps_every_row(sqlite_stack):
    stack = sqlite_stack
    before = users(stack)
    there = stack.json("db", "use", "postgres")["data"]
    assert there["moved"] and there["target_url"].startswith("postgresql+psycopg://")
    assert there["write_pause_seconds"] is not None and there["write_pause_seconds"] < 30
    assert there["tables"]["users"]["rows"] == len(before)
    assert stack.json("db", "status")["data"]["engine"] == "postgresql"
    assert users(stack) == before
    assert login(stack, FOUNDER).status_code == 200
    again = stack.json("db", "use", "postgres")["data"]
    assert again["moved"] is False  # already there: nothing changes

    back = stack.json("db", "use", "sqlite")["data"]
    assert back["moved"] and back["target_url"].startswith("sqlite:////app/data/tr4ction-")
    assert back["tables"] == there["tables"]  # identical checksums both ways
    assert stack.json("db", "status")["data"]["engine"] == "sqlite"
    assert users(stack) == before
    assert login(stack, ADMIN).status_code == 200


def test_a_copy_that_fails_half_way_leaves_the_old_database_serving(sqlite_stack):
    stack = sqlite_stack
    before = users(stack)
    env_before = (stack.project_dir / ".env").read_bytes()
    moving = subprocess.Popen(stack.argv("db", "use", "postgres"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=own_environment())
    seen = []
    for line in moving.stderr:
        seen.append(line)
        if line.startswith(("pause:", "copy:")):
            docker("kill", "--signal", "KILL", f"{stack.name}-postgres-1")
            break
    rest = moving.stderr.read()
    moving.wait(timeout=600)
    moving.stdout.close()
    moving.stderr.close()
    assert moving.returncode == 1, "".join(seen) + rest
    assert "db use failed at" in rest and "still the current one" in rest
    assert (stack.project_dir / ".env").read_bytes() == env_before
    wait_for(lambda: login(stack, ADMIN).status_code == 200, "the old database to serve")
    assert users(stack) == before
    assert stack.json("db", "status")["data"]["engine"] == "sqlite"


def test_db_use_refuses_what_it_cannot_do(sqlite_stack, tmp_path_factory):
    result = sqlite_stack.tr4ctl("db", "use", "mysql", check=False)
    assert result.returncode == 2 and "unknown database" in result.stderr
    never_up = new_stack(tmp_path_factory, "dbstop")
    refused = never_up.tr4ctl("db", "use", "postgres", check=False)
    assert refused.returncode == 3 and "no stack yet" in refused.stderr
