"""Mask secrets before anything is shown."""

from __future__ import annotations

from typing import Any

SECRET_WORDS = ("secret", "password", "token", "key")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def mask(value: Any) -> str:
    return "****" if value else ""


def masked_settings(tr4ctl_settings: dict[str, Any], env_values: dict[str, str | None]
                    ) -> dict[str, Any]:
    """tr4ctl's settings plus the backend's keys from .env, secrets masked."""
    merged: dict[str, Any] = {f"TR4CTL_{k.upper()}": v for k, v in tr4ctl_settings.items()}
    for key, value in env_values.items():
        if not key.startswith("TR4CTL_"):
            merged[key] = value
    return {key: mask(value) if is_secret_key(key) else value for key, value in merged.items()}
