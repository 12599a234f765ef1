"""Render the shipped (or the operator's overriding) jinja2 templates, strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tr4ctl.assets import asset_dir
from tr4ctl.errors import BadInput


def render_template(
    folder: str, name: str, values: dict[str, Any], override_dir: Path | None = None
) -> str:
    import jinja2

    search_path = [str(asset_dir(folder))]
    if override_dir is not None:
        search_path.insert(0, str(override_dir / folder))
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    present = {key: value for key, value in values.items() if value is not None}
    try:
        return environment.get_template(name).render(**present)
    except jinja2.UndefinedError as exc:
        missing = _undefined_name(exc)
        raise BadInput(
            f"template {folder}/{name} needs a value for {missing!r}",
            f"set TR4CTL_{missing.upper()} in .env" if missing else "check the template",
        ) from None
    except jinja2.TemplateError as exc:
        raise BadInput(f"template {folder}/{name} is broken: {exc}", "fix the template") from None


def _undefined_name(exc: Exception) -> str:
    # jinja2 says "'domain' is undefined"; keep just the name.
    message = str(getattr(exc, "message", exc) or "")
    return message.split("'")[1] if message.count("'") >= 2 else message
