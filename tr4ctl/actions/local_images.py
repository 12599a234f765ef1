"""`tr4ctl images build-local`: build the stack's images from Debian and PyPI packages,
for hosts that reach no image registry, and point the settings at them."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.actions.init import InitReport, ensure_env_file
from tr4ctl.cli.context import AppContext
from tr4ctl.engine import ImageBuilder
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.files import write_private
from tr4ctl.plan.envfile import with_values
from tr4ctl.plan.local_images import (
    RECIPE_LABEL,
    SETTINGS_FOR,
    DebianImage,
    PipImage,
    recipes,
)


@dataclass
class BuiltImage:
    tag: str
    result: str  # "built" or "up to date"
    seconds: float


def build_local_images(ctx: AppContext, *, with_pebble: bool, force: bool) -> list[BuiltImage]:
    ctx.engine.require_engine()
    if shutil.which("mmdebstrap") is None:
        raise MissingPrerequisite("mmdebstrap is not installed",
                                  "apt-get install -y mmdebstrap (scripts/provision-docker.sh does)")
    builder = ImageBuilder(ctx.engine)
    debian, pip_images = recipes(with_pebble)
    # Independent builds overlap: mmdebstrap waits on downloads, pip on PyPI.
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda image: _debian(ctx, builder, image, force), debian))
        results += list(pool.map(lambda image: _pip(ctx, builder, image, force), pip_images))
    point_settings_at(ctx, [r.tag for r in results])
    return results


def point_settings_at(ctx: AppContext, tags: list[str]) -> None:
    ensure_env_file(ctx, InitReport())
    updates = {SETTINGS_FOR[tag]: tag for tag in tags if tag in SETTINGS_FOR}
    env_file = ctx.paths.env_file
    text = env_file.read_text(encoding="utf-8")
    new_text = with_values(text, updates)
    if new_text != text:
        write_private(env_file, new_text)
    ctx.reload_settings()


def _up_to_date(builder: ImageBuilder, tag: str, recipe_hash: str, force: bool) -> bool:
    return not force and builder.label(tag, RECIPE_LABEL) == recipe_hash


def _debian(ctx: AppContext, builder: ImageBuilder, image: DebianImage, force: bool) -> BuiltImage:
    started = time.monotonic()
    if _up_to_date(builder, image.tag, image.recipe_hash, force):
        return BuiltImage(image.tag, "up to date", 0.0)
    ctx.out.info(f"building {image.tag} from Debian packages (mmdebstrap)")
    with tempfile.TemporaryDirectory(prefix="tr4ctl-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        # No mirror is named: mmdebstrap uses the host's apt sources.
        argv = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(image.packages)}"]
        argv += [f"--customize-hook={hook}" for hook in image.customize]
        argv += ["bookworm", str(tarball)]
        ctx.engine._trace(argv)
        completed = subprocess.run(argv, capture_output=True, text=True)
        if completed.returncode != 0:
            tail = completed.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise OperationFailed(f"mmdebstrap for {image.tag} failed: {tail[0]}",
                                  "check that Debian's package mirror is reachable (apt-get update)")
        changes = [*image.changes, f"LABEL {RECIPE_LABEL}={image.recipe_hash}"]
        builder.import_rootfs(tarball, image.tag, changes)
    return BuiltImage(image.tag, "built", round(time.monotonic() - started, 1))


def _pip(ctx: AppContext, builder: ImageBuilder, image: PipImage, force: bool) -> BuiltImage:
    started = time.monotonic()
    if _up_to_date(builder, image.tag, image.recipe_hash, force):
        return BuiltImage(image.tag, "up to date", 0.0)
    ctx.out.info(f"building {image.tag} from PyPI")
    builder.build_from_text(image.tag, image.dockerfile())
    return BuiltImage(image.tag, "built", round(time.monotonic() - started, 1))
