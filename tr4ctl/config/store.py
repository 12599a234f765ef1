"""Write settings into the project's .env: validated as a whole first, then atomically,
kept 0600. The one way tr4ctl changes .env (config set, cert issue, images build-local)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from tr4ctl.config.envfile import with_values
from tr4ctl.config.load import parse_env_text, read_env_text, resolve
from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.files import write_private


def save_env_values(env_file: Path, updates: Mapping[str, str], *,
                    options: Mapping[str, str | None] | None = None,
                    check: Callable[[Config], None] | None = None) -> bool:
    """True when .env changed. A value that breaks the configuration, or that `check`
    refuses in the resulting configuration, changes nothing."""
    text = read_env_text(env_file)
    try:
        new_text = with_values(text, dict(updates))
    except ValueError as exc:
        raise BadInput(f"cannot write that value to {env_file}: {exc}", "choose another value"
                       ) from None
    if new_text == text:
        return False
    config = resolve(parse_env_text(new_text, env_file), os.environ, options or {})
    if check is not None:
        check(config)
    write_private(env_file, new_text)
    return True
