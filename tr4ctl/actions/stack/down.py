"""`tr4ctl down`: stop the stack; data volumes go only when asked for twice."""

from __future__ import annotations

from tr4ctl.errors import BadInput
from tr4ctl.runtime import Runtime


def take_down(rt: Runtime, *, remove_volumes: bool) -> list[str]:
    """Stops and removes the containers; returns the volumes and network removed."""
    engine = rt.engine
    engine.require_engine()
    names = rt.names
    volumes = sorted(engine.existing_volumes(list(names.volumes.values()))) \
        if remove_volumes else []
    network = remove_volumes and engine.network_exists(names.network)
    if remove_volumes and not volumes and not network and not rt.paths.compose_file.exists():
        # Most likely a typo in --project-dir or --project-name: say so, remove nothing.
        raise BadInput(f"project {names.project} has no volumes, network or stack here: "
                       "nothing to remove", "check --project-dir and --project-name "
                       "(or TR4CTL_PROJECT_NAME)")
    if rt.paths.compose_file.exists():
        engine.compose_down(timeout=10)
    for name in volumes:
        engine.remove_volume(name)
    if network:
        engine.remove_network(names.network)
    return [*volumes, *([names.network] if network else [])]
