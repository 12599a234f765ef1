"""Baselines: the old deployment's figures, files saved by --save-baseline, tolerance."""

import json

import pytest

from tr4ctl.errors import BadInput
from tr4ctl.plan.baseline import (
    LATENCY_METRICS,
    OLD_DEPLOYMENT,
    Tolerance,
    baseline_from_measurements,
    parse_baseline,
)
from tr4ctl.plan.latency import summarize


def test_old_deployment_figures_come_from_the_operators_notes():
    assert OLD_DEPLOYMENT.latency["backend"]["p50"] == 50.0
    assert OLD_DEPLOYMENT.latency["proxy_overhead"]["p50"] == 10.0
    assert OLD_DEPLOYMENT.latency["nginx"]["p50"] == 60.0  # backend + proxy
    assert OLD_DEPLOYMENT.startup_seconds == (15.0, 20.0)
    assert OLD_DEPLOYMENT.gunicorn_workers == 1


def test_tolerance_is_stated_and_applied():
    tolerance = Tolerance()
    assert tolerance.limit(50.0) == 101.0
    assert tolerance.limit(0.001) == pytest.approx(1.002)
    assert tolerance.describe() == "p50 and p95 may reach 2x the baseline + 1 ms"
    assert tolerance.as_dict()["gated"] == ["p50", "p95"]


def measured():
    return {metric: summarize([1.0, 2.0, 3.0, 4.0]) for metric in LATENCY_METRICS}


def test_saved_baseline_round_trips_through_its_document():
    saved = baseline_from_measurements("test run", measured(), workers=1)
    text = json.dumps(saved.as_document())
    loaded = parse_baseline(text, "b.json")
    assert loaded.latency == saved.latency
    assert loaded.tolerance == saved.tolerance
    assert loaded.gunicorn_workers == 1
    assert loaded.source == "test run"


def test_saving_needs_every_path():
    partial = measured()
    del partial["proxy_overhead"]
    with pytest.raises(BadInput, match="proxy_overhead"):
        baseline_from_measurements("x", partial, workers=1)


def document(**changes):
    doc = baseline_from_measurements("x", measured(), workers=1).as_document()
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize("text, words", [
    ("{not json", "not JSON"),
    (json.dumps({"format": "something-else"}), "not a tr4ctl-baseline/1"),
    (document(latency_ms={"nginx": {}}), "latency_ms.nginx.p50"),
    (document(latency_ms=None), "no latency_ms"),
    (document(tolerance={"ratio": 0.5}), "tolerance.ratio"),
])
def test_bad_baseline_files_are_bad_input_naming_the_problem(text, words):
    with pytest.raises(BadInput, match=words.replace(".", r"\.")) as caught:
        parse_baseline(text, "b.json")
    assert "b.json" in caught.value.message
    assert "--save-baseline" in caught.value.hint


def test_a_boolean_is_not_a_figure():
    doc = json.loads(document())
    doc["latency_ms"]["backend"]["p95"] = True
    with pytest.raises(BadInput, match="latency_ms.backend.p95"):
        parse_baseline(json.dumps(doc), "b.json")


def test_a_file_may_carry_its_own_tolerance():
    loaded = parse_baseline(document(tolerance={"ratio": 1.5, "slack_ms": 0.25}), "b.json")
    assert loaded.tolerance.limit(10.0) == 15.25


def test_a_negative_overhead_is_saved_as_zero():
    figures = measured()
    # health never measures one (paired_overhead floors each pair); a summary built from
    # older figures could still hold one.
    figures["proxy_overhead"] = summarize([-0.2, -0.3])
    saved = baseline_from_measurements("x", figures, workers=1)
    assert saved.latency["proxy_overhead"] == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    parse_baseline(json.dumps(saved.as_document()), "b.json")  # loads again
