"""What "as fast as it should be" means: a baseline and a stated tolerance.

The default baseline is the old deployment's own figures (deployment-notes-pt.md):
backend /health about 50 ms, nginx proxy about 10 ms, start-up 15-20 s, one gunicorn
worker. Those notes give one typical figure per path, so it stands for every
percentile. `tr4ctl health --save-baseline FILE` records measured figures instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tr4ctl.errors import BadInput
from tr4ctl.plan.latency import PERCENTILES, LatencySummary

FORMAT = "tr4ctl-baseline/1"
# The three latency figures `health` compares: through nginx from the host, the backend
# directly (inside the stack's network), and what nginx adds (in-network, same client).
LATENCY_METRICS = ("nginx", "backend", "proxy_overhead")
SAVE_HINT = "record one with `tr4ctl health --save-baseline FILE`"


@dataclass(frozen=True)
class Tolerance:
    """A gated percentile fails above ratio x baseline + slack_ms.

    The slack keeps sub-millisecond baselines from failing on scheduling noise; p99 and
    max are shown but never gated (with 50 samples p99 is one or two requests).
    """

    ratio: float = 2.0
    slack_ms: float = 1.0
    gated: tuple[str, ...] = ("p50", "p95")

    def limit(self, baseline_ms: float) -> float:
        return round(baseline_ms * self.ratio + self.slack_ms, 3)

    def describe(self) -> str:
        return (f"{' and '.join(self.gated)} may reach {self.ratio:g}x the baseline "
                f"+ {self.slack_ms:g} ms")

    def as_dict(self) -> dict:
        return {"ratio": self.ratio, "slack_ms": self.slack_ms, "gated": list(self.gated),
                "rule": self.describe()}


@dataclass(frozen=True)
class Baseline:
    source: str
    # metric -> {"p50": ms, "p95": ms, "p99": ms}
    latency: dict[str, dict[str, float]]
    tolerance: Tolerance = field(default_factory=Tolerance)
    startup_seconds: tuple[float, float] | None = None
    gunicorn_workers: int | None = None

    def as_document(self) -> dict:
        return {
            "format": FORMAT,
            "source": self.source,
            "tolerance": {"ratio": self.tolerance.ratio, "slack_ms": self.tolerance.slack_ms},
            "latency_ms": {metric: dict(figures) for metric, figures in self.latency.items()},
            "startup_seconds": list(self.startup_seconds) if self.startup_seconds else None,
            "gunicorn_workers": self.gunicorn_workers,
        }


def _flat(ms: float) -> dict[str, float]:
    return {name: ms for name in PERCENTILES}


OLD_DEPLOYMENT = Baseline(
    source="old deployment (notes: backend health ~50 ms, nginx proxy ~10 ms, "
           "start-up 15-20 s, 1 gunicorn worker)",
    latency={"nginx": _flat(60.0), "backend": _flat(50.0), "proxy_overhead": _flat(10.0)},
    startup_seconds=(15.0, 20.0),
    gunicorn_workers=1,
)


def baseline_from_measurements(source: str, measured: dict[str, LatencySummary],
                               workers: int | None,
                               tolerance: Tolerance | None = None) -> Baseline:
    missing = [metric for metric in LATENCY_METRICS if metric not in measured]
    if missing:
        raise BadInput(f"cannot save a baseline without {', '.join(missing)} figures",
                       "run `tr4ctl health` until every path answers, then save")
    # The overhead is a difference of two noisy runs and can come out below zero; as a
    # baseline that means "nothing measurable", i.e. 0 ms.
    return Baseline(
        source=source,
        latency={metric: {name: max(0.0, measured[metric].figure(name)) for name in PERCENTILES}
                 for metric in LATENCY_METRICS},
        tolerance=tolerance or Tolerance(),
        gunicorn_workers=workers,
    )


def parse_baseline(text: str, origin: str) -> Baseline:
    """A baseline file's text; BadInput naming the first thing wrong with it."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"baseline {origin} is not JSON: {exc.msg} (line {exc.lineno})",
                       SAVE_HINT) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BadInput(f"baseline {origin} is not a {FORMAT} document", SAVE_HINT)
    latency_doc = document.get("latency_ms")
    if not isinstance(latency_doc, dict):
        raise BadInput(f"baseline {origin} has no latency_ms object", SAVE_HINT)
    latency: dict[str, dict[str, float]] = {}
    for metric in LATENCY_METRICS:
        figures = latency_doc.get(metric)
        if not isinstance(figures, dict):
            raise BadInput(f"baseline {origin}: latency_ms.{metric} is missing", SAVE_HINT)
        latency[metric] = {name: _number(figures.get(name), f"latency_ms.{metric}.{name}", origin)
                           for name in PERCENTILES}
    tolerance_doc = document.get("tolerance") or {}
    if not isinstance(tolerance_doc, dict):
        raise BadInput(f"baseline {origin}: tolerance must be an object", SAVE_HINT)
    default = Tolerance()
    tolerance = Tolerance(
        ratio=_number(tolerance_doc.get("ratio", default.ratio), "tolerance.ratio", origin,
                      minimum=1.0),
        slack_ms=_number(tolerance_doc.get("slack_ms", default.slack_ms), "tolerance.slack_ms",
                         origin),
    )
    startup = document.get("startup_seconds")
    workers = document.get("gunicorn_workers")
    return Baseline(
        source=str(document.get("source") or origin),
        latency=latency,
        tolerance=tolerance,
        startup_seconds=tuple(startup) if isinstance(startup, list) and len(startup) == 2 else None,
        gunicorn_workers=workers if isinstance(workers, int) and workers > 0 else None,
    )


def _number(value: object, key: str, origin: str, minimum: float = 0.0) -> float:
    # bool is an int in Python; a baseline of `true` ms is a mistake, not 1 ms.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise BadInput(f"baseline {origin}: {key} must be a number >= {minimum:g}", SAVE_HINT)
    return float(value)
