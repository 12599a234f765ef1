"""`tr4ctl down`: stop the stack; data volumes go only when asked for twice."""

from __future__ import annotations

from tr4ctl.errors import BadInput
from tr4ctl.project.state import up_finished
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
    if network:
        refuse_foreign_endpoints(rt)
    if rt.paths.compose_file.exists():
        engine.compose_down(timeout=10)
    # Down on purpose: an `up` left half done is no longer something to finish.
    up_finished(rt.paths)
    for name in volumes:
        engine.remove_volume(name)
    if network:
        engine.remove_network(names.network)
    return [*volumes, *([names.network] if network else [])]


def refuse_foreign_endpoints(rt: Runtime) -> None:
    """Pre-flight of `down --volumes`: the network cannot be removed while another
    container uses it, and finding that out after the volumes are gone leaves a stack
    neither up nor removed. So: refuse first, naming them, with nothing removed."""
    network = rt.names.network
    foreign = rt.engine.foreign_endpoints(network)
    if foreign:
        raise BadInput(f"containers that are not this stack's use the network {network}: "
                       f"{', '.join(foreign)}",
                       "nothing was removed; disconnect or remove them first: "
                       f"`docker network disconnect {network} {foreign[0]}`")
