"""Percentiles, summaries and the proxy overhead (pure, no Docker)."""

import pytest

from tr4ctl.plan.latency import overhead, percentile, summarize


def test_percentiles_interpolate_between_closest_ranks():
    samples = [float(n) for n in range(1, 101)]  # 1..100
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 100.0
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 95) == pytest.approx(95.05)
    assert percentile(samples, 99) == pytest.approx(99.01)


def test_percentile_ignores_order_and_handles_one_sample():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.5], 99) == 7.5


def test_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_p99_of_fifty_samples_is_not_simply_the_maximum():
    samples = [1.0] * 48 + [2.0, 10.0]
    summary = summarize(samples)
    assert summary.samples == 50
    assert summary.p50 == 1.0
    assert 2.0 < summary.p99 < 10.0
    assert summary.max == 10.0


def test_summary_uses_the_json_keys():
    figures = summarize([1.0, 2.0, 3.0]).as_ms()
    assert set(figures) == {"samples", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}
    assert figures["mean_ms"] == 2.0


def test_overhead_is_nginx_minus_direct_per_percentile_and_may_be_negative():
    through = summarize([2.0, 2.0, 3.0, 9.0])
    direct = summarize([1.0, 1.0, 1.5, 12.0])
    added = overhead(through, direct)
    assert added.p50 == pytest.approx(through.p50 - direct.p50)
    assert added.max == pytest.approx(-3.0)  # kept as measured, not clamped
