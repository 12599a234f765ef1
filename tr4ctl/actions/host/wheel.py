"""The running tr4ctl as a wheel, to install the same version on a host: built from its
source checkout (`pip wheel --no-deps`), or the wheel it was installed from."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import tr4ctl
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.plan.host_bootstrap import WHEEL_NAME

SOURCE_ROOT = Path(tr4ctl.__file__).resolve().parent.parent


@contextmanager
def running_wheel() -> Iterator[Path]:
    """A path to this tr4ctl's wheel, valid inside the `with`."""
    if (SOURCE_ROOT / "pyproject.toml").is_file() and (SOURCE_ROOT / "tr4ctl").is_dir():
        with tempfile.TemporaryDirectory(prefix="tr4ctl-wheel-") as folder:
            built = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                 "--disable-pip-version-check", "-w", folder, str(SOURCE_ROOT)],
                capture_output=True, text=True)
            wheels = [p for p in Path(folder).iterdir() if WHEEL_NAME.match(p.name)]
            if built.returncode != 0 or len(wheels) != 1:
                reason = (built.stderr.strip().splitlines() or ["no wheel made"])[-1]
                raise OperationFailed(f"cannot build tr4ctl's wheel from {SOURCE_ROOT}: "
                                      f"{reason}", "run `pip wheel --no-deps .` there to see why")
            yield wheels[0]
        return
    yield installed_from()


def installed_from() -> Path:
    """The wheel file this tr4ctl was installed from (pip's direct_url.json)."""
    try:
        recorded = json.loads(metadata.distribution("tr4ctl").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        recorded = {}
    url = recorded.get("url", "")
    path = Path(unquote(urlsplit(url).path)) if url.startswith("file://") else None
    if path is None or not path.is_file() or not WHEEL_NAME.match(path.name):
        raise MissingPrerequisite(
            f"cannot find the wheel tr4ctl {tr4ctl.__version__} was installed from",
            "run `tr4ctl host bootstrap` from a tr4ctl source checkout, or install tr4ctl "
            "from a wheel file that stays where it is")
    return path
