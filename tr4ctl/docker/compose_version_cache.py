"""The compose plugin's version, remembered per plugin binary: `docker compose version`
costs ~100 ms, and the answer changes only when the binary does (path, size, mtime)."""

from __future__ import annotations

import json
import os
from pathlib import Path

# Where the docker CLI looks for plugins, in its own order.
PLUGIN_DIRS = ("~/.docker/cli-plugins", "/usr/local/lib/docker/cli-plugins",
               "/usr/local/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins",
               "/usr/libexec/docker/cli-plugins")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "tr4ctl" / \
    "compose-version.json"


def _plugin_identity() -> str | None:
    if os.environ.get("DOCKER_CONFIG"):
        return None  # another plugin directory may be configured: always ask
    for directory in PLUGIN_DIRS:
        path = Path(directory).expanduser() / "docker-compose"
        try:
            stat = path.stat()
        except OSError:
            continue
        return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    return None


def lookup() -> str | None:
    identity = _plugin_identity()
    if identity is None:
        return None
    try:
        cached = json.loads(CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cached.get("version") if cached.get("plugin") == identity else None


def remember(version: str) -> None:
    identity = _plugin_identity()
    if identity is None:
        return
    try:
        from tr4ctl.files import write_json

        write_json(CACHE, {"plugin": identity, "version": version})
    except OSError:
        pass  # a cache: failing to write it costs the next command 100 ms, nothing else
