"""`tr4ctl report` opened in a real browser (Debian's Chromium, headless): the charts are
there with their data points, nothing on the console, no request leaves the file; a
screenshot stays in build/test-output for a person to look at."""

from __future__ import annotations

import json
import re
from pathlib import Path

from browser import descendants, render

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "build" / "test-output"


def test_the_report_renders_its_charts_offline_in_a_real_browser(dev_stack, tmp_path):
    history = dev_stack.project_dir / ".tr4ctl" / "history.jsonl"
    before = len(history.read_text().splitlines()) if history.exists() else 0
    for _ in range(2):
        dev_stack.tr4ctl("health", "--samples", "5", check=False)
    dev_stack.tr4ctl("bench", "--requests", "200", "--concurrency", "2")
    dev_stack.tr4ctl("verify", check=False)
    lines = history.read_text().splitlines()
    assert len(lines) == before + 4 and oct(history.stat().st_mode & 0o777) == "0o600"
    healths = sum(1 for line in lines if json.loads(line)["kind"] == "health")

    page = tmp_path / "report.html"
    written = dev_stack.json("report", "--output", str(page))["data"]
    assert set(written["charts"]) >= {"latency", "distribution", "bench"}
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shown = render(page, tmp_path, screenshot=OUTPUT / "report.png")

    assert shown.console == [], shown.console  # no error, no warning, nothing
    assert shown.page_requests == [], shown.page_requests  # the file asked for nothing
    for percentile in ("p50", "p95", "p99"):
        assert descendants(shown.dom, f"series-nginx-{percentile}", "use") == healths
    assert descendants(shown.dom, "limit-nginx-p95", "path") == 1  # the baseline's limit
    assert shown.dom.count('id="distribution-bin-') >= 1
    assert descendants(shown.dom, "series-bench-rps", "use") >= 1
    assert "verify-table" in shown.dom and "state-table" in shown.dom
    assert (OUTPUT / "report.png").stat().st_size > 10_000
    text = page.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?https?:""",
                         text)
