"""`tr4ctl health --watch`: the health checks again every INTERVAL seconds, the table
redrawn in place on a terminal (one table per round elsewhere), until Ctrl-C, which ends
it with exit 0 (SIGTERM still ends it as any command: 143)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import nullcontext

from tr4ctl import interrupts
from tr4ctl.actions.checks.health import HealthReport, check_health
from tr4ctl.output import is_terminal
from tr4ctl.plan.baseline import Baseline
from tr4ctl.runtime import Runtime


def watch_health(rt: Runtime, *, samples: int, baseline: Baseline, interval: float,
                 drawn: Callable[[HealthReport, int], object]) -> int:
    """Rounds run until Ctrl-C; returns how many completed. `drawn(report, round)` gives
    what to show for a round (a Rich renderable)."""
    out = rt.out
    in_place = is_terminal(sys.stdout) and not out.json_mode
    live = _live(out) if in_place else nullcontext()
    rounds = 0
    out.drawing_live = in_place
    try:
        with live as screen:
            while True:
                report = check_health(rt, samples=samples, baseline=baseline, save_to=None)
                rounds += 1
                if screen is not None:
                    screen.update(drawn(report, rounds), refresh=True)
                else:
                    out.data_console.print(drawn(report, rounds))
                time.sleep(interval)
    except KeyboardInterrupt:
        if interrupts.terminated():
            raise
    finally:
        out.drawing_live = False
    return rounds


def _live(out):
    from rich.live import Live

    return Live(console=out.data_console, auto_refresh=False, transient=False,
                redirect_stderr=False)
