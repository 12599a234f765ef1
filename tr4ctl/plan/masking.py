"""What may be shown of a setting: secrets by what the key table says is secret, not by
words in their names (ACCESS_TOKEN_EXPIRE_MINUTES is a number of minutes)."""

from __future__ import annotations

import re
from typing import Any

from tr4ctl.config.keys import KEYS, PREFIX
from tr4ctl.rules import url_password

MASK = "****"


def is_secret_key(name: str) -> bool:
    key = KEYS.get(name)
    return key is not None and key.secret


def shown(name: str, value: Any) -> Any:
    """A secret key's value masked; any URL with a password keeps all but its password."""
    if not value:
        return value
    if is_secret_key(name):
        return MASK
    password = url_password(str(value)) if "://" in str(value) else None
    if password is not None:
        return str(value).replace(f":{password}@", f":{MASK}@", 1)
    return value


def masked_settings(tr4ctl_settings: dict[str, Any], env_values: dict[str, str | None]
                    ) -> dict[str, Any]:
    """tr4ctl's settings (by field name) plus the backend's keys, secrets masked."""
    merged: dict[str, Any] = {f"{PREFIX}{k.upper()}": v for k, v in tr4ctl_settings.items()}
    for key, value in env_values.items():
        if not key.startswith(PREFIX):
            merged[key] = value
    return {key: shown(key, value) for key, value in merged.items()}


_HEX_TOKEN = re.compile(r"^[A-Fa-f0-9]{32,}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_+/=-]{32,}$")


def secret_in_value(value: str, known_secrets: tuple[str, ...] = ()) -> str | None:
    """Why a value carries a secret that argv must not show, or None: a URL with a
    password, a known secret, or what looks like a generated key (`openssl rand -hex`
    output, or 32+ characters mixing upper and lower case and digits; names, image
    references and paths are not like that)."""
    if "://" in value and url_password(value):
        return "it holds a password (scheme://user:password@...)"
    if any(secret and secret in value for secret in known_secrets):
        return "it holds the project's secret"
    mixed = (any(c.isdigit() for c in value) and any(c.islower() for c in value)
             and any(c.isupper() for c in value))
    if _HEX_TOKEN.match(value) or (_TOKEN.match(value) and mixed):
        return "it looks like a generated key"
    return None
