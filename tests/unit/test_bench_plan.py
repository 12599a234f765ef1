"""bench's bounds and its arithmetic."""

import pytest

from tr4ctl.errors import BadInput
from tr4ctl.plan.bench import BenchLimits, tally, validate_path


def test_limits_are_capped():
    BenchLimits("/health", 64, 60.0, None)
    BenchLimits("/health", 1, None, 100_000)
    for args in [("/h", 65, 1.0, None), ("/h", 0, 1.0, None), ("/h", 1, 61.0, None),
                 ("/h", 1, None, 100_001), ("/h", 1, 1.0, 10), ("/h", 1, None, None)]:
        with pytest.raises(BadInput):
            BenchLimits(*args)


def test_a_requests_run_still_has_a_time_cap():
    assert BenchLimits("/h", 1, None, 10).time_budget == 60.0
    assert BenchLimits("/h", 1, 2.5, None).time_budget == 2.5


@pytest.mark.parametrize("path", ["health", "http://example.com/", "//example.com/x",
                                  "/a b", "/" + "x" * 2001])
def test_only_paths_on_the_stack_are_accepted(path):
    with pytest.raises(BadInput):
        validate_path(path)


def test_tally_counts_statuses_errors_and_rate():
    limits = BenchLimits("/health", 2, 1.0, None)
    outcomes = [("200", 1.0), ("200", 3.0), ("502", 2.0), ("ConnectError", None)]
    result = tally("http://127.0.0.1:1/health", limits, 2.0, outcomes, "duration")
    assert result.completed == 4 and result.rps == 2.0
    assert result.statuses == {"200": 2, "502": 1}
    assert result.errors == {"HTTP 502": 1, "ConnectError": 1}
    assert result.failed == 2
    assert result.latency.samples == 3 and result.latency.p50 == 2.0
    doc = result.as_dict()
    assert doc["requests_per_second"] == 2.0 and doc["latency_ms"]["p50_ms"] == 2.0
