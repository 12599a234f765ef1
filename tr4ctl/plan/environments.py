"""dev and prod as data: what differs between them, and nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from tr4ctl.errors import BadInput


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class NginxMode(StrEnum):
    DEV = "dev"  # HTTP, /docs reachable
    PROD_HTTP = "prod-http"  # prod before its certificate: ACME challenge and /health only
    PROD = "prod"  # HTTPS with the domain's certificate; HTTP redirects


@dataclass(frozen=True)
class Profile:
    backend_environment: str
    debug_mode: bool
    nginx_mode: NginxMode


PROFILES = {
    Environment.DEV: Profile("development", True, NginxMode.DEV),
    Environment.PROD: Profile("production", False, NginxMode.PROD),
}


def parse_environment(value: str) -> Environment:
    try:
        return Environment(value.strip().lower())
    except ValueError:
        choices = " or ".join(f"--env {env.value}" for env in Environment)
        raise BadInput(f"unknown environment {value!r}", f"use {choices}") from None


def nginx_mode_for(env: Environment, certificate_present: bool) -> NginxMode:
    """prod without its certificate serves HTTP (and the ACME webroot) instead of crash-looping."""
    mode = PROFILES[env].nginx_mode
    if mode is NginxMode.PROD and not certificate_present:
        return NginxMode.PROD_HTTP
    return mode


# Production before its certificate, in the words nginx (its 503 body), `up`, `status`
# and `verify` use: the operator learns it from whichever they look at first.
HTTPS_PENDING_SHORT = "HTTPS is pending"
HTTPS_PENDING = (f"{HTTPS_PENDING_SHORT}: there is no certificate yet, so nginx answers only "
                 "/health and the ACME challenge, over plain HTTP")
HTTPS_PENDING_FIX = "tr4ctl cert issue"
HTTPS_PENDING_ADVICE = f"{HTTPS_PENDING}; `{HTTPS_PENDING_FIX}` gets it and switches to HTTPS"


def https_pending(nginx_mode: str | None) -> bool:
    return nginx_mode == NginxMode.PROD_HTTP.value


def https_pending_body() -> str:
    """nginx's 503 body. It sits in a single-quoted nginx string, where ' would end it
    and $ start a variable: the words above have neither (a unit test checks)."""
    return json.dumps({"error": HTTPS_PENDING, "fix": HTTPS_PENDING_FIX})
