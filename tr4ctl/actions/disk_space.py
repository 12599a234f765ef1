"""Free space where the stack writes: the project folder and the engine's data root
(images, volumes, container logs). The rule is plan/disk_space.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from tr4ctl.plan.disk_space import FreeSpace, tightest
from tr4ctl.runtime import Runtime


def free_space(rt: Runtime, *, engine_ok: bool = True) -> FreeSpace:
    places = [rt.project_dir]
    if engine_ok:
        root = rt.engine.docker_root_dir()
        if root:
            places.append(Path(root))
    measured = {str(place): shutil.disk_usage(place).free
                for place in places if place.exists()}
    return tightest(measured or {"/": shutil.disk_usage("/").free})
