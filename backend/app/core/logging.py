"""JSON log lines on stdout, and nowhere else: the engine keeps them, rotated at the
stack's TR4CTL_LOG_MAX_SIZE (a file of our own here, shared by gunicorn's workers, could
lose a generation when two of them crossed its limit together).

In the server, a log call only queues the record (QueueHandler): a writer thread of the
same process (QueueListener) formats it once and writes it to stdout, so a request never
waits on a pipe that dockerd drains. The thread handles a burst at a time, with one write
for the whole burst.

Threads do not survive fork, so each process needs its own: configure_logging() starts
one (gunicorn's workers, in create_app), and a fork hook starts a fresh one in any child
of a process that had one. gunicorn's master and the manage commands write at once
instead (background=False).
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import os
import queue
import re
import select
import sys
import threading
import time
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from app.core.config import Settings

# Bounded so that an output which stops draining (a stuck stdout pipe) costs dropped
# lines, counted and reported, instead of unbounded memory or a blocked request.
QUEUE_SIZE = 10_000
# A long burst is written in pieces rather than held until the queue runs dry.
MAX_PENDING_LINES = 256
# After a quiet spell the writer thread waits this long before handling the first record,
# so that it wakes once per burst, not once per record: measured under load, waking per
# record cost the server more than the formatting and writing together (each wake-up
# takes the GIL from the event loop). Lines reach the outputs at most this much later.
BATCH_SECONDS = 0.05
# Writes to a pipe up to this size are atomic: gunicorn's master and other workers
# share the same stdout, and their lines must not land inside ours.
PIPE_CHUNK = getattr(select, "PIPE_BUF", 4096)

# Standard LogRecord attributes, plus uvicorn's ANSI-coloured duplicate of the message.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_SENSITIVE_KEYS = re.compile(r"pass|secret|token|authorization|hash|cookie", re.IGNORECASE)
# Defence in depth: even if someone logs one by mistake, these never reach a line.
_SENSITIVE_VALUES = [
    (re.compile(r"\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}"), "[bcrypt-hash]"),
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"), "[jwt]"),
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SENSITIVE_VALUES:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key.startswith("_"):
                continue
            entry[key] = "[redacted]" if _SENSITIVE_KEYS.search(key) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _report_output_failure(what: str, exc: OSError) -> None:
    # The log outputs themselves failed: stderr is all that is left, and it may be gone too.
    try:
        sys.stderr.write(f"logging: cannot write to {what}: {exc}\n")
    except Exception:  # noqa: BLE001, S110 - nothing else to tell
        pass


class _StreamOutput:
    """stdout, or the stream given: through its file descriptor when it has one, in
    whole lines and at most PIPE_CHUNK bytes per write. The descriptor path takes no
    Python-level lock (the stream's buffer lock, if held by this thread when another
    forks, would stay held in the child); the image runs unbuffered (PYTHONUNBUFFERED),
    so nothing written through the stream object waits in its buffer meanwhile."""

    def __init__(self, stream) -> None:
        self.stream = stream
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            # pytest's capture and other in-memory streams have no descriptor.
            self.fd = None
        self.name = getattr(stream, "name", "stdout")

    def write_lines(self, lines: list[bytes]) -> None:
        if self.fd is None:
            self.stream.write(b"".join(lines).decode("utf-8"))
            self.stream.flush()
            return
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) > PIPE_CHUNK:
                _write_all(self.fd, b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            _write_all(self.fd, b"".join(chunk))



class _OwnHandler:
    """Marks handlers installed here so that reconfiguring replaces instead of stacking."""


class _LineWriter(_OwnHandler, logging.Handler):
    """Formats each record and writes the line to the output. Collected lines are written
    on flush(): by the writer thread when it has caught up, or at once (autoflush) when
    there is no thread."""

    def __init__(self, output: _StreamOutput, *, autoflush: bool) -> None:
        super().__init__()
        self.output = output
        self.autoflush = autoflush
        self.pending: list[bytes] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a bad record must not stop the others
            self.handleError(record)
            return
        self.pending.append(line.encode("utf-8", "backslashreplace") + b"\n")
        if self.autoflush or len(self.pending) >= MAX_PENDING_LINES:
            self._write_pending()

    def flush(self) -> None:
        with self.lock:
            self._write_pending()

    def _write_pending(self) -> None:
        lines, self.pending = self.pending, []
        if not lines:
            return
        try:
            self.output.write_lines(lines)
        except (OSError, ValueError) as exc:
            _report_output_failure(self.output.name, exc)

    def close(self) -> None:
        self.flush()  # the stream is not ours: stdout outlives the logging set-up
        super().close()


class _FlushRequest:
    """Put on the queue by flush_logs(); the writer thread answers when it gets there."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Listener(QueueListener):
    def __init__(self, source: _QueueHandler) -> None:
        super().__init__(source.queue, source.writer)
        self.source = source
        self.reported_drops = 0

    def dequeue(self, block: bool):
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            if not block:
                raise
        # Caught up: write the burst collected so far, then sleep until the next record.
        self._flush()
        record = self.queue.get()
        if isinstance(record, logging.LogRecord):
            time.sleep(BATCH_SECONDS)
        return record

    def handle(self, record) -> None:
        if isinstance(record, _FlushRequest):
            self._flush()
            record.done.set()
            return
        super().handle(record)

    def _flush(self) -> None:
        dropped = self.source.dropped - self.reported_drops
        if dropped > 0:
            self.reported_drops += dropped
            warning = logging.LogRecord(
                "app.logging", logging.WARNING, __file__, 0,
                "log records dropped: the log outputs could not keep up", None, None,
            )
            warning.dropped = dropped
            self.source.writer.handle(warning)
        self.source.writer.flush()

    def enqueue_sentinel(self) -> None:
        # Past the size check: the sentinel must get in even when the queue is full.
        self.queue.put(self._sentinel)

    def stop(self) -> None:
        if self._thread is not None:
            super().stop()
        self._flush()


