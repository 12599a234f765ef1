"""Render templates strictly: a missing value is an error naming the key to set.

Pure: the template sources are handed in (assets.load_stack_inputs reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tr4ctl.errors import BadInput


def render_template(templates: Mapping[str, str], name: str, values: dict[str, Any]) -> str:
    """`name` is "<folder>/<file>", e.g. "nginx/site.conf.j2"."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.DictLoader(dict(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # configuration files, not HTML
    )
    present = {key: value for key, value in values.items() if value is not None}
    try:
        return environment.get_template(name).render(**present)
    except jinja2.UndefinedError as exc:
        missing = _undefined_name(exc)
        raise BadInput(
            f"template {name} needs a value for {missing!r}",
            f"set TR4CTL_{missing.upper()} in .env" if missing else "check the template",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise BadInput(f"template {exc.name} does not exist",
                       "check TR4CTL_TEMPLATES_DIR, or reinstall tr4ctl") from None
    except jinja2.TemplateError as exc:
        raise BadInput(f"template {name} is broken: {exc}", "fix the template") from None


def _undefined_name(exc: Exception) -> str:
    # jinja2 says "'domain' is undefined"; keep just the name.
    message = str(getattr(exc, "message", exc) or "")
    return message.split("'")[1] if message.count("'") >= 2 else message
