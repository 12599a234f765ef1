"""`tr4ctl down`: stop the stack; data volumes go only when asked for twice."""

from __future__ import annotations

from tr4ctl.runtime import Runtime


def take_down(rt: Runtime, *, remove_volumes: bool) -> list[str]:
    """Stops and removes the containers; returns the volumes and network removed."""
    engine = rt.engine
    engine.require_engine()
    removed: list[str] = []
    if rt.paths.compose_file.exists():
        engine.compose_down(timeout=10)
    if remove_volumes:
        names = rt.names
        for name in sorted(engine.existing_volumes(list(names.volumes.values()))):
            engine.remove_volume(name)
            removed.append(name)
        if engine.network_exists(names.network):
            engine.remove_network(names.network)
            removed.append(names.network)
    return removed
