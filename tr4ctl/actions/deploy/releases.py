"""`tr4ctl releases`: the history, newest last, and which release is current."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tr4ctl.project.releases import read_history
from tr4ctl.runtime import Runtime


def list_releases(rt: Runtime) -> list[dict[str, Any]]:
    if not rt.has_project:  # a mistyped --project-dir is not an empty history
        raise rt.no_project()
    history = read_history(rt.paths)
    current = history.current
    return [{**asdict(release), "current": current is not None and release.id == current.id}
            for release in history.releases]
