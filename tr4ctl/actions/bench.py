"""`tr4ctl bench`: bounded load through nginx on this machine's published port only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tr4ctl.actions.health import require_stack
from tr4ctl.actions.host_http import tls_verify
from tr4ctl.actions.nginx_config import active_nginx_mode
from tr4ctl.cli.context import AppContext
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.bench import REQUEST_TIMEOUT, BenchLimits, BenchResult, tally
from tr4ctl.plan.target import HostTarget, host_target

TICK_SECONDS = 0.2


def run_bench(ctx: AppContext, limits: BenchLimits) -> BenchResult:
    require_stack(ctx)
    if ctx.engine.service_states(("nginx",))["nginx"].state != "running":
        raise OperationFailed("nginx is not running: nothing to measure", "run `tr4ctl up`")
    target = host_target(ctx.settings, active_nginx_mode(ctx))
    if not target.is_loopback:
        raise BadInput(f"bench loads loopback only, and nginx is bound to {target.address}",
                       "run it where TR4CTL_BIND_ADDRESS is 0.0.0.0 or 127.0.0.1")
    url = target.url(limits.path)
    out = ctx.out
    what = (f"{limits.duration:g}s" if limits.duration is not None
            else f"{limits.requests} requests")
    if out.console.is_terminal and not out.json_mode:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("bench {task.description}"), BarColumn(),
                      TextColumn("{task.fields[done]} requests"), TimeElapsedColumn(),
                      console=out.console, transient=True) as progress:
            total = limits.requests if limits.requests is not None else limits.duration
            task = progress.add_task(f"{what} on {url}", total=total, done=0)

            def show(done: int, elapsed: float) -> None:
                progress.update(task, done=done,
                                completed=done if limits.requests is not None else elapsed)

            started = time.monotonic()
            outcomes, stopped_by = asyncio.run(_load(target, url, limits, show))
    else:
        out.info(f"bench: {what} at concurrency {limits.concurrency} on {url}")
        started = time.monotonic()
        outcomes, stopped_by = asyncio.run(_load(target, url, limits, None))
    seconds = time.monotonic() - started
    return tally(url, limits, seconds, outcomes, stopped_by)


async def _load(target: HostTarget, url: str, limits: BenchLimits,
                show: Callable[[int, float], None] | None) -> tuple[list, str]:
    import httpx

    headers = {"Host": target.server_name} if target.server_name else {}
    extensions = {"sni_hostname": target.server_name} if target.server_name else {}
    pool = httpx.Limits(max_connections=limits.concurrency,
                        max_keepalive_connections=limits.concurrency)
    outcomes: list[tuple[str, float | None]] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + limits.time_budget

    async with httpx.AsyncClient(verify=tls_verify(target), headers=headers, limits=pool,
                                 timeout=REQUEST_TIMEOUT, trust_env=False,
                                 follow_redirects=False) as client:

        async def worker() -> None:
            nonlocal issued
            while time.perf_counter() < deadline and (
                    limits.requests is None or issued < limits.requests):
                issued += 1
                sent = time.perf_counter()
                try:
                    response = await client.get(url, extensions=extensions)
                    await response.aread()
                    outcomes.append((str(response.status_code),
                                     (time.perf_counter() - sent) * 1000))
                except httpx.HTTPError as exc:
                    outcomes.append((type(exc).__name__, None))

        async def ticker() -> None:
            while True:
                show(len(outcomes), time.perf_counter() - started)
                await asyncio.sleep(TICK_SECONDS)

        ticking = asyncio.create_task(ticker()) if show else None
        await asyncio.gather(*(worker() for _ in range(limits.concurrency)))
        if ticking:
            ticking.cancel()
    if limits.requests is not None and issued >= limits.requests:
        return outcomes, "requests"
    return outcomes, "duration" if limits.duration is not None else "time cap"
