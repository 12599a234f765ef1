"""The same engine facade for a stack on a swarm (`TR4CTL_TARGET=swarm`): what compose
does per container, done per service, so the actions do not care where they run.

- services are `<project>_<service>`; their state is the count of running tasks against
  the desired replicas, their health that of the tasks' containers on this node (the
  engine shows no other node's container health);
- a command "in a service" runs in one of its running containers on this node: the
  stateful services are placed on this manager (`tr4ctl.stateful` label), and so is at
  least one backend replica while this node is active;
- a tool (certbot) runs as a one-off container on the stack's attachable overlay
  network, on this node, where the volumes are.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.commands import ComposeProject, SwarmStack
from tr4ctl.docker.engine import Engine
from tr4ctl.docker.engine_api import EngineAPI
from tr4ctl.docker.failures import ENGINE_HINT, call_failure
from tr4ctl.docker.runner import Completed, Runner
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.facts import STATEFUL_LABEL
from tr4ctl.plan.services import ServiceState, absent, state_from_inspect

STACK_LABEL = "com.docker.stack.namespace"
SERVICE_LABEL = "com.docker.swarm.service.name"
LOG_TAIL_SECONDS = 20
STACK_RM_SECONDS = 120
LOGS_SECONDS = 120  # `tr4ctl logs` without --follow


class SwarmEngine(Engine):
    def __init__(self, runner: Runner, project: ComposeProject, api: EngineAPI | None, *,
                 tool_image: str):
        super().__init__(runner, project, api)
        self.stack = SwarmStack(project.name, project.files[0])
        self.tool_image = tool_image  # certbot's: the one tool run beside the stack
        self._scaled_down: dict[str, int] = {}

    # -- the swarm itself --------------------------------------------------------------------
    def _api(self) -> EngineAPI:
        if self.api is None:
            raise MissingPrerequisite("a swarm target needs the Docker engine on this host's "
                                      "unix socket", ENGINE_HINT)
        return self.api

    def require_manager(self) -> dict[str, Any]:
        swarm = self._api().info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise MissingPrerequisite(
                "this Docker engine is not a swarm manager (TR4CTL_TARGET=swarm)",
                "run `docker swarm init` here (or run tr4ctl on a manager node), or set "
                "TR4CTL_TARGET=compose")
        return swarm

    def nodes(self) -> list[dict[str, Any]]:
        return self._api().nodes()

    def label_this_node_stateful(self) -> None:
        """The stateful services run where their volumes and tr4ctl's files are: here,
        unless an operator labelled another node."""
        nodes = self.nodes()
        if any((n.get("Spec", {}).get("Labels") or {}).get(STATEFUL_LABEL) == "true"
               for n in nodes):
            return
        node_id = self.require_manager()["NodeID"]
        self.runner.run(cmd.node_label(node_id, f"{STATEFUL_LABEL}=true"))

    def create_network(self, name: str) -> None:
        self.runner.run(cmd.network_create_overlay(name, {cmd.PROJECT_LABEL: self.project_name}))

    def network_driver(self, name: str) -> str | None:
        found = self._api().network(name)
        return found.get("Driver") if found and found.get("Name") == name else None

    # -- services ------------------------------------------------------------------------
    def _service(self, service: str) -> dict[str, Any] | None:
        found = self._api().services(f"{STACK_LABEL}={self.project_name}")
        full = self.stack.service(service)
        return next((s for s in found if s.get("Spec", {}).get("Name") == full), None)

    def _local_containers(self, service: str) -> list[dict[str, Any]]:
        """This node's containers of the service, running first."""
        label = f"{SERVICE_LABEL}={self.stack.service(service)}"
        found = [self.api.inspect_container(c["Id"]) for c in self._api().containers(label)]
        found = [c for c in found if c is not None]
        return sorted(found, key=lambda c: not (c.get("State") or {}).get("Running"))

    def _stack_services(self) -> list[str]:
        prefix = f"{self.project_name}_"
        return [spec["Spec"]["Name"].removeprefix(prefix)
                for spec in self._api().services(f"{STACK_LABEL}={self.project_name}")]

    def service_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        """The named services (absent when not on the swarm), then any other of the stack."""
        names = [*services, *(name for name in self._stack_services() if name not in services)]
        return {name: self._state(name) for name in names}

    def quick_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        return self.service_states(services)

    def _state(self, service: str) -> ServiceState:
        spec = self._service(service)
        if spec is None:
            return absent(service)
        desired = _desired(spec)
        tasks = self._api().tasks(spec["ID"])
        running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running"
                   and t.get("DesiredState") == "running"]
        local = self._local_containers(service)
        healths = [(c.get("State") or {}).get("Health", {}).get("Status") for c in local
                   if (c.get("State") or {}).get("Running")]
        if len(running) >= desired > 0:
            state = "running"
        elif any(t.get("Status", {}).get("State") in ("failed", "rejected") for t in tasks
                 if t.get("DesiredState") == "running"):
            state = "restarting"
        else:
            state = "starting" if desired else "exited"
        health = None if not healths or all(h is None for h in healths) else (
            "healthy" if all(h == "healthy" for h in healths) else
            "unhealthy" if "unhealthy" in healths else "starting")
        base = state_from_inspect(service, local[0]) if local else absent(service)
        base.state, base.health = state, health
        base.replicas = f"{len(running)}/{desired}"
        base.nodes = sorted({t.get("NodeID", "")[:12] for t in running})
        return base

    def service_containers(self, service: str) -> list[ServiceState]:
        return [state_from_inspect(service, c) for c in self._local_containers(service)]

    def _local(self, service: str) -> str:
        running = [c for c in self._local_containers(service)
                   if (c.get("State") or {}).get("Running")]
        if not running:
            raise OperationFailed(f"no {service} container runs on this node",
                                  f"`tr4ctl status` shows where {service} runs; tr4ctl works "
                                  "on the manager that holds the stack's state")
        return running[0]["Id"]

    def exec_attached(self, service: str, command: list[str], *, tty: bool) -> int:
        """In a running task's container on this node (the engine reached runs it); a
        service whose tasks all run on other nodes says so."""
        from tr4ctl.plan.service_exec import running_container

        local = self.service_containers(service)
        if not any(c.state == "running" for c in local) and self._state(service).state == "running":
            self._local(service)  # raises: it runs, but not here
        container = running_container(service, local)
        return self.runner.attach(cmd.exec_attached(container, command, tty=tty))

    def exec_argv(self, service: str, command: list[str], *, user: str | None = None
                  ) -> list[str]:
        argv = cmd.exec_in_container(self._local(service), command)
        if user:
            argv[3:3] = ["--user", user]
        return argv

    def run_tool(self, service: str, command: list[str], *, envs: dict[str, str] | None = None,
                 volumes: list[str] | None = None, entrypoint: str | None = None,
                 check: bool = True, timeout: float | None = None,
                 input_text: str | None = None) -> Completed[str]:
        """Only certbot is run so: with its image and volumes, on this node."""
        mounts = {self._volume("certbot_conf"): "/etc/letsencrypt",
                  self._volume("certbot_www"): "/var/www/certbot"}
        for volume in volumes or []:
            source, _, target = volume.partition(":")
            mounts[source] = target
        argv = cmd.run_attached(self.tool_image, command, network=f"{self.project_name}_network",
                                mounts=mounts, env_keys=list(envs or {}), entrypoint=entrypoint,
                                labels={cmd.PROJECT_LABEL: self.project_name})
        return self.runner.run(argv, input=input_text, check=check, timeout=timeout, env=envs)

    def _volume(self, key: str) -> str:
        return f"{self.project_name}_{key}"

    OWN_LABEL = STACK_LABEL

    def compose_up(self, services: list[str], *, build: bool = False,
                   remove_orphans: bool = False) -> None:  # deploy --prune, always
        self.runner.run(self.stack.deploy(), what="docker stack deploy")

    def compose_down(self, timeout: int | None = None) -> None:
        remove_stack(self, self.stack)

    def compose_stop(self, services: list[str]) -> None:
        """Scaled to 0 (their replica counts remembered for `compose_start`), waited for."""
        for service in services:
            spec = self._service(service)
            if spec is None:
                continue
            self._scaled_down[service] = _desired(spec) or self._scaled_down.get(service, 1)
            self.runner.run(self.stack.scale(service, 0), timeout=180)

    def compose_start(self, services: list[str], timeout: float | None = 300) -> None:
        for service in services:
            replicas = self._scaled_down.pop(service, None) or max(
                _desired(self._service(service) or {}), 1)
            self.runner.run(self.stack.scale(service, replicas), timeout=timeout)

    def compose_restart(self, services: list[str]) -> None:
        for service in services:
            self.runner.run(self.stack.restart(service), timeout=300)

    def update_image(self, service: str, image: str) -> None:
        """A rolling update as the stack file's update_config says (start-first for the
        backend, rollback on failure); forced, so the same image restarts too."""
        self.runner.run(self.stack.update_image(service, image),
                        what=f"docker service update {self.stack.service(service)}")

    def failed_tasks(self, service: str, limit: int = 5) -> list[str]:
        """The engine's reason for each of the service's tasks that failed, newest first:
        why an update was rolled back."""
        spec = self._service(service)
        if spec is None:
            return []
        tasks = [t for t in self._api().tasks(spec["ID"])
                 if (t.get("Status") or {}).get("State") in ("failed", "rejected")]
        tasks.sort(key=lambda t: (t.get("Status") or {}).get("Timestamp", ""), reverse=True)
        reasons = []
        for task in tasks[:limit]:
            status = task.get("Status") or {}
            reasons.append(f"{status.get('Timestamp', '')[:19]} on node "
                           f"{task.get('NodeID', '')[:12]}: "
                           f"{status.get('Err') or status.get('Message')}")
        return reasons

    def roll_back_service(self, service: str) -> None:
        self.runner.run(self.stack.roll_back(service), check=False, timeout=300)

    def service_document(self, service: str) -> dict[str, Any] | None:
        return self._service(service)

    def logs(self, services: list[str], *, follow: bool, tail: str | None,
             timestamps: bool = False) -> int:
        code = 0
        for service in services or self._stack_services():
            argv = self.stack.logs(service, follow=follow, tail=tail, timestamps=timestamps)
            try:
                code = self.runner.attach(argv, timeout=None if follow else LOGS_SECONDS) or code
            except OperationFailed as exc:
                raise OperationFailed(
                    f"{exc.message}: `docker service logs` can stop answering after the last "
                    "line (moby/moby#38640)",
                    "what it printed is all there is; `docker logs` of a task's container "
                    f"(`docker ps --filter name={self.stack.service(service)}`) reads one "
                    "replica") from None
        return code

    def log_lines(self, services: list[str], *, follow: bool, tail: str | None,
                  timestamps: bool = False) -> Iterator[str]:
        for service in services or self._stack_services():
            prefix = f"{service} | "
            for line in self.runner.lines(self.stack.logs(service, follow=follow, tail=tail,
                                                          timestamps=timestamps)):
                yield prefix + line

    def log_tail(self, service: str, lines: int = 20) -> str:
        """The service's last lines, from every node. `docker service logs` can wait
        forever on a task whose container is gone: bounded, then this node's own
        containers answer."""
        try:
            completed = self.runner.run(self.stack.logs(service, tail=str(lines)), check=False,
                                        timeout=LOG_TAIL_SECONDS)
            return _both_streams(completed)
        except OperationFailed:
            tails = [_both_streams(self.runner.run(cmd.container_logs(c["Id"], lines),
                                                   check=False, timeout=LOG_TAIL_SECONDS))
                     for c in self._local_containers(service)]
            return "\n".join(tail for tail in tails if tail)

    def validate_compose(self, files: list[Path]) -> None:
        """`docker stack config` checks a stack file as `docker stack deploy` reads it."""
        argv = cmd.stack_config(files[0])
        completed = self.runner.run(argv, check=False)
        if completed.returncode == 0 or "unknown command" in completed.stderr.lower() \
                or "is not a docker command" in completed.stderr.lower():
            return  # a docker CLI older than 23 has no `stack config`: deploy checks it
        raise call_failure(argv, completed.returncode, completed.stderr, completed.stdout,
                           what="validating the rendered stack file",
                           hint="check the templates and .env; nothing was deployed")


