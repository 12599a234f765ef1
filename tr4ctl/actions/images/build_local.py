"""`tr4ctl images build-local`: build the stack's images from Debian and PyPI packages,
for hosts that reach no image registry, and point the settings at them."""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.actions.stack.init import ensure_env_file
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.config.store import save_env_values
from tr4ctl.docker.images import build_from_text, import_rootfs
from tr4ctl.errors import MissingPrerequisite
from tr4ctl.plan.local_images import (
    RECIPE_LABEL,
    SETTINGS_FOR,
    DebianImage,
    PipImage,
    mmdebstrap_argv,
    recipes,
)
from tr4ctl.runtime import Runtime


@dataclass
class BuiltImage:
    tag: str
    result: str  # "built" or "up to date"
    seconds: float


def build_local_images(rt: Runtime, *, with_pebble: bool, force: bool) -> list[BuiltImage]:
    rt.engine.require_engine()
    if shutil.which("mmdebstrap") is None:
        raise MissingPrerequisite("mmdebstrap is not installed",
                                  "apt-get install -y mmdebstrap (scripts/provision-docker.sh does)")
    debian, pip_images = recipes(with_pebble)
    # Independent builds overlap: mmdebstrap waits on downloads, pip on PyPI.
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda image: _debian(rt, image, force), debian))
        results += list(pool.map(lambda image: _pip(rt, image, force), pip_images))
    point_settings_at(rt, [r.tag for r in results])
    return results


def point_settings_at(rt: Runtime, tags: list[str]) -> None:
    ensure_env_file(rt, InitReport())
    updates = {SETTINGS_FOR[tag]: tag for tag in tags if tag in SETTINGS_FOR}
    if save_env_values(rt.paths.env_file, updates, options=rt.config_options):
        rt.reload_config()


def _up_to_date(rt: Runtime, tag: str, recipe_hash: str, force: bool) -> bool:
    return not force and rt.engine.image_label(tag, RECIPE_LABEL) == recipe_hash


def _debian(rt: Runtime, image: DebianImage, force: bool) -> BuiltImage:
    started = time.monotonic()
    if _up_to_date(rt, image.tag, image.recipe_hash, force):
        return BuiltImage(image.tag, "up to date", 0.0)
    rt.out.info(f"building {image.tag} from Debian packages (mmdebstrap)")
    with tempfile.TemporaryDirectory(prefix="tr4ctl-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        rt.engine.runner.run(mmdebstrap_argv(image, tarball), what=f"mmdebstrap for {image.tag}",
                             hint="check that Debian's package mirror is reachable "
                                  "(apt-get update)")
        changes = [*image.changes, f"LABEL {RECIPE_LABEL}={image.recipe_hash}"]
        import_rootfs(rt.engine.runner, tarball, image.tag, changes)
    return BuiltImage(image.tag, "built", round(time.monotonic() - started, 1))


def _pip(rt: Runtime, image: PipImage, force: bool) -> BuiltImage:
    started = time.monotonic()
    if _up_to_date(rt, image.tag, image.recipe_hash, force):
        return BuiltImage(image.tag, "up to date", 0.0)
    rt.out.info(f"building {image.tag} on {image.base.tag}")
    build_from_text(rt.engine.runner, image.tag, image.dockerfile())
    return BuiltImage(image.tag, "built", round(time.monotonic() - started, 1))
