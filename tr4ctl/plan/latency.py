"""Latency statistics: percentiles of a list of samples, and the proxy overhead from
paired samples.

Percentiles interpolate linearly between the closest ranks (numpy's default, R's type 7),
so p50 of an even count is the mean of the two middle samples and p99 of 50 samples sits
between the two largest instead of being the maximum.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

PERCENTILES = ("p50", "p95", "p99")


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds."""

    samples: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def figure(self, name: str) -> float:
        return getattr(self, name)

    def as_ms(self) -> dict[str, float | int]:
        """{"samples", "p50_ms", ...}: the keys of the JSON documents."""
        return {("samples" if key == "samples" else f"{key}_ms"): value
                for key, value in asdict(self).items()}


def summarize(samples_ms: list[float]) -> LatencySummary:
    return LatencySummary(
        samples=len(samples_ms),
        p50=_round(percentile(samples_ms, 50)),
        p95=_round(percentile(samples_ms, 95)),
        p99=_round(percentile(samples_ms, 99)),
        max=_round(max(samples_ms)),
        mean=_round(sum(samples_ms) / len(samples_ms)),
    )


def paired_overhead(through: list[float | None],
                    direct: list[float | None]) -> LatencySummary | None:
    """What the proxy adds, from requests made back to back: the i-th request through
    nginx and the i-th straight to the backend form a pair (None: it did not answer).

    Subtracting the percentiles of two separate runs is not an overhead: the runs' noise
    differs, and p95 of one minus p95 of the other came out negative. Here each pair's
    difference is taken, floored at zero (nginx cannot take negative time: a pair where
    the direct request was the slower one measured noise, which counts as no overhead),
    and the percentiles are those of the differences. Never negative by construction.
    None when no pair has both answers."""
    differences = [max(0.0, t - d) for t, d in zip(through, direct, strict=False)
                   if t is not None and d is not None]
    return summarize(differences) if differences else None


def _round(value: float) -> float:
    return round(value, 3)


def histogram(samples_ms: list[float], bins: int = 24) -> list[list[float]]:
    """[[from_ms, to_ms, count], ...] over bins of equal ratio (latency is skewed: equal
    widths would put nearly every sample in the first bin)."""
    positive = [max(ms, 0.001) for ms in samples_ms]
    if not positive:
        return []
    low, high = min(positive), max(positive)
    if high <= low * 1.0001:
        return [[round(low, 3), round(high, 3), len(positive)]]
    ratio = (high / low) ** (1 / bins)
    edges = [low * ratio ** i for i in range(bins + 1)]
    counts = [0] * bins
    for ms in positive:
        index = min(bins - 1, int(math.log(ms / low) / math.log(ratio)))
        counts[index] += 1
    return [[round(edges[i], 3), round(edges[i + 1], 3), counts[i]] for i in range(bins)]
