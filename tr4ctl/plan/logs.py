"""`docker compose logs` lines as records, for `tr4ctl logs --json` (one JSON line each)."""

from __future__ import annotations

import re

PREFIX_SEPARATOR = " | "
# Colour and cursor escapes some images write (Chroma's tracing): noise in a record.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def log_record(line: str, *, timestamps: bool) -> dict[str, str | None]:
    """`backend-1  | 2024-01-01T00:00:00.1Z message` -> service, container, time, message.

    The container name compose prints is <service>-<index>, and service names contain
    dashes themselves (certbot-renew-1), so the index is cut from the right."""
    prefix, separator, rest = line.partition(PREFIX_SEPARATOR)
    if not separator:
        return {"service": None, "container": None, "time": None, "message": _clean(line)}
    container = prefix.strip()
    service, dash, index = container.rpartition("-")
    time = None
    if timestamps:
        time, _, rest = rest.partition(" ")
    return {"service": service if dash and index.isdigit() else container,
            "container": container, "time": time, "message": _clean(rest)}


def _clean(text: str) -> str:
    return _ANSI.sub("", text).rstrip("\r\n")
