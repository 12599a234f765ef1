"""The login rate limit is kept in the database: every worker, every replica and every
restart sees the same failures."""

import json
import signal
import urllib.error
import urllib.request

import pytest
from app.models import LoginFailure
from app.services.rate_limit import PRUNE_BATCH, LoginRateLimiter, failure_key
from backend_helpers import (
    PASSWORD,
    login,
    query,
    seed_via_subprocess,
    start_gunicorn,
    wait_for_health,
)
from sqlalchemy import func, select

pytestmark = pytest.mark.each_database

ADMIN = {"email": "ops@tr4ction.test", "role": "admin", "password": PASSWORD}


def test_two_app_instances_count_the_same_failures(make_client, users):
    first, second = make_client(), make_client()  # two processes' worth of app state
    email = users["admin"]["email"]
    for client in (first, second, first, second, first):
        assert login(client, email, "wrong password!!").status_code == 401
    for client in (second, first):
        throttled = login(client, email, PASSWORD)
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60


def post_login(port: int, password: str) -> tuple[int, str | None]:
    """(status, Retry-After)"""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/login",
        data=json.dumps({"email": ADMIN["email"], "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_replicas_with_several_workers_share_the_limit(settings_env):
    """Two servers of two workers each on one database: the sixth bad login within the
    window is refused whichever process answers."""
    seed_via_subprocess(settings_env, ADMIN)  # migrates too: the servers start at head
    env = {**settings_env, "WEB_CONCURRENCY": "2"}
    ports = [free_port(), free_port()]
    servers = [start_gunicorn(env, port) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_for_health(port, server)
        answers = [post_login(ports[i % 2], "wrong password!!")[0] for i in range(5)]
        assert answers == [401] * 5
        for port in ports:
            for _ in range(3):  # new connections: any worker of that server may answer
                status, retry_after = post_login(port, PASSWORD)
                assert status == 429
                assert 1 <= int(retry_after) <= 60
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        outputs = [server.communicate(timeout=10) for server in servers]
    assert [server.returncode for server in servers] == [0, 0], outputs


def failure_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(LoginFailure))


def test_expired_failures_are_pruned_when_the_next_one_is_written(client):
    engine = client.app.state.db.engine
    now = [1_000_000.0]
    limiter = LoginRateLimiter(engine, 3, 60, clock=lambda: now[0])
    for i in range(4):
        limiter.record_failure((f"198.51.100.{i}", "a@b.test"))
    assert failure_rows(engine) == 4
    now[0] += 60  # all four are exactly one window old: expired
    limiter.record_failure(("203.0.113.1", "c@d.test"))
    assert failure_rows(engine) == 1


def test_pruning_is_bounded_per_failure(client):
    engine = client.app.state.db.engine
    now = [1_000_000.0]
    limiter = LoginRateLimiter(engine, 3, 60, clock=lambda: now[0])
    with engine.begin() as connection:
        connection.execute(
            LoginFailure.__table__.insert(),
            [{"key": failure_key(("198.51.100.1", f"{i}@b.test")), "failed_at": now[0]}
             for i in range(PRUNE_BATCH + 10)],
        )
    now[0] += 3600
    limiter.record_failure(("203.0.113.1", "c@d.test"))
    assert failure_rows(engine) == 10 + 1
    limiter.record_failure(("203.0.113.1", "c@d.test"))
    assert failure_rows(engine) == 2


def test_a_successful_login_forgets_the_failures_and_nothing_readable_is_stored(
    client, users, settings_env
):
    email = users["founder"]["email"]
    for _ in range(2):
        assert login(client, email, "wrong password!!").status_code == 401
    stored = query(settings_env, "SELECT key FROM login_failures")
    assert [row[0] for row in stored] == [failure_key(("testclient", email))] * 2
    assert login(client, email, users["founder"]["password"]).status_code == 200
    assert query(settings_env, "SELECT key FROM login_failures") == []
