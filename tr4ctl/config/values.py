"""Rules for one value, as pure functions: each takes the text from the environment or
.env and returns the typed value, or raises ValueError with the rule in words."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

# The workstation's rules live with its keys (read there without this module).
from tr4ctl.config.workstation import host_path, host_path_problem, path, ssh_address  # noqa: F401

Parser = Callable[[str], Any]

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_DURATION = re.compile(r"^(\d{1,9})(ms|s|m)$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_URL = re.compile(r"^https?://([^\s/:@]+)(?::(\d{1,5}))?(/\S*)?$")
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


# Docker reads an interval of 0 as its default, 30 s, and refuses one under 1 ms; the
# stack's `up` waits for healthy (30 retries): 100 ms to 60 s keeps both meaningful.
HEALTHCHECK_MS = (100, 60_000)
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000}


def duration(value: str) -> str:
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError("use a duration such as 1s or 500ms")
    low, high = HEALTHCHECK_MS
    number = int(match.group(1))
    if not low <= number * _UNIT_MS[match.group(2)] <= high:
        raise ValueError(f"must be from {low}ms to {high // 1000}s (Docker takes 0 as 30s "
                         "and refuses less than 1ms)")
    return value.strip()


_LOG_SIZE = re.compile(r"^([1-9][0-9]{0,6})([kmg])$")
_LOG_UNIT_KB = {"k": 1, "m": 1024, "g": 1024 * 1024}


def log_size(value: str) -> str:
    """json-file's max-size: `10m`, lower case, from 1k to 1g (Docker takes bytes with
    no unit too; a unit is required here so that `10` is not read as ten bytes)."""
    match = _LOG_SIZE.match(value.strip().lower())
    if not match or not 1 <= int(match.group(1)) * _LOG_UNIT_KB[match.group(2)] <= 1024 * 1024:
        raise ValueError("use a size such as 10m, 500k or 1g (from 1k to 1g)")
    return value.strip().lower()


def log_size_bytes(value: str) -> int:
    """Bytes in a size log_size accepted: 100k -> 102400 (Docker counts in 1024s)."""
    match = _LOG_SIZE.match(value)
    assert match, value
    return int(match.group(1)) * _LOG_UNIT_KB[match.group(2)] * 1024


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
    from tr4ctl import rules

    match = _URL.match(url)
    if not match:
        return "not an http(s) URL"
    if len(url) > rules.MAX_URL_CHARS:
        return f"a URL of {len(url)} characters, more than {rules.MAX_URL_CHARS}"
    port = match.group(2)
    if port and not 0 < int(port) <= 65535:
        return "its port is not 1-65535"
    return rules.host_name_problem(match.group(1))


def url(value: str) -> str:
    problem = url_problem(value.strip())
    if problem:
        raise ValueError(problem)
    return value.strip()


# Docker's own limits on a reference (distribution/reference): a name of 255 characters,
# a tag of 128; a registry host is a host name (DNS's limits).
MAX_IMAGE_NAME_CHARS = 255
MAX_TAG_CHARS = 128


def backup_schedule(value: str) -> str:
    from tr4ctl.plan.offsite import parse_schedule

    parse_schedule(value)
    return " ".join(value.split()).lower()


def backup_keep(value: str) -> str:
    from tr4ctl.plan.offsite import keep_flags

    keep_flags(value)
    return value.strip().lower()


def backup_target(value: str) -> str:
    from tr4ctl.plan.offsite import parse_target

    parse_target(value)
    return value.strip()


def registry(value: str) -> str:
    from tr4ctl.plan.registry import registry_problem

    problem = registry_problem(value)
    if problem:
        raise ValueError(problem)
    return value.strip().rstrip("/")


def image(value: str) -> str:
    from tr4ctl import rules

    reference = value.strip()
    if not _IMAGE.match(reference):
        raise ValueError("not an image reference (name[:tag])")
    name = reference.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    name = name[: len(name) - len(tag) - 1] if tag else name
    if len(name) > MAX_IMAGE_NAME_CHARS:
        raise ValueError(f"an image name of {len(name)} characters, more than Docker's "
                         f"{MAX_IMAGE_NAME_CHARS}")
    if len(tag) > MAX_TAG_CHARS:
        raise ValueError(f"a tag of {len(tag)} characters, more than Docker's {MAX_TAG_CHARS}")
    first = name.split("/", 1)[0]
    registry = "/" in name and ("." in first or ":" in first or first == "localhost")
    if registry and (problem := rules.host_name_problem(first.split(":", 1)[0])):
        raise ValueError(f"its registry: {problem.removeprefix('its ')}")
    return reference


# -- the backend's settings: the backend's own rules (backend/app/rules.py) ------------
def _checked(problem_of: Callable[[str], str | None], convert: Parser = text) -> Parser:
    def parse(value: str) -> Any:
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return convert(value)
    return parse


def backend_integer(name: str) -> Parser:
    # The rules are loaded at the first value parsed, not when keys.py builds its table:
    # a forwarded command (remote/forward.py) reads four keys and never loads them.
    def problem(value: str) -> str | None:
        from tr4ctl import rules

        return rules.integer_problem(name, value)

    return _checked(problem, lambda v: int(v.strip()))


def boolean(value: str) -> bool:
    from tr4ctl import rules

    if problem := rules.boolean_problem(value):
        raise ValueError(problem)
    return value.strip().lower() in rules.TRUE_WORDS


def choice(*allowed: str) -> Parser:
    def parse(value: str) -> str:
        if value.strip() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value.strip()
    return parse


def cors_origins(value: str) -> list[str]:
    from tr4ctl import rules

    origins = rules.cors_origins(value)
    for origin in origins:
        if problem := rules.cors_origin_problem(origin):
            raise ValueError(problem)
    return origins


def host(value: str) -> str:
    from tr4ctl import rules

    if problem := rules.host_problem(value):
        raise ValueError(problem)
    return value.strip()


def database_url(value: str) -> str:
    from tr4ctl import rules

    if problem := rules.database_url_problem(value.strip()):
        raise ValueError(problem)
    return value.strip()


def container_path(value: str) -> str:
    """A path inside the backend's container."""
    if not value.startswith("/"):
        raise ValueError("must be an absolute path inside the container")
    return value


def positive_seconds(high: float) -> Parser:
    def parse(value: str) -> float:
        number = seconds(0)(value)
        if not 0 < number <= high:
            raise ValueError(f"must be more than 0 and at most {high:g}")
        return number
    return parse


def acme_url(value: str) -> str:
    server = url(value)
    if not server.startswith("https://"):
        raise ValueError("ACME directories are served over HTTPS (https://...)")
    return server


def control_character(value: str) -> str | None:
    """The first control character in a value, named (a newline would start a new
    line, and so a new setting, in .env)."""
    for char in value:
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            return {"\n": "a newline", "\r": "a carriage return", "\x00": "a NUL"}.get(
                char, f"control character {ord(char):#04x}")
    return None


def account_email(value: str) -> str:
    """An account's email, by the backend's own rule."""
    from tr4ctl import rules

    address = rules.normalise_email(value)
    if problem := rules.email_problem(address):
        raise ValueError(problem)
    return address


def environment(value: str) -> str:
    from tr4ctl import rules

    return choice(*rules.ENVIRONMENTS)(value)
