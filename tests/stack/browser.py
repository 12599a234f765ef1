"""Debian's Chromium, headless, as a test's real browser: the page's DOM after rendering,
its console messages, the requests it made (Chromium's own NetLog) and a screenshot.

Nothing leaves the machine: every host name resolves to nothing and every proxy-able
request goes to a closed port on 127.0.0.1; Chromium's own background requests
(updates, accounts) are attempted into that void and told apart from the page's by
their initiator."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ISOLATED = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-default-apps",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0"]
BROWSER_ITSELF = "not an origin"  # the initiator of Chromium's own requests


@dataclass
class Rendered:
    dom: str
    console: list[str]
    page_requests: list[str]  # URLs the page asked for


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: scripts/test.sh installs Debian's chromium"
    return found


def render(page: Path, folder: Path, *, screenshot: Path | None = None,
           width: int = 1100, height: int = 2600) -> Rendered:
    netlog = folder / "netlog.json"
    result = subprocess.run(
        [chromium(), *ISOLATED, f"--log-net-log={netlog}", f"--user-data-dir={folder / 'profile'}",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True)
    if screenshot is not None:
        subprocess.run([chromium(), *ISOLATED, f"--user-data-dir={folder / 'profile'}",
                        f"--window-size={width},{height}", f"--screenshot={screenshot}",
                        page.resolve().as_uri()], capture_output=True, timeout=120, check=True)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(result.stdout, console, _page_requests(netlog))


def _page_requests(netlog: Path) -> list[str]:
    text = netlog.read_text()
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short by the browser's exit lacks its closing
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    starts = [event.get("params") or {} for event in log.get("events", [])
              if names.get(event.get("type")) == "URL_REQUEST_START_JOB"]
    return [params["url"] for params in starts  # a job's end event carries no URL
            if "url" in params and params.get("initiator") != BROWSER_ITSELF]


def descendants(dom: str, element_id: str, tag: str) -> int:
    """How many `tag` elements lie inside the element with that id."""
    counter = _Counter(element_id, tag)
    counter.feed(dom)
    return counter.count


class _Counter(HTMLParser):
    VOID = frozenset({"use", "path", "rect", "circle", "line", "polyline", "polygon", "meta",
                      "br", "img", "input", "link", "hr", "stop"})

    def __init__(self, element_id: str, tag: str):
        super().__init__()
        self.element_id, self.tag = element_id, tag
        self.depth = 0  # > 0 inside the element
        self.count = 0

    def handle_starttag(self, tag, attrs):
        inside = self.depth > 0
        if inside and tag == self.tag:
            self.count += 1
        if tag in self.VOID:
            return
        if inside:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1

    def handle_startendtag(self, tag, attrs):
        if self.depth > 0 and tag == self.tag:
            self.count += 1

    def handle_endtag(self, tag):
        if self.depth > 0 and tag not in self.VOID:
            self.depth -= 1
