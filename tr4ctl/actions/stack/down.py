"""`tr4ctl down`: stop the stack; data volumes go only when asked for twice.

`down --volumes --yes` is all or nothing: every container of the project, in every
profile (PostgreSQL's on a SQLite stack, the certbot tool), one-off `run` containers,
a second backend a deploy or `db use` left, tr4ctl's own helpers, is stopped and
removed before the first volume goes, and a container of anyone else that uses a
volume or the network refuses the whole command first. Run again, it finishes what an
interrupted run left.
"""

from __future__ import annotations

from typing import Any

from tr4ctl.docker import commands as cmd
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.project.state import record_database, up_finished
from tr4ctl.runtime import Runtime

STOP_SECONDS = 10
# A stack on a swarm labels its tasks' containers so.
STACK_LABEL = "com.docker.stack.namespace"


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
    # -- pre-flight: what would stop the removal half way refuses it now -------------------
    if volumes:
        refuse_foreign_volume_users(rt, volumes)
    if network:
        refuse_foreign_endpoints(rt)
    # -- from here on, things change ------------------------------------------------------
    if rt.paths.compose_file.exists():
        engine.compose_down(timeout=STOP_SECONDS)
    # Down on purpose: an `up` left half done is no longer something to finish.
    up_finished(rt.paths)
    remove_project_containers(rt, volumes)
    if volumes:
        left = engine.volume_users(volumes)
        if left:
            raise OperationFailed(f"containers still use the volumes: {_listed(left)}",
                                  "no volume was removed; run `tr4ctl down --volumes --yes` "
                                  "again")
        for name in volumes:
            engine.remove_volume(name)
    if remove_volumes:
        # No data any more: the next `up` makes it in the configured database.
        record_database(rt.paths, None)
    if network:
        engine.remove_network(names.network)
    return [*volumes, *([names.network] if network else [])]


def is_ours(labels: dict[str, str], project: str) -> bool:
    return project in (labels.get(cmd.COMPOSE_PROJECT_LABEL), labels.get(cmd.PROJECT_LABEL),
                       labels.get(STACK_LABEL))


def remove_project_containers(rt: Runtime, volumes: list[str]) -> None:
    """What `compose down` leaves: containers of services whose profile is off, one-off
    `run` containers, tr4ctl's helpers, and any of ours on the volumes."""
    engine, project = rt.engine, rt.names.project
    ids = dict.fromkeys([
        *engine.labelled_container_ids(f"{cmd.COMPOSE_PROJECT_LABEL}={project}"),
        *engine.labelled_container_ids(f"{cmd.PROJECT_LABEL}={project}"),
        *(c["id"] for c in engine.volume_users(volumes) if is_ours(c["labels"], project)),
    ])
    if ids:
        # Stopped first (PostgreSQL shuts down cleanly), then removed.
        engine.stop_containers(list(ids), STOP_SECONDS)
        engine.remove_containers(list(ids))


def refuse_foreign_volume_users(rt: Runtime, volumes: list[str]) -> None:
    """A volume another container mounts cannot be removed: refused before anything is."""
    project = rt.names.project
    foreign = [c for c in rt.engine.volume_users(volumes) if not is_ours(c["labels"], project)]
    if foreign:
        raise BadInput(f"containers that are not this stack's use its volumes: {_listed(foreign)}",
                       f"nothing was removed; remove them first: `docker rm -f "
                       f"{foreign[0]['name']}`")


def _listed(containers: list[dict[str, Any]]) -> str:
    return ", ".join(sorted(c["name"] for c in containers))


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
