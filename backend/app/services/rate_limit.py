"""Failed-login limiter, keyed by (client IP, lowercased email).

In memory, per worker process: with WEB_CONCURRENCY=N an attacker gets up to N times
the budget and a restart forgets it. Good enough for the default single worker; a shared
store (Redis, the database) would be needed beyond that.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED_KEYS = 10_000


class LoginRateLimiter:
    def __init__(
        self, attempts: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        # Login routes run in the threadpool: several threads may touch the dict at once.
        self._lock = threading.Lock()

    def retry_after(self, key: tuple[str, str]) -> int | None:
        """Seconds until another attempt is allowed, or None if allowed now."""
        with self._lock:
            failures = self._recent(key)
            if len(failures) < self.attempts:
                return None
            return max(1, math.ceil(failures[0] + self.window - self._clock()))

    def record_failure(self, key: tuple[str, str]) -> None:
        with self._lock:
            if key not in self._failures and len(self._failures) >= MAX_TRACKED_KEYS:
                self._sweep()
            self._recent(key).append(self._clock())

    def reset(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures

    def _sweep(self) -> None:
        cutoff = self._clock() - self.window
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= cutoff]:
            del self._failures[key]
        if len(self._failures) >= MAX_TRACKED_KEYS:
            # Still full of live keys (a spray across many emails): drop the oldest.
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]
