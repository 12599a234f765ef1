"""A swarm's `up` and `deploy` ship the backend image to each other node a replica may
run on, by itself, only when that node lacks the image id. The manager reaches a node by its label,
set once by the operator:
  docker node update --label-add io.tr4ctl.ssh=ssh://root@10.0.0.6 NODE
(or io.tr4ctl.docker-host=unix:///... for a node engine on this machine, as in tests). A
node without either label is named in a warning: it must get images some other way."""

from __future__ import annotations

from collections.abc import Sequence

from tr4ctl.actions.images.destinations import (
    EngineDestination,
    SshDestination,
)
from tr4ctl.actions.images.ship import LocalEngine, ShipResult, registry_access, ship_images
from tr4ctl.errors import BadInput
from tr4ctl.plan.image_shipping import SSH_LABEL, NodeReach, nodes_to_ship_to
from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.runtime import Runtime


def ship_to_nodes(rt: Runtime, references: Sequence[str]) -> list[ShipResult]:
    engine = rt.engine
    this_node = engine.require_manager()["NodeID"]
    try:
        nodes = nodes_to_ship_to(engine.nodes(), this_node)
    except ValueError as exc:
        raise BadInput(str(exc), f"`docker node update --label-add {SSH_LABEL}="
                                 "ssh://USER@ADDRESS NODE`") from None
    unreachable = [node.name for node in nodes if not node.reachable]
    if unreachable:
        rt.out.warn(f"{', '.join(unreachable)}: no {SSH_LABEL} label, so tr4ctl cannot ship "
                    f"{', '.join(references)} there; a replica placed there without it fails "
                    f"(`docker node update --label-add {SSH_LABEL}=ssh://USER@ADDRESS NODE`)")
    access = registry_access(rt.config.registry, rt.config.registry_auth_file)
    source = LocalEngine(engine.runner, engine.api)
    results = []
    for node in nodes:
        if node.reachable:
            result = ship_images(_destination(rt, node), references, rt.out, engine=source,
                                 registry=access)
            rt.out.info(f"  {node.name}: " + (
                f"sent {', '.join(result.sent)} ({result.bytes_sent / (1 << 20):.1f} MiB, "
                f"{result.seconds:.1f}s)" if result.sent else
                f"tagged {', '.join(result.tagged)}" if result.tagged else "already there"))
            results.append(result)
    return results


def _destination(rt: Runtime, node: NodeReach):
    if node.docker_host:
        return EngineDestination(node.name, node.docker_host, rt.out)
    from tr4ctl.remote.connection import SshConnection
    from tr4ctl.remote.settings import read_workstation

    try:
        target = parse_target(node.ssh or "")
    except ValueError as exc:
        raise BadInput(f"node {node.name}: {SSH_LABEL}: {exc}",
                       f"`docker node update --label-add {SSH_LABEL}=ssh://USER@ADDRESS "
                       f"{node.name}`") from None
    return SshDestination(SshConnection(
        target, read_workstation(rt.project_dir).ssh_options(), rt.out))
