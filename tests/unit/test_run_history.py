"""The run history: lines of every format this tr4ctl knows are read, others skipped and
counted, the file stays under its bound; `report` without history is exit 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tr4ctl.errors import BadInput
from tr4ctl.plan.baseline import OLD_DEPLOYMENT
from tr4ctl.plan.history import (
    KEEP_BYTES,
    MAX_BYTES,
    entry_line,
    health_entry,
    parse_history,
    trimmed,
)
from tr4ctl.plan.latency import histogram
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.report import checklist_changes, parse_since, report_data
from tr4ctl.project.run_history import append_run, history_file, read_runs

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 5, 0, 40, tzinfo=UTC)
# A line as the first history format wrote it (kept verbatim: an upgrade must read it).
V1_LINE = ('{"baseline":"old deployment","checks":[["nginx /health","pass"]],"exit_code":0,'
           '"format_version":1,"gunicorn_workers":1,"kind":"health","latency_ms":{"nginx":'
           '{"max_ms":2.0,"mean_ms":1.0,"p50_ms":0.9,"p95_ms":1.3,"p99_ms":1.9}},"limits_ms":'
           '{"nginx":{"p50_ms":121.0,"p95_ms":121.0}},"status":"pass",'
           '"time":"2026-12-05T00:37:20+00:00"}')


def health_document(p50: float) -> dict:
    return {"status": "pass", "exit_code": 0, "checks": [{"name": "nginx /health",
                                                          "verdict": "pass"}],
            "data": {"latency_ms": {"nginx": {"samples": 5, "p50_ms": p50, "p95_ms": p50 * 2,
                                              "p99_ms": p50 * 3, "max_ms": p50 * 4,
                                              "mean_ms": p50}}, "gunicorn_workers": 1}}


def test_a_first_format_line_is_read_and_newer_or_damaged_lines_are_counted_not_read():
    newer = json.dumps({"format_version": 99, "kind": "health", "time": NOW.isoformat()})
    lines = [V1_LINE, newer, "{not json", "[1, 2]", ""]
    history = parse_history("\n".join(lines))
    assert [entry["kind"] for entry in history.entries] == ["health"]
    assert history.skipped == 3
    data = report_data(history, [])
    assert data.latency["nginx"][0][1]["p95_ms"] == 1.3 and data.limits["nginx"]["p50_ms"] == 121


def test_a_health_entry_keeps_the_figures_and_the_baselines_limits():
    entry = health_entry(NOW, health_document(1.0), OLD_DEPLOYMENT)
    assert entry["latency_ms"]["nginx"] == {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
                                            "max_ms": 4.0, "mean_ms": 1.0}
    assert entry["limits_ms"]["nginx"] == {"p50_ms": 121.0, "p95_ms": 121.0}
    assert parse_history(entry_line(entry)).entries == [entry]


def test_the_file_stays_under_its_bound_keeping_the_newest(tmp_path):
    paths = ProjectPaths(tmp_path)
    paths.rendered_dir.mkdir()
    line = entry_line(health_entry(NOW, health_document(1.0), OLD_DEPLOYMENT))
    count = MAX_BYTES // len(line) + 1
    history_file(paths).write_text(line * count)
    newest = health_entry(NOW + timedelta(hours=1), health_document(7.0), OLD_DEPLOYMENT)
    append_run(paths, newest)
    size = history_file(paths).stat().st_size
    assert size <= KEEP_BYTES
    assert read_runs(paths).entries[-1] == newest
    assert trimmed(["a\n", "bb\n", "ccc\n"], keep_bytes=7) == ["bb\n", "ccc\n"]


def test_a_folder_with_no_project_gets_no_history(tmp_path):
    append_run(ProjectPaths(tmp_path), health_entry(NOW, health_document(1.0), OLD_DEPLOYMENT))
    assert not (tmp_path / ".tr4ctl").exists()


def test_histogram_bins_are_of_equal_ratio_and_count_every_sample():
    bins = histogram([1.0, 2.0, 4.0, 8.0, 100.0], bins=4)
    assert sum(count for _, _, count in bins) == 5
    assert bins[0][0] == 1.0 and bins[-1][1] == 100.0
    assert histogram([]) == [] and histogram([3.0, 3.0]) == [[3.0, 3.0, 2]]


def test_checklist_changes_name_what_moved():
    before = {"checks": [["a", "pass"], ["b", "fail"]]}
    after = {"checks": [["a", "fail"], ["b", "fail"], ["c", "pass"]]}
    assert checklist_changes(before, after) == [("a", "pass", "fail"), ("c", "-", "pass")]


@pytest.mark.parametrize("text", ["7", "d", "0d", "-1h", "3y", "1.5h"])
def test_since_is_a_number_and_a_unit(text):
    with pytest.raises(BadInput):
        parse_since(text)
    assert parse_since("12h") == timedelta(hours=12)


def test_report_without_history_is_exit_3_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), "config",
                    "set", "TR4CTL_HTTP_PORT=18080"], check=True, capture_output=True,
                   env=env, cwd=REPO)
    result = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path),
                             "report", "--output", str(tmp_path / "r.html")],
                            capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "tr4ctl health" in lines[0], result.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("name", [".env", "missing-folder/r.html", "notes.txt"])
def test_report_never_replaces_another_file_nor_makes_a_folder(tmp_path, name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), "config",
                    "set", "TR4CTL_HTTP_PORT=18080"], check=True, capture_output=True,
                   env=env, cwd=REPO)
    (tmp_path / ".tr4ctl" / "history.jsonl").write_text(V1_LINE + "\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    result = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path),
                             "report", "--output", str(tmp_path / name)],
                            capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert not (tmp_path / "missing-folder").exists()


def test_a_report_tr4ctl_wrote_may_be_replaced(tmp_path):
    from tr4ctl.actions.report import check_output

    earlier = tmp_path / "report.html"
    earlier.write_text('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                       '<meta name="generator" content="tr4ctl report">\n')
    check_output(earlier)  # no refusal
    check_output(tmp_path / "new.html")
