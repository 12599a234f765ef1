"""Percentiles, summaries and the proxy overhead from paired samples (pure, no Docker)."""

import pytest

from tr4ctl.plan.latency import paired_overhead, percentile, summarize


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


def test_overhead_comes_from_pairs_never_from_a_difference_of_percentiles():
    # The runs the issue saw: the direct path's tail is slower (noise), so p95/p99 of
    # nginx minus p95/p99 of direct was negative. Pair by pair nginx always adds a little.
    through = [2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 3.0]
    direct = [1.9, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 19.0]
    assert summarize(through).p99 - summarize(direct).p99 < 0
    added = paired_overhead(through, direct)
    assert added.samples == 10
    assert added.p50 == pytest.approx(0.1) and added.p99 == pytest.approx(0.1)
    assert min(added.p50, added.p95, added.p99, added.max, added.mean) >= 0


def test_a_pair_where_direct_was_slower_counts_as_no_overhead():
    added = paired_overhead([1.0, 5.0, 1.0], [3.0, 1.0, 2.0])
    assert added.samples == 3 and added.p50 == 0.0 and added.max == 4.0


def test_pairs_missing_an_answer_are_left_out():
    added = paired_overhead([1.5, None, 2.5, 3.0], [1.0, 1.0, None, 2.0])
    assert added.samples == 2 and added.max == 1.0
    assert paired_overhead([None, 2.0], [1.0, None]) is None
    assert paired_overhead([], []) is None