def remove_stack(engine: Engine, stack: SwarmStack) -> None:
    """`docker stack rm` returns at once; the containers go over the next seconds, and
    the volumes and network cannot be removed before they are gone: waited for. Any
    engine will do (a compose project leaving the swarm target has a plain one)."""
    engine.runner.run(stack.remove(), what="docker stack rm")
    deadline = time.monotonic() + STACK_RM_SECONDS
    while engine.labelled_container_ids(f"{STACK_LABEL}={stack.name}"):
        if time.monotonic() > deadline:
            raise OperationFailed(f"timed out after {STACK_RM_SECONDS}s waiting for the swarm "
                                  "stack's containers to stop",
                                  "`docker stack ps` shows what is left; run the command again")
        time.sleep(0.5)


def _both_streams(completed: Completed[str]) -> str:
    """A container's stdout and stderr (the docker CLI keeps them apart); on a failed
    call stderr is the CLI's own complaint, not the container's."""
    parts = (completed.stdout, completed.stderr) if completed.returncode == 0 else (
        completed.stdout,)
    return "\n".join(part.strip() for part in parts if part.strip())


def _desired(service: dict[str, Any]) -> int:
    return int((((service.get("Spec") or {}).get("Mode") or {}).get("Replicated") or {})
               .get("Replicas", 1))
