"""Write settings into the project's .env: validated as a whole first, then atomically,
kept 0600. The one way tr4ctl changes .env (config set, cert issue, images build-local)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from tr4ctl.config.envfile import with_values
from tr4ctl.config.load import resolve
from tr4ctl.files import write_private


def save_env_values(env_file: Path, updates: Mapping[str, str], *,
                    options: Mapping[str, str | None] | None = None) -> bool:
    """True when .env changed. A value that breaks the configuration changes nothing."""
    from dotenv import dotenv_values

    text = env_file.read_text(encoding="utf-8")
    new_text = with_values(text, dict(updates))
    if new_text == text:
        return False
    resolve(dotenv_values(stream=io.StringIO(new_text)), os.environ, options or {}, env_file)
    write_private(env_file, new_text)
    return True
