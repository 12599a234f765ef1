"""`tr4ctl bench`: bounded load through nginx on this machine's published port only.

One thread per connection, each with a keep-alive stdlib connection: on a small machine
the client shares the CPU with nginx and the backend, and an asyncio httpx client
measured less than half the requests per second of this one, its own cost being the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tr4ctl.actions.checks.host_http import TimedConnection
from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.errors import BadInput
from tr4ctl.plan.bench import REQUEST_TIMEOUT, BenchLimits, BenchResult, tally
from tr4ctl.plan.target import HostTarget, host_target
from tr4ctl.runtime import Runtime

TICK_SECONDS = 0.2
ERROR_PAUSE = 0.05  # after a failed request, so a refused port is not hammered in a loop


def run_bench(rt: Runtime, limits: BenchLimits) -> BenchResult:
    require_stack(rt)
    require_running(rt, "nginx", message="nginx is not running: nothing to measure",
                    hint="run `tr4ctl up`")
    target = host_target(rt.config, active_nginx_mode(rt))
    if not target.is_loopback:
        raise BadInput(f"bench loads loopback only, and nginx is bound to {target.address}",
                       "run it where TR4CTL_BIND_ADDRESS is 0.0.0.0 or 127.0.0.1")
    url = target.url(limits.path)
    out = rt.out
    what = (f"{limits.duration:g}s" if limits.duration is not None
            else f"{limits.requests} requests")
    load = Load(target, limits)
    if out.fancy and not out.json_mode:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("bench {task.description}"), BarColumn(),
                      TextColumn("{task.fields[done]} requests"), TimeElapsedColumn(),
                      console=out.console, transient=True) as progress:
            total = limits.requests if limits.requests is not None else limits.duration
            task = progress.add_task(f"{what} on {url}", total=total, done=0)

            def show(done: int, elapsed: float) -> None:
                progress.update(task, done=done,
                                completed=done if limits.requests is not None else elapsed)

            stopped_by = load.run(show)
    else:
        out.info(f"bench: {what} at concurrency {limits.concurrency} on {url}")
        stopped_by = load.run(None)
    return tally(url, limits, load.seconds, load.outcomes, stopped_by)


class Load:
    def __init__(self, target: HostTarget, limits: BenchLimits):
        self.target = target
        self.limits = limits
        self.outcomes: list[tuple[str, float | None]] = []  # list.append is atomic
        self._issued = 0
        self._lock = threading.Lock()
        self._deadline = 0.0
        self._finished: list[float] = []
        self.seconds = 0.0

    def _take_one(self) -> bool:
        """May another request start? Counts it if so."""
        if time.perf_counter() >= self._deadline:
            return False
        with self._lock:
            if self.limits.requests is not None and self._issued >= self.limits.requests:
                return False
            self._issued += 1
            return True

    def _worker(self) -> None:
        with TimedConnection(self.target, timeout=REQUEST_TIMEOUT) as connection:
            while self._take_one():
                try:
                    status, ms = connection.get(self.limits.path)
                except Exception as exc:  # noqa: BLE001 - every failure is an outcome
                    self.outcomes.append((type(exc).__name__, None))
                    time.sleep(ERROR_PAUSE)
                    continue
                self.outcomes.append((str(status), ms))
        self._finished.append(time.perf_counter())

    def run(self, show: Callable[[int, float], None] | None) -> str:
        started = time.perf_counter()
        self._deadline = started + self.limits.time_budget
        workers = [threading.Thread(target=self._worker, daemon=True)
                   for _ in range(self.limits.concurrency)]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                if show:
                    show(len(self.outcomes), time.perf_counter() - started)
                worker.join(TICK_SECONDS)
        # Until the last answer, not the last tick of the progress display.
        self.seconds = max(self._finished, default=started) - started
        if show:
            show(len(self.outcomes), self.seconds)
        if self.limits.requests is not None and self._issued >= self.limits.requests:
            return "requests"
        return "duration" if self.limits.duration is not None else "time cap"
