"""The report's charts: static SVG drawn by matplotlib (README "Report" says why), each
series tagged with an id (`gid`) so a browser test can find its elements and points.

Pure computation, but kept apart from plan/: matplotlib costs about half a second to
import, paid by `report` only.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

PERCENTILE_STYLE = {"p50_ms": ("p50", "-"), "p95_ms": ("p95", "--"), "p99_ms": ("p99", ":")}
METRIC_TITLE = {"nginx": "nginx /health (from the host)",
                "backend": "backend /health (direct, in-network)",
                "proxy_overhead": "proxy overhead (nginx minus direct)"}


def _pyplot():
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "tr4ctl",
                                "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    import matplotlib.pyplot as plt

    return plt


def latency_over_time(series: dict[str, list[tuple[datetime, dict[str, float]]]],
                      limits: dict[str, dict[str, float]],
                      marks: list[tuple[datetime, str]]) -> str:
    """One panel per path: p50/p95/p99 over time, the baseline's limits dashed, releases
    as vertical lines."""
    plt = _pyplot()
    metrics = [metric for metric in series if series[metric]]
    figure, axes = plt.subplots(len(metrics), 1, figsize=(9, 2.6 * len(metrics)),
                                squeeze=False, sharex=True)
    for axis, metric in zip(axes[:, 0], metrics, strict=True):
        points = series[metric]
        times = [moment for moment, _ in points]
        for key, (label, style) in PERCENTILE_STYLE.items():
            values = [figures.get(key) for _, figures in points]
            if any(value is not None for value in values):
                line, = axis.plot(times, values, style, marker="o", markersize=3, label=label)
                line.set_gid(f"series-{metric}-{label}")
        for key, limit in (limits.get(metric) or {}).items():
            label = PERCENTILE_STYLE.get(key, (key,))[0]
            rule = axis.axhline(limit, color="tab:red", linewidth=0.8, linestyle="-.",
                                label=f"{label} limit")
            rule.set_gid(f"limit-{metric}-{label}")
        _mark_releases(axis, marks)
        axis.set_title(METRIC_TITLE.get(metric, metric), loc="left")
        # Log scale: a 1 ms measurement and a 121 ms limit both stay readable.
        axis.set_yscale("log")
        axis.set_ylabel("ms (log scale)")
        axis.legend(loc="upper left", fontsize=7, ncols=3)
    _dates(figure.axes[0])
    return _svg(plt, figure)


def distribution(histogram: list[list[float]], title: str) -> str:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 2.6))
    lefts = [low for low, _, _ in histogram]
    widths = [high - low for low, high, _ in histogram]
    counts = [count for _, _, count in histogram]
    bars = axis.bar(lefts, counts, width=widths, align="edge", edgecolor="white")
    for index, bar in enumerate(bars):
        bar.set_gid(f"distribution-bin-{index}")
    axis.set_xscale("log")
    axis.set_xlabel("ms (log scale)")
    axis.set_ylabel("requests")
    axis.set_title(title, loc="left")
    return _svg(plt, figure)


def bench_over_time(points: list[tuple[datetime, float, int]],
                    marks: list[tuple[datetime, str]]) -> str:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 2.6))
    times = [moment for moment, _, _ in points]
    line, = axis.plot(times, [rps for _, rps, _ in points], marker="o", markersize=3,
                      label="requests/s")
    line.set_gid("series-bench-rps")
    failures = axis.twinx()
    failed, = failures.plot(times, [count for _, _, count in points], color="tab:red",
                            marker="x", linestyle="none", label="failed")
    failed.set_gid("series-bench-failed")
    failures.set_ylabel("failed requests")
    failures.set_ylim(bottom=0)
    _mark_releases(axis, marks)
    axis.set_ylabel("requests/s")
    axis.set_title("bench: throughput and failures", loc="left")
    _dates(figure.axes[0])
    return _svg(plt, figure)


def backups_over_time(points: list[tuple[datetime, int]]) -> str:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 2.2))
    line, = axis.plot([moment for moment, _ in points],
                      [size / 1024 / 1024 for _, size in points], marker="s", markersize=4)
    line.set_gid("series-backups")
    axis.set_ylabel("MiB")
    axis.set_title("backups: size of each archive", loc="left")
    _dates(figure.axes[0])
    return _svg(plt, figure)


def _dates(axis) -> None:
    from matplotlib import dates

    locator = dates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))


def _mark_releases(axis, marks: list[tuple[datetime, str]]) -> None:
    for index, (moment, label) in enumerate(marks):
        rule = axis.axvline(moment, color="tab:purple", linewidth=0.8, alpha=0.7)
        rule.set_gid(f"release-{index}")
        axis.annotate(label, (moment, 1), xycoords=("data", "axes fraction"), fontsize=7,
                      rotation=90, va="top", ha="right", color="tab:purple")


def _svg(plt, figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)  # RDF, dates
    return text[text.index("<svg"):]
