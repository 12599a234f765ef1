"""Readiness: can this instance serve real requests right now?"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

from sqlalchemy import text

from app.core.config import Settings
from app.db import Database

# Chroma lives on the compose network: never route the heartbeat through an HTTP_PROXY.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# urllib's timeout does not cover the DNS lookup, which can hang for seconds when the
# chroma name does not resolve; a small pool bounds both the wait and the threads.
_PROBES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ready-probe")


@dataclass
class Check:
    ok: bool
    reason: str


def check_database(db: Database) -> Check:
    # Engine and place (never the password) say which database an operator should look at.
    where = db.describe()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM users LIMIT 1"))
    # Any driver error means "not ready"; its class is the reason.
    except Exception as exc:  # noqa: BLE001
        return Check(False, f"{where}: query failed: {type(exc).__name__}")
    return Check(True, f"{where}: users table reachable")


def check_data_dirs(settings: Settings) -> Check:
    problems = []
    for directory in settings.data_dirs:
        if not directory.is_dir():
            problems.append(f"{directory} missing")
        elif not os.access(directory, os.W_OK | os.X_OK):
            problems.append(f"{directory} not writable")
    if problems:
        return Check(False, "; ".join(problems))
    return Check(True, f"{len(settings.data_dirs)} directories writable")


def check_chroma(settings: Settings) -> Check:
    deadline = settings.CHROMA_TIMEOUT_SECONDS + 0.25
    try:
        return _PROBES.submit(_probe_chroma, settings).result(timeout=deadline)
    except FutureTimeout:
        return Check(
            False,
            f"no answer from {settings.CHROMA_HOST}:{settings.CHROMA_PORT} within {deadline:.2g}s",
        )


def _probe_chroma(settings: Settings) -> Check:
    url = settings.chroma_heartbeat_url
    try:
        with _DIRECT.open(url, timeout=settings.CHROMA_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return Check(False, f"heartbeat answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(
            False, f"unreachable at {settings.CHROMA_HOST}:{settings.CHROMA_PORT}: {reason}"
        )
    if status != 200:
        return Check(False, f"heartbeat answered HTTP {status}")
    return Check(True, "heartbeat ok")


def readiness_report(settings: Settings, db: Database) -> dict:
    checks = {
        "database": check_database(db),
        "data_dirs": check_data_dirs(settings),
        "chroma": check_chroma(settings),
    }
    ready = all(c.ok for c in checks.values())
    return {
        "status": "ready" if ready else "not_ready",
        "checks": {k: asdict(v) for k, v in checks.items()},
    }
