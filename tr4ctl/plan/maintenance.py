"""Maintenance mode: what nginx answers while it is on (503 with Retry-After, an HTML page
for browsers and JSON for API clients, on every path but /health and the ACME
challenge), and the operator's message made safe for both. Pure.

The message is hostile input: it lands in an HTML page, a JSON document, and an nginx
string literal (where `$` would name a variable and a quote would end the string). Every
character that means something in any of the three is written as an escape, and its
length is capped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tr4ctl.errors import BadInput

STATE_KEY = "maintenance"
MAX_MESSAGE = 300
RETRY_AFTER_SECONDS = 120
DEFAULT_MESSAGE = "Down for maintenance; back shortly."


@dataclass(frozen=True)
class Maintenance:
    message: str
    since: str  # UTC, ISO 8601

    def as_state(self) -> dict[str, str]:
        return {"message": self.message, "since": self.since}


def check_message(text: str | None) -> str:
    """The message as stored: control characters become spaces, runs of white space
    one; longer than MAX_MESSAGE or empty is refused (exit 2)."""
    if text is None:
        return DEFAULT_MESSAGE
    import unicodedata  # here: every `status` reads this module's record, few set a message

    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise BadInput("--message is empty", "give a sentence, or leave --message out for "
                       "the default")
    if len(cleaned) > MAX_MESSAGE:
        raise BadInput(f"--message is {len(cleaned)} characters, more than {MAX_MESSAGE}",
                       f"shorten it to at most {MAX_MESSAGE} characters")
    return cleaned


def from_state(value: Any) -> Maintenance | None:
    """The state file's record, or None (off). A record this version cannot read is off,
    never a crash: the state file may come from a newer tr4ctl."""
    if not isinstance(value, dict) or not isinstance(value.get("message"), str):
        return None
    try:
        message = check_message(value["message"])
    except BadInput:
        message = DEFAULT_MESSAGE
    return Maintenance(message, str(value.get("since") or ""))


def _nginx_literal(text: str) -> str:
    """For a single-quoted nginx string: its backslashes doubled (nginx unescapes `\\\\`);
    quotes and `$` never reach here (escaped by the callers)."""
    assert "'" not in text and "$" not in text
    return text.replace("\\", "\\\\")


def html_body(message: str) -> str:
    import html  # here: html.entities is the costliest import of a plain `status`

    escaped = html.escape(message, quote=True).encode("ascii", "xmlcharrefreplace").decode()
    escaped = escaped.replace("$", "&#36;").replace("\\", "&#92;")
    page = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Maintenance</title></head><body><h1>Down for maintenance</h1>"
            f"<p>{escaped}</p></body></html>\n")
    return _nginx_literal(page)


def json_body(message: str) -> str:
    document = json.dumps({"error": "maintenance", "detail": message,
                           "retry_after": RETRY_AFTER_SECONDS}, ensure_ascii=True)
    document = document.replace("$", "\\u0024").replace("'", "\\u0027")
    return _nginx_literal(document)


def template_value(maintenance: Maintenance | None) -> dict[str, Any] | bool:
    """What the nginx template gets as `maintenance` (False: off)."""
    if maintenance is None:
        return False
    return {"html": html_body(maintenance.message), "json": json_body(maintenance.message),
            "retry_after": RETRY_AFTER_SECONDS}
