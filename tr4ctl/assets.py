"""Where the shipped templates and the backend build context live, and what is read
from them before rendering.

An installed wheel carries them under tr4ctl/_assets/; a source checkout (editable
install, tests) uses the repo's top-level folders directly.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_FOLDERS = ("compose", "nginx")


def asset_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_assets" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tr4ctl is missing its {name!r} assets; reinstall tr4ctl")


def backend_context() -> Path:
    return asset_dir("backend")


def env_example() -> Path:
    return asset_dir("backend") / ".env.example"


@cache
def backend_fingerprint(base_image: str) -> str:
    """A short hash of the backend's build context and base image.

    The backend image is tagged with it, so changed code always gets a new image (and
    compose builds it) instead of a stale `latest` quietly serving old code.
    """
    digest = hashlib.sha256(base_image.encode())
    root = backend_context()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def backend_image(configured: str | None, base_image: str) -> str:
    """TR4CTL_BACKEND_IMAGE, else the image built from the shipped backend/ on that base."""
    if configured:
        return configured
    return f"tr4ction/backend:{backend_fingerprint(base_image)}"


def load_templates(override_dir: Path | None) -> dict[str, str]:
    """Every shipped template by "<folder>/<file>", the operator's overriding ones
    (TR4CTL_TEMPLATES_DIR) laid over them."""
    if override_dir is not None:
        require_template_dir(override_dir)
    templates: dict[str, str] = {}
    for folder in TEMPLATE_FOLDERS:
        directories = [asset_dir(folder)]
        if override_dir is not None:
            directories.append(override_dir / folder)
        for directory in directories:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if not path.is_dir():  # a FIFO or a device is refused, never read
                    templates[f"{folder}/{path.name}"] = _read_template(path)
    return templates


def _read_template(path: Path) -> str:
    from tr4ctl.errors import BadInput
    from tr4ctl.files import read_regular_text

    hint = "keep only template files in TR4CTL_TEMPLATES_DIR's compose/ and nginx/ folders"
    try:
        return read_regular_text(path, "template", hint=hint)
    except FileNotFoundError:
        raise BadInput(f"template {path} is a link to nothing", hint) from None


def require_template_dir(directory: Path) -> None:
    from tr4ctl.errors import BadInput

    hint = "point TR4CTL_TEMPLATES_DIR at a folder with compose/ and/or nginx/ templates, or unset it"
    if not directory.is_dir():
        import os

        from tr4ctl.files import kind_of

        what = f"it is {kind_of(os.stat(directory).st_mode)}" if directory.exists() \
            else "it does not exist"
        raise BadInput(f"TR4CTL_TEMPLATES_DIR {directory} is not a folder: {what}", hint)
    if not any((directory / folder).is_dir() for folder in TEMPLATE_FOLDERS):
        raise BadInput(f"TR4CTL_TEMPLATES_DIR {directory} has no compose/ or nginx/ folder", hint)


@cache
def alert_watch_program() -> str:
    """The alert-watch service's Python: plan/alerts.py's text (its `decide`, the one rule
    for incidents), then the watcher's (tr4ctl/watch/alert_watch.py) without what only
    the package needs. Run with `python3 -c` in the backend's image."""
    rule = (_PACKAGE_DIR / "plan" / "alerts.py").read_text(encoding="utf-8")
    watcher = (_PACKAGE_DIR / "watch" / "alert_watch.py").read_text(encoding="utf-8")
    return rule + "\n\n" + watcher
