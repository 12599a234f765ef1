"""The real server process: gunicorn + uvicorn workers, as the container runs it."""

import json
import signal
import time
import urllib.error
import urllib.request

import pytest
import uvicorn_worker  # noqa: F401 - the image's worker class: a missing one fails, not skips
from app.migrate import code_revisions
from backend_helpers import start_gunicorn, wait_for_health


@pytest.mark.each_database
def test_gunicorn_migrates_once_serves_and_stops_fast(settings_env, closed_port):
    proc = start_gunicorn({**settings_env, "WEB_CONCURRENCY": "2"}, closed_port)
    try:
        wait_for_health(closed_port, proc)
        request = urllib.request.Request(
            f"http://127.0.0.1:{closed_port}/api/auth/me", headers={"X-Request-ID": "via-gunicorn"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
        stop_seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stop_seconds < 4
    entries = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    # Each migration once (in the master), not once per worker.
    upgrades = [e["msg"] for e in entries if "Running upgrade" in e["msg"]]
    assert len(upgrades) == len(set(upgrades)) == len(code_revisions()[1])
    assert sum(e["msg"].startswith("Booting worker") for e in entries) == 2
    # Written by the worker's own logging thread (started after fork), at the latest
    # when the worker exits; the health probes above are not logged at info.
    requests = [e for e in entries if e["msg"] == "request"]
    assert [(e["request_id"], e["path"], e["status"]) for e in requests] == [
        ("via-gunicorn", "/api/auth/me", 401)
    ]


def test_gunicorn_refuses_placeholder_secret_in_production_with_one_line(settings_env, closed_port):
    env = {
        **settings_env,
        "ENVIRONMENT": "production",
        "JWT_SECRET_KEY": "<generate-with: openssl rand -hex 32>",
    }
    proc = start_gunicorn(env, closed_port)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 1
    lines = (stdout + stderr).strip().splitlines()
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert (
        entry["level"] == "CRITICAL"
        and "JWT_SECRET_KEY" in entry["msg"]
        and "placeholder" in entry["msg"]
    )
