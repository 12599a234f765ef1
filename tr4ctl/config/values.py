"""Rules for one value, as pure functions: each takes the text from the environment or
.env and returns the typed value, or raises ValueError with the rule in words."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Parser = Callable[[str], Any]

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_DURATION = re.compile(r"^\d+(ms|s|m)$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_URL = re.compile(r"^https?://[^\s/:@]+(:\d{1,5})?(/\S*)?$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)


def text(value: str) -> str:
    return value


def project_name(value: str) -> str:
    if not PROJECT_NAME.match(value):
        raise ValueError("use lowercase letters, digits, '-' or '_' (compose project name)")
    return value


def integer(low: int, high: int | None = None) -> Parser:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if number < low or (high is not None and number > high):
            raise ValueError(f"must be between {low} and {high}" if high is not None
                             else f"must be at least {low}")
        return number
    return parse


port = integer(1, 65535)


def seconds(low: float) -> Parser:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("must be a number of seconds") from None
        if number < low:
            raise ValueError(f"must be at least {low:g}")
        return number
    return parse


def duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("use a duration such as 1s or 500ms")
    return value


def path(value: str) -> Path:
    if not value.strip():
        raise ValueError("must be a path")
    return Path(value).expanduser()


def bind_address(value: str) -> str:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ValueError("must be an IP address of this host, 0.0.0.0 or 127.0.0.1") from None
    return value


def domain_problem(domain: str) -> str | None:
    """Why a name is not one certbot's webroot method can prove (no wildcard, no IP,
    two labels or more), or None."""
    if not domain:
        return "it is empty"
    if domain.startswith("*"):
        return "wildcards need the DNS challenge, which tr4ctl does not do"
    if len(domain) > 253:
        return "longer than 253 characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "it needs at least one dot"
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        return f"label {bad!r} is not letters, digits and inner hyphens (1-63)"
    if labels[-1].isdigit():
        return "an IP address is not a domain"
    return None


def domain(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    problem = domain_problem(name)
    if problem:
        raise ValueError(f"not a DNS name: {problem}")
    return name


def email_problem(email: str) -> str | None:
    """An address a CA will accept for expiry notices, or why not."""
    local, at, host = email.rpartition("@")
    if not at or not _EMAIL_LOCAL.match(local) or local.startswith(".") \
            or local.endswith(".") or ".." in local or domain_problem(host.lower()):
        return "not an email address"
    return None


def email(value: str) -> str:
    address = value.strip()
    problem = email_problem(address)
    if problem:
        raise ValueError(problem)
    return address


def url_problem(url: str) -> str | None:
    if not _URL.match(url):
        return "not an http(s) URL"
    return None


def url(value: str) -> str:
    problem = url_problem(value.strip())
    if problem:
        raise ValueError(problem)
    return value.strip()


def image(value: str) -> str:
    if not _IMAGE.match(value.strip()):
        raise ValueError("not an image reference (name[:tag])")
    return value.strip()
