"""Where the shipped templates and the backend build context live.

An installed wheel carries them under tr4ctl/_assets/; a source checkout (editable
install, tests) uses the repo's top-level folders directly.
"""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_assets" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tr4ctl is missing its {name!r} assets; reinstall tr4ctl")


def backend_context() -> Path:
    return asset_dir("backend")


def env_example() -> Path:
    return asset_dir("backend") / ".env.example"
