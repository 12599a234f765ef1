"""`tr4ctl bench`: its bounds, and what a run's outcomes add up to."""

from __future__ import annotations

from dataclasses import dataclass, field

from tr4ctl.errors import BadInput
from tr4ctl.plan.latency import LatencySummary, summarize

MAX_CONCURRENCY = 64
MAX_DURATION = 60.0
MAX_REQUESTS = 100_000
# A --requests run stops here too, however many requests are left.
TIME_CAP = MAX_DURATION
REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True)
class BenchLimits:
    path: str
    concurrency: int
    duration: float | None  # seconds; exactly one of duration and requests is set
    requests: int | None

    def __post_init__(self) -> None:
        if (self.duration is None) == (self.requests is None):
            raise BadInput("give either --duration or --requests", "for example --duration 5")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise BadInput(f"--concurrency must be 1..{MAX_CONCURRENCY}", "for example -c 4")
        if self.duration is not None and not 0 < self.duration <= MAX_DURATION:
            raise BadInput(f"--duration must be more than 0 and at most {MAX_DURATION:g} s",
                           "for example --duration 5")
        if self.requests is not None and not 1 <= self.requests <= MAX_REQUESTS:
            raise BadInput(f"--requests must be 1..{MAX_REQUESTS}", "for example --requests 1000")

    @property
    def time_budget(self) -> float:
        return self.duration if self.duration is not None else TIME_CAP


def validate_path(path: str) -> str:
    """A path on the stack's own nginx: never a URL, so load cannot be aimed elsewhere."""
    if not path.startswith("/") or path.startswith("//"):
        raise BadInput(f"--path {path!r} is not a path on the stack",
                       "give a path such as /health (the host is always this machine's nginx)")
    if any(ch.isspace() for ch in path) or len(path) > 2000:
        raise BadInput(f"--path {path[:40]!r} has spaces or is too long", "use a URL path")
    return path


@dataclass
class BenchResult:
    url: str
    concurrency: int
    limits: BenchLimits
    seconds: float
    completed: int
    statuses: dict[str, int] = field(default_factory=dict)  # answers by HTTP status
    errors: dict[str, int] = field(default_factory=dict)  # non-2xx/3xx and transport errors
    latency: LatencySummary | None = None  # of every answered request
    stopped_by: str = ""
    answered_ms: list[float] = field(default_factory=list, repr=False)  # for a histogram

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return round(self.completed / self.seconds, 1) if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "concurrency": self.concurrency,
            "duration_limit_s": self.limits.duration,
            "requests_limit": self.limits.requests,
            "seconds": round(self.seconds, 3),
            "requests": self.completed,
            "requests_per_second": self.rps,
            "failed": self.failed,
            "statuses": self.statuses,
            "errors": self.errors,
            "latency_ms": self.latency.as_ms() if self.latency else None,
            "stopped_by": self.stopped_by,
        }


def tally(url: str, limits: BenchLimits, seconds: float,
          outcomes: list[tuple[str, float | None]], stopped_by: str) -> BenchResult:
    """outcomes: (HTTP status as text, or an error's kind; milliseconds if answered)."""
    result = BenchResult(url, limits.concurrency, limits, seconds, len(outcomes),
                         stopped_by=stopped_by)
    answered: list[float] = []
    for outcome, ms in outcomes:
        if outcome.isdigit():
            result.statuses[outcome] = result.statuses.get(outcome, 0) + 1
            if ms is not None:
                answered.append(ms)
            if not 200 <= int(outcome) < 400:
                key = f"HTTP {outcome}"
                result.errors[key] = result.errors.get(key, 0) + 1
        else:
            result.errors[outcome] = result.errors.get(outcome, 0) + 1
    result.latency = summarize(answered) if answered else None
    result.answered_ms = answered
    return result
