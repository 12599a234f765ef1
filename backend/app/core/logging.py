"""JSON log lines on stdout, mirrored to LOG_DIR/app.log when that is writable."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from typing import Any

from app.core.config import Settings

LOG_FILE_NAME = "app.log"
LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5

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


class _OwnHandler:
    """Marks handlers installed here so that reconfiguring replaces instead of stacking."""


class _StdoutHandler(_OwnHandler, logging.StreamHandler):
    pass


class _FileHandler(_OwnHandler, RotatingFileHandler):
    pass


def configure_logging(
    settings: Settings, *, stream=None, to_file: bool = True, level: int | None = None
) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(
        level if level is not None else (logging.DEBUG if settings.DEBUG_MODE else logging.INFO)
    )

    formatter = JsonFormatter()
    console = _StdoutHandler(stream or sys.stdout)
    console.setFormatter(formatter)
    root.addHandler(console)

    # Request lines are ours (request_log middleware); uvicorn's would duplicate them.
    logging.getLogger("uvicorn.access").disabled = True

    if to_file:
        problem = _attach_file_handler(root, settings, formatter)
        if problem:
            root.warning("log file disabled: %s", problem)


def _attach_file_handler(
    root: logging.Logger, settings: Settings, formatter: logging.Formatter
) -> str | None:
    try:
        settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
        if not os.access(settings.LOG_DIR, os.W_OK):
            return f"{settings.LOG_DIR} is not writable"
        # Several workers share this file; a rotation by one is not seen by the others
        # until they restart (acceptable with the default single worker).
        handler = _FileHandler(
            settings.LOG_DIR / LOG_FILE_NAME,
            maxBytes=LOG_FILE_MAX_BYTES,
            backupCount=LOG_FILE_BACKUPS,
            encoding="utf-8",
        )
    except OSError as exc:
        return f"{settings.LOG_DIR}: {exc.strerror or exc}"
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return None


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
