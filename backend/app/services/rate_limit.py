"""Failed-login limiter, keyed by (client IP, lowercased email).

The failures live in the database (table login_failures), so every gunicorn worker and
every replica counts the same ones, and a restart forgets nothing inside the window.
Times come from the workers' clocks (seconds since the epoch): replicas on several hosts
need them synchronised to about a second, as they are for TLS and tokens anyway.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select

from app.models import LoginFailure

# Expired rows deleted by one failed login at most: each failure costs a bounded amount,
# and a backlog (after a spray across many emails) drains a batch per failure.
PRUNE_BATCH = 500

_failures = LoginFailure.__table__


def failure_key(key: tuple[str, str]) -> str:
    client_ip, email = key
    return hashlib.sha256(f"{client_ip}\n{email}".encode()).hexdigest()


class LoginRateLimiter:
    def __init__(
        self,
        engine: Engine,
        attempts: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.attempts = attempts
        self.window = window_seconds
        self._clock = clock

    def retry_after(self, key: tuple[str, str]) -> int | None:
        """Seconds until another attempt is allowed, or None if allowed now."""
        now = self._clock()
        # The newest `attempts` failures in the window: allowed again once the oldest of
        # them leaves it (concurrent workers may have recorded a few more than that).
        recent = (
            select(_failures.c.failed_at)
            .where(_failures.c.key == failure_key(key), _failures.c.failed_at > now - self.window)
            .order_by(_failures.c.failed_at.desc())
            .limit(self.attempts)
        )
        with self.engine.connect() as connection:
            times = connection.scalars(recent).all()
        if len(times) < self.attempts:
            return None
        return max(1, math.ceil(times[-1] + self.window - now))

    def record_failure(self, key: tuple[str, str]) -> None:
        now = self._clock()
        expired = (
            select(_failures.c.id)
            .where(_failures.c.failed_at <= now - self.window)
            .limit(PRUNE_BATCH)
            # PostgreSQL: rows another worker is already deleting are left to it, so two
            # failed logins never wait on (or deadlock over) each other's pruning.
            # SQLite has one writer at a time and no FOR UPDATE: SQLAlchemy omits it.
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as connection:
            connection.execute(delete(_failures).where(_failures.c.id.in_(expired)))
            connection.execute(insert(_failures).values(key=failure_key(key), failed_at=now))

    def reset(self, key: tuple[str, str]) -> None:
        of_key = _failures.c.key == failure_key(key)
        with self.engine.connect() as connection:
            # Most logins have nothing to forget: looking first spares them SQLite's
            # database-wide write lock.
            if connection.scalar(select(_failures.c.id).where(of_key).limit(1)) is None:
                return
            connection.execute(delete(_failures).where(of_key))
            connection.commit()
