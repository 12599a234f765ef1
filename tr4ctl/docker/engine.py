"""The stack's Docker engine as the actions see it: each method pairs a builder of
docker/commands.py with the one runner, and parses what comes back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from tr4ctl.docker import commands as cmd
from tr4ctl.docker import compose_version_cache
from tr4ctl.docker.commands import ComposeProject

# `docker rm -f` of a container the engine is removing already, or has just removed.
REMOVAL_UNDER_WAY = ("is already in progress", "No such container")
REMOVAL_WAIT = 30.0
from tr4ctl.docker.engine_api import EngineAPI
from tr4ctl.docker.failures import COMPOSE_HINT, ENGINE_HINT
from tr4ctl.docker.runner import Completed, Runner
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.plan.healthchecks import check_command, not_ready_reason
from tr4ctl.plan.services import (
    ServiceState,
    absent,
    engine_undecided,
    project_states,
    project_summaries,
    state_from_inspect,
    with_own_checks,
)

# A check that hangs longer than this failed (the templates' own timeout is 5 s).
CHECK_SECONDS = 10


class Engine:
    """Reads go over the Engine API when the engine is on a local unix socket (a
    millisecond each), else through the docker CLI; every change goes through the CLI."""

    # The label on every container of this stack.
    OWN_LABEL = cmd.COMPOSE_PROJECT_LABEL

    def __init__(self, runner: Runner, project: ComposeProject, api: EngineAPI | None = None,
                 recorded_ready: Callable[[], dict[str, str]] | None = None):
        self.runner = runner
        self.project = project
        self.api = api
        # The project's record of containers earlier commands saw pass their own check
        # (project/state.py), read only when a running service is still "starting".
        self.recorded_ready = recorded_ready
        # Containers this command saw pass their own healthcheck (id -> UTC time), kept
        # in the project's state when the command ends (Runtime.changing).
        self.seen_ready: dict[str, str] = {}
        self._check_commands: dict[str, list[str] | None] = {}

    @property
    def project_name(self) -> str:
        return self.project.name

    # -- prerequisites (probed once per command: they cannot change meanwhile) -----------
    @cached_property
    def server_version(self) -> str:
        if self.api is not None:
            version = self.api.server_version()
        else:
            version = self.runner.output(cmd.server_version(), timeout=15).strip()
        if not version:
            raise MissingPrerequisite("no Docker engine is reachable", ENGINE_HINT)
        return version

    def require_engine(self) -> None:
        """MissingPrerequisite when no engine answers."""
        if self.api is None or not self.api.ping():
            _ = self.server_version

    @cached_property
    def compose_version(self) -> str | None:
        cached = compose_version_cache.lookup()
        if cached is not None:
            return cached
        completed = self.runner.run(cmd.compose_version(), check=False, timeout=15)
        if completed.returncode != 0:
            return None
        version = completed.stdout.strip().lstrip("v") or None
        if version:
            compose_version_cache.remember(version)
        return version

    def require_compose_v2(self) -> str:
        version = self.compose_version
        major = (version or "").split(".")[0]
        if not major.isdigit() or int(major) < 2:
            raise MissingPrerequisite("the docker compose v2 plugin is missing", COMPOSE_HINT)
        assert version is not None
        return version

    def docker_root_dir(self) -> str:
        return self.runner.run(cmd.docker_root_dir(), check=False).stdout.strip()

    # -- volumes, networks, images ------------------------------------------------------
    def existing_volumes(self, names: list[str]) -> set[str]:
        if self.api is not None:
            return self.api.volume_names() & set(names)
        return set(self.runner.output(cmd.volume_names()).split()) & set(names)

    def create_volume(self, name: str) -> None:
        self.runner.run(cmd.volume_create(name, {cmd.PROJECT_LABEL: self.project_name}))

    def remove_volume(self, name: str) -> None:
        self.runner.run(cmd.volume_remove(name))

    def network_exists(self, name: str) -> bool:
        if self.api is not None:
            found = self.api.network(name)
            return found is not None and found.get("Name") == name
        return bool(self.runner.output(cmd.network_ids(name)).strip())

    def create_network(self, name: str) -> None:
        self.runner.run(cmd.network_create(name, {cmd.PROJECT_LABEL: self.project_name}))

    def remove_network(self, name: str) -> None:
        """Right after `docker stack rm` a swarm may still count a task on its network for
        a few seconds: retried until it lets go."""
        deadline = time.monotonic() + 60
        while True:
            completed = self.runner.run(cmd.network_remove(name), check=False)
            if completed.returncode == 0 or "in use by task" not in completed.stderr \
                    or time.monotonic() > deadline:
                break
            time.sleep(1)
        if completed.returncode != 0:
            self.runner.run(cmd.network_remove(name))  # the error, mapped as any other

    def foreign_endpoints(self, network: str) -> list[str]:
        """Names of the containers attached to the network that are not this project's
        (none when the network does not exist)."""
        completed = self.runner.run(cmd.network_containers(network), check=False)
        if completed.returncode != 0:
            return []
        attached = json.loads(completed.stdout.strip() or "null") or {}
        ours = set(self.labelled_container_ids(f"{self.OWN_LABEL}={self.project_name}"))
        # A swarm network's own load-balancer endpoint ("lb-<network>") is no container.
        return sorted((info or {}).get("Name") or container_id[:12]
                      for container_id, info in attached.items()
                      if container_id not in ours and not container_id.startswith("lb-"))

    def image_id(self, name: str) -> str | None:
        if self.api is not None:
            image = self.api.image(name)
            return image.get("Id") if image else None
        completed = self.runner.run(cmd.image_id(name), check=False)
        if completed.returncode != 0:
            return None
        return completed.stdout.strip() or None

    def image_exists(self, name: str) -> bool:
        return self.image_id(name) is not None

    def image_user(self, name: str) -> str | None:
        """The USER an image runs as ("" when it sets none), None when it is not here."""
        if self.api is not None:
            image = self.api.image(name)
            return ((image.get("Config") or {}).get("User") or "") if image else None
        completed = self.runner.run(cmd.image_user(name), check=False)
        return completed.stdout.strip() if completed.returncode == 0 else None

    def image_label(self, name: str, key: str) -> str | None:
        if self.api is not None:
            image = self.api.image(name)
            labels = ((image or {}).get("Config") or {}).get("Labels") or {}
            return labels.get(key) or None
        completed = self.runner.run(cmd.image_label(name, key), check=False)
        value = completed.stdout.strip()
        return value if completed.returncode == 0 and value not in ("", "<no value>") else None

    # -- containers ---------------------------------------------------------------------
    def inspect_containers(self) -> list[dict[str, Any]]:
        """`docker inspect` of every container of the project, running or not."""
        label = f"{cmd.COMPOSE_PROJECT_LABEL}={self.project_name}"
        if self.api is not None:
            found = (self.api.inspect_container(c["Id"]) for c in self.api.containers(label))
            # A container removed between the two reads is simply not there.
            return [container for container in found if container is not None]
        ids = self.runner.output(cmd.container_ids(label)).split()
        if not ids:
            return []
        # A container removed between the two calls makes inspect exit 1 for that id only.
        inspected = self.runner.run(cmd.inspect(ids), check=False)
        return json.loads(inspected.stdout) if inspected.stdout.lstrip().startswith("[") else []

    def service_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        """Health as the engine's last check says, or tr4ctl's own run of the same check
        where that is newer (plan/healthchecks.py): every reader (status, verify, health,
        the pre-flights) sees the same."""
        states = project_states(self.inspect_containers(), services)
        if any(engine_undecided(state) for state in states.values()):
            recorded = self.recorded_ready() if self.recorded_ready is not None else {}
            states = with_own_checks(states, {**recorded, **self.seen_ready})
        return states

    def quick_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        """State and health only, in one read: what a wait loop needs at each turn."""
        if self.api is None:
            return self.service_states(services)
        label = f"{cmd.COMPOSE_PROJECT_LABEL}={self.project_name}"
        return project_summaries(self.api.containers(label), services)

    def service_containers(self, service: str) -> list[ServiceState]:
        """Every container of one service (a deploy runs two for a moment)."""
        labels = (f"{cmd.COMPOSE_PROJECT_LABEL}={self.project_name}",
                  f"{cmd.COMPOSE_SERVICE_LABEL}={service}")
        return [self.container_state(container_id, service)
                for container_id in self.labelled_container_ids(*labels)]

    def container_state(self, container_id: str, name: str) -> ServiceState:
        found = self.inspect_container(container_id)
        if found is None:
            return absent(name)
        return state_from_inspect(name, found)

    def passes_own_check(self, container_id: str) -> bool:
        """The container's healthcheck, run once now as the engine would run it (the
        engine's own next check may be an interval away): it passes, and its output does
        not say live but not ready (the backend's)."""
        if container_id not in self._check_commands:
            found = self.inspect_container(container_id)
            test = (((found or {}).get("Config") or {}).get("Healthcheck") or {}).get("Test")
            self._check_commands[container_id] = check_command(test)
        command = self._check_commands[container_id]
        if command is None:
            return False
        try:
            completed = self.runner.run(cmd.run_check(container_id, command), check=False,
                                        timeout=CHECK_SECONDS)
        except OperationFailed:  # it hung: failed, as the engine would count it
            return False
        return completed.returncode == 0 and not_ready_reason(completed.stdout) is None

    def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        if self.api is not None:
            return self.api.inspect_container(container_id)
        completed = self.runner.run(cmd.inspect([container_id]), check=False)
        documents = json.loads(completed.stdout) if completed.returncode == 0 else []
        return documents[0] if documents else None

    def labelled_container_ids(self, *labels: str) -> list[str]:
        if self.api is not None:
            return [container["Id"] for container in self.api.containers(*labels)]
        return self.runner.output(cmd.container_ids(*labels)).split()

    def volume_users(self, volumes: list[str]) -> list[dict[str, Any]]:
        """The containers (any state, any project) mounting any of the volumes: their
        id, name and labels."""
        if not volumes:
            return []
        if self.api is not None:
            found = self.api.get("/containers/json",
                                 {"all": "1", "filters": {"volume": list(volumes)}}) or []
            return [{"id": c["Id"], "name": (c.get("Names") or [c["Id"][:12]])[0].lstrip("/"),
                     "labels": c.get("Labels") or {}} for c in found]
        ids = self.runner.output(cmd.container_ids_using_volumes(volumes)).split()
        if not ids:
            return []
        inspected = self.runner.run(cmd.inspect(ids), check=False)
        documents = json.loads(inspected.stdout) \
            if inspected.stdout.lstrip().startswith("[") else []
        return [{"id": d["Id"], "name": str(d.get("Name", "")).lstrip("/") or d["Id"][:12],
                 "labels": (d.get("Config") or {}).get("Labels") or {}} for d in documents]

    def stop_containers(self, ids: list[str], timeout: int) -> None:
        if ids:
            self.runner.run(cmd.stop_containers(ids, timeout=timeout), timeout=timeout + 60)

    def remove_containers(self, ids: list[str]) -> None:
        """Gone when this returns. A container the engine is already removing (a helper
        run with --rm whose client a signal just ended) counts: waited for, not an error."""
        if not ids:
            return
        completed = self.runner.run(cmd.remove_containers(ids), check=False)
        if completed.returncode == 0:
            return
        if not any(words in completed.stderr for words in REMOVAL_UNDER_WAY):
            self.runner.run(cmd.remove_containers(ids))  # the runner's one-line failure
            return
        deadline = time.monotonic() + REMOVAL_WAIT
        while self.runner.output(cmd.existing_containers(ids), check=False).split():
            if time.monotonic() > deadline:
                self.runner.run(cmd.remove_containers(ids))
                return
            time.sleep(0.2)

    def top(self, container_id: str) -> list[dict[str, str]] | None:
        """The container's processes as the host sees them (no ps needed in the image):
        uid, pid, ppid, args. None when the container is not running."""
        completed = self.runner.run(cmd.top(container_id), check=False)
        if completed.returncode != 0:
            return None
        rows = []
        for line in completed.stdout.splitlines()[1:]:
            fields = line.split(None, 3)
            if len(fields) == 4:
                rows.append(dict(zip(("uid", "pid", "ppid", "args"), fields)))
        return rows

    # -- compose ------------------------------------------------------------------------
    def validate_compose(self, files: list[Path]) -> None:
        self.runner.run(self.project.with_files(files).config_check(),
                        what="validating the rendered compose file",
                        hint="check the templates and .env; nothing was started")

    def compose_up(self, services: list[str], *, build: bool = False,
                   remove_orphans: bool = False) -> None:
        self.runner.run(self.project.up(services, build=build, remove_orphans=remove_orphans))

    def compose_down(self, timeout: int | None = None) -> None:
        self.runner.run(self.project.down(timeout=timeout))

    def compose_stop(self, services: list[str]) -> None:
        self.runner.run(self.project.stop(services))

    def compose_start(self, services: list[str], timeout: float | None = 300) -> None:
        self.runner.run(self.project.start(services), timeout=timeout)

    def compose_build(self, files: list[Path], services: list[str]) -> None:
        self.runner.run(self.project.with_files(files).build(services), what="building " +
                        ", ".join(services), hint="see the build output with --verbose")

    def add_container(self, service: str, count: int) -> None:
        self.runner.run(self.project.add_container(service, count))

    def stop_container(self, container_id: str, timeout: int) -> None:
        self.runner.run(cmd.stop_container(container_id, timeout=timeout), timeout=timeout + 30)

    def exec_in_container(self, container_id: str, command: list[str], *,
                          input_text: str | None = None, check: bool = True,
                          timeout: float | None = None) -> Completed[str]:
        return self.runner.run(cmd.exec_in_container(container_id, command), input=input_text,
                               check=check, timeout=timeout)

    def start_container(self, container_id: str) -> None:
        self.runner.run(cmd.start_container(container_id))

    def run_image(self, image: str, command: list[str], timeout: float = 120) -> str:
        return self.runner.output(cmd.run_image(image, command), timeout=timeout)

    def remove_images(self, images: list[str]) -> None:
        if images:
            self.runner.run(cmd.image_remove(images), check=False)

    def container_logs(self, container_id: str, lines: int = 20) -> str:
        completed = self.runner.run(cmd.container_logs(container_id, lines), check=False)
        return (completed.stdout + completed.stderr).strip()

    def compose_restart(self, services: list[str]) -> None:
        self.runner.run(self.project.restart(services))

    def exec_attached(self, service: str, command: list[str], *, tty: bool) -> int:
        """`tr4ctl exec`: the command in a running container of the service, attached to
        this terminal; its exit code."""
        from tr4ctl.plan.service_exec import running_container

        container = running_container(service, self.service_containers(service))
        return self.runner.attach(cmd.exec_attached(container, command, tty=tty))

    def exec_argv(self, service: str, command: list[str], *, user: str | None = None
                  ) -> list[str]:
        """The argv that runs a command in the service's container (data streams)."""
        return self.project.exec(service, command, user=user)

    def exec_in(self, service: str, command: list[str], *, input_text: str | None = None,
                user: str | None = None, check: bool = True,
                timeout: float | None = None) -> Completed[str]:
        """stdin carries data (secrets included), never argv."""
        return self.runner.run(self.exec_argv(service, command, user=user),
                               input=input_text, check=check, timeout=timeout)

    def run_tool(self, service: str, command: list[str], *, envs: dict[str, str] | None = None,
                 volumes: list[str] | None = None, entrypoint: str | None = None,
                 check: bool = True, timeout: float | None = None,
                 input_text: str | None = None) -> Completed[str]:
        """A one-off tool container (certbot); env values travel in the environment."""
        argv = self.project.run(service, command, env_keys=list(envs or {}),
                                volumes=volumes or [], entrypoint=entrypoint)
        return self.runner.run(argv, input=input_text, check=check, timeout=timeout, env=envs)

    def logs(self, services: list[str], *, follow: bool, tail: str | None,
             timestamps: bool = False) -> int:
        return self.runner.attach(self.project.logs(services, follow=follow, tail=tail,
                                                    timestamps=timestamps))

    def log_lines(self, services: list[str], *, follow: bool, tail: str | None,
                  timestamps: bool = False) -> Iterator[str]:
        return self.runner.lines(self.project.logs(services, follow=follow, tail=tail,
                                                   timestamps=timestamps, no_color=True))

    def log_tail(self, service: str, lines: int = 20) -> str:
        argv = self.project.logs([service], tail=str(lines), no_color=True)
        return self.runner.run(argv, check=False).stdout.strip()
