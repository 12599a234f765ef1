"""Moving a project between targets (`TR4CTL_TARGET`): the stack that runs on the other
one is taken down first (its data volumes kept, they serve the new one), and the
network is remade with the driver the new target needs (bridge, or an attachable
overlay on a swarm). A brief outage, said before it happens."""

from __future__ import annotations

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.swarm import STACK_LABEL, remove_stack
from tr4ctl.facts import SWARM
from tr4ctl.runtime import Runtime

DRIVERS = {SWARM: "overlay"}
BRIDGE = "bridge"


def other_target_running(rt: Runtime) -> str | None:
    """The target whose containers of this project run now, if not the configured one."""
    engine, name = rt.engine, rt.config.project_name
    if rt.config.target == SWARM:
        found = engine.labelled_container_ids(f"{cmd.COMPOSE_PROJECT_LABEL}={name}")
        return "compose" if found else None
    found = engine.labelled_container_ids(f"{STACK_LABEL}={name}")
    return SWARM if found else None


def leave_other_target(rt: Runtime, other: str) -> None:
    engine, name = rt.engine, rt.config.project_name
    rt.out.warn(f"project {name} runs on {other}: taking it down there first (its data "
                f"volumes are kept and used on {rt.config.target})")
    if other == SWARM:
        remove_stack(engine, cmd.SwarmStack(name, rt.paths.compose_file))
    else:
        # By its project label alone: the compose file on disk is the swarm's now.
        engine.runner.run(cmd.ComposeProject(name, ()).down(timeout=10),
                          what="docker compose down")


def network_fits_target(rt: Runtime) -> None:
    """A network of the wrong driver (left by the other target) is removed, to be made
    again by `ensure_volumes_and_network`."""
    network = rt.names.network
    found = rt.engine.api.network(network) if rt.engine.api is not None else None
    if not found or found.get("Name") != network:
        return
    wanted = DRIVERS.get(rt.config.target, BRIDGE)
    if found.get("Driver") != wanted:
        rt.engine.remove_network(network)