class _QueueHandler(_OwnHandler, QueueHandler):
    """The only handler on the root logger in the server: enqueue and return."""

    def __init__(self, writer: _LineWriter) -> None:
        # SimpleQueue (C, unbounded) with a size check in enqueue(): measured ~5 us a
        # record cheaper in the server than queue.Queue(maxsize), whose put and get take
        # Python-level locks.
        super().__init__(queue.SimpleQueue())
        self.writer = writer
        self.dropped = 0
        self.listener: _Listener | None = None
        self.start_listener()

    def start_listener(self) -> None:
        self.listener = _Listener(self)
        self.listener.start()

    def restart_in_child(self) -> None:
        # After fork, the parent's thread is gone and its queue may still hold the
        # parent's records (the parent writes those), and unwritten lines: start clean.
        self.queue = queue.SimpleQueue()
        self.writer.pending = []
        self.dropped = 0
        self.start_listener()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The writer thread formats the JSON line, so the record travels whole (extras,
        # exc_info); only the message is fixed now, as its arguments may change later.
        # A copy: other handlers (pytest's caplog) see the record as it was logged.
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        return record

    def enqueue(self, record) -> None:
        if self.queue.qsize() >= QUEUE_SIZE:
            self.dropped += 1
        else:
            self.queue.put_nowait(record)

    def flush_and_wait(self, timeout: float) -> bool:
        if self.listener is None:
            return True
        request = _FlushRequest()
        self.queue.put(request)
        return request.done.wait(timeout)

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop()
        self.writer.close()
        super().close()


def _own_queue_handlers() -> list[_QueueHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, _QueueHandler)]


def flush_logs(timeout: float = 5.0) -> bool:
    """Wait until every record logged so far is written (tests, and before exiting)."""
    return all(h.flush_and_wait(timeout) for h in _own_queue_handlers())


def _restart_listeners_in_child() -> None:
    for handler in _own_queue_handlers():
        handler.restart_in_child()


def close_logging() -> None:
    """Write what is queued, stop the writer thread, remove this module's handlers."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(handler)
        handler.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_listeners_in_child)
# Before logging's own shutdown (atexit runs last-registered first): lines still queued
# at exit are written, in every process.
atexit.register(close_logging)


def configure_logging(
    settings: Settings,
    *,
    stream=None,
    level: int | None = None,
    background: bool = True,
) -> None:
    """Replace this module's handlers on the root logger. background=False writes in the
    caller's thread, with no writer thread: for gunicorn's master (it forks) and for
    short-lived commands whose stderr order matters."""
    close_logging()
    root = logging.getLogger()
    root.setLevel(
        level if level is not None else (logging.DEBUG if settings.DEBUG_MODE else logging.INFO)
    )

    writer = _LineWriter(_StreamOutput(stream or sys.stdout), autoflush=not background)
    root.addHandler(_QueueHandler(writer) if background else writer)

    # Request lines are ours (request_log middleware); uvicorn's would duplicate them.
    logging.getLogger("uvicorn.access").disabled = True


def gunicorn_logconfig(settings: Settings) -> dict[str, Any]:
    """gunicorn's own loggers in the same JSON shape (its access log stays off)."""
    level = "DEBUG" if settings.DEBUG_MODE else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.core.logging.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": level, "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def fatal_line(message: str) -> str:
    """The single line printed when the service refuses to start."""
    return json.dumps(
        {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "CRITICAL",
            "logger": "app.startup",
            "msg": f"refusing to start: {message}",
        }
    )
