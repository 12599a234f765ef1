"""What a swarm target allows, and what a service's update status means (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.facts import SQLITE
from tr4ctl.plan.readiness import replicas_refusal

EVERY_INTERFACE = ("0.0.0.0", "::", "[::]")

# UpdateStatus.State of a service (the engine's words) -> what tr4ctl reports.
UPDATING = ("updating", "rollback_started")
UPDATED = ("completed",)
ROLLED_BACK = ("rollback_completed", "rollback_paused", "paused")


def swarm_refusal(config: Config, node_count: int) -> BadInput | None:
    """SQLite is one file in one volume on one node: replicas elsewhere cannot share it.
    And a swarm publishes a port on every interface of the node (host mode): a bind
    address meant to keep the site private cannot be honoured, so it is refused."""
    if config.bind_address not in EVERY_INTERFACE:
        return BadInput(f"TR4CTL_BIND_ADDRESS={config.bind_address} cannot be honoured on a "
                        "swarm: its ports are published on every interface of the node",
                        "set TR4CTL_BIND_ADDRESS=0.0.0.0 (and keep the site private with the "
                        "host's firewall), or stay on TR4CTL_TARGET=compose")
    if config.database != SQLITE:
        return None
    if refusal := replicas_refusal(config):
        return refusal
    if node_count > 1:
        return BadInput(f"this swarm has {node_count} nodes and the backend could be placed on "
                        "any of them, away from its SQLite file",
                        "run `tr4ctl db use postgres` (or set TR4CTL_DATABASE=postgres) "
                        "before `up --target swarm`")
    return None


@dataclass(frozen=True)
class UpdateProgress:
    state: str | None  # the engine's UpdateStatus.State (None: never updated)
    started: str | None
    message: str | None
    image: str  # the image the service's spec names now

    @property
    def finished(self) -> bool:
        return self.state in UPDATED or self.state in ROLLED_BACK

    @property
    def rolled_back(self) -> bool:
        return self.state in ROLLED_BACK


def update_progress(service: dict[str, Any]) -> UpdateProgress:
    status = service.get("UpdateStatus") or {}
    image = (((service.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec")
             or {}).get("Image", "")
    return UpdateProgress(state=status.get("State"), started=status.get("StartedAt"),
                          message=status.get("Message"), image=image.split("@")[0])
