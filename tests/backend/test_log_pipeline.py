"""The logging pipeline itself: queue, writer thread, output, fork."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest
from app.core import logging as app_logging
from app.core.logging import (
    JsonFormatter,
    configure_logging,
    flush_logs,
)

log = logging.getLogger("app.test")


class BlockingStream:
    """A log output that hangs in write() until released, like a pipe nobody drains."""

    def __init__(self, hold_seconds: float = 30) -> None:
        self.hold_seconds = hold_seconds
        self.entered = threading.Event()
        self.release = threading.Event()
        self.chunks: list[str] = []

    def write(self, text: str) -> None:
        self.entered.set()
        self.release.wait(self.hold_seconds)
        self.chunks.append(text)

    def flush(self) -> None:
        pass

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in "".join(self.chunks).splitlines()]


def file_entries(tmp_path) -> list[dict]:
    assert flush_logs()
    text = (tmp_path / "stdout.log").read_text()
    return [json.loads(line) for line in text.splitlines()]


def stdout_file(tmp_path):
    """A stdout with a descriptor (the path the server takes), appended to like a pipe."""
    return (tmp_path / "stdout.log").open("a", buffering=1)


def test_a_blocked_log_output_does_not_delay_requests(client):
    stream = BlockingStream()
    configure_logging(client.app.state.settings, stream=stream)
    try:
        client.get("/api/auth/me", headers={"X-Request-ID": "first"})
        assert stream.entered.wait(5), "the writer thread never wrote"
        # The writer thread now hangs in write(); requests must not wait for it.
        started = time.monotonic()
        for _ in range(5):
            response = client.get("/api/auth/me", headers={"X-Request-ID": "while-blocked"})
            assert response.status_code == 401
        elapsed = time.monotonic() - started
    finally:
        stream.release.set()
    assert elapsed < 3, f"5 requests took {elapsed:.1f}s behind a blocked log output"
    assert flush_logs()
    ids = [e["request_id"] for e in stream.entries() if e["msg"] == "request"]
    assert ids == ["first"] + ["while-blocked"] * 5


def test_without_the_queue_a_blocked_output_would_delay_the_caller(make_settings):
    # The same output in the synchronous mode (manage.py's): the caller waits. This is
    # what the test above would see if requests logged without the queue.
    stream = BlockingStream(hold_seconds=0.5)
    configure_logging(make_settings(), stream=stream, background=False)
    started = time.monotonic()
    log.warning("synchronous")
    assert time.monotonic() - started >= 0.45
    assert [e["msg"] for e in stream.entries()] == ["synchronous"]


def test_a_full_queue_drops_and_reports_instead_of_blocking(make_settings, monkeypatch):
    monkeypatch.setattr(app_logging, "QUEUE_SIZE", 3)
    stream = BlockingStream()
    configure_logging(make_settings(), stream=stream)
    try:
        log.info("r")
        assert stream.entered.wait(5)
        started = time.monotonic()
        for _ in range(20):
            log.info("r")
        assert time.monotonic() - started < 1
    finally:
        stream.release.set()
    assert flush_logs()
    entries = stream.entries()
    written = sum(e["msg"] == "r" for e in entries)
    reports = [e for e in entries if e["msg"].startswith("log records dropped")]
    assert len(reports) == 1 and reports[0]["level"] == "WARNING"
    assert written + reports[0]["dropped"] == 21 and written >= 4


def test_each_record_is_formatted_once(make_settings, tmp_path, monkeypatch):
    formatted: list[str] = []
    original = JsonFormatter.format

    def counting(self, record):
        formatted.append(record.getMessage())
        return original(self, record)

    monkeypatch.setattr(JsonFormatter, "format", counting)
    configure_logging(make_settings(), stream=stdout_file(tmp_path))
    log.info("once")
    assert [e["msg"] for e in file_entries(tmp_path)] == ["once"]
    assert formatted == ["once"]


def test_the_message_is_fixed_when_logged_and_the_line_keeps_extras_and_exc(
    make_settings, tmp_path
):
    configure_logging(make_settings(), stream=stdout_file(tmp_path))
    items = ["a"]
    log.info("items %s", items)
    items.append("b")
    try:
        raise RuntimeError("token Bearer abc.def.ghi")
    except RuntimeError:
        log.exception("failed for %s", "Bearer xyz", extra={"password": "p", "request_id": "r1"})
    first, second = file_entries(tmp_path)
    assert first["msg"] == "items ['a']"
    assert second["msg"] == "failed for Bearer [redacted]"
    assert second["password"] == "[redacted]" and second["request_id"] == "r1"
    assert "RuntimeError" in second["exc"] and "abc.def.ghi" not in second["exc"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_through_its_own_thread(make_settings, tmp_path):
    # gunicorn forks its workers from a master whose logging thread does not survive
    # the fork: the child must get one of its own, and must not repeat the parent's lines.
    configure_logging(make_settings(), stream=stdout_file(tmp_path))
    log.info("before fork")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            log.info("from the child")
            code = 0 if flush_logs(5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.info("parent after fork")
    messages = [e["msg"] for e in file_entries(tmp_path)]
    assert sorted(messages) == ["before fork", "from the child", "parent after fork"]
