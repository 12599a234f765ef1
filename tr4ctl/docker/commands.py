"""The exact command line of every docker and compose call tr4ctl makes.

Pure builders (Kamal's `commands/` idea): each returns an argv list and runs nothing,
so every call is unit-tested as an exact list, shown by --verbose as it is, and run
by the one runner (docker/runner.py). Secrets never appear here: values that must
stay out of argv are passed by name (`-e KEY`) and travel in the environment or on
stdin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DOCKER = "docker"
PROJECT_LABEL = "io.tr4ctl.project"
ROLE_LABEL = "io.tr4ctl.role"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


# A container tr4ctl runs itself inherits its image's labels: an image compose built
# carries com.docker.compose.project=<the project that built it>, so a helper made from
# it would count as that project's container, and that project's `down` (or `up
# --remove-orphans`) would kill it mid-copy, whichever project the helper works for.
# Emptied, they match no project.
NOT_COMPOSE = {COMPOSE_PROJECT_LABEL: "", COMPOSE_SERVICE_LABEL: ""}


def _labels(labels: Mapping[str, str]) -> list[str]:
    argv: list[str] = []
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    return argv


# -- the engine itself ------------------------------------------------------------------
def server_version() -> list[str]:
    return [DOCKER, "version", "--format", "{{.Server.Version}}"]


def compose_version() -> list[str]:
    return [DOCKER, "compose", "version", "--short"]


def docker_root_dir() -> list[str]:
    return [DOCKER, "info", "--format", "{{.DockerRootDir}}"]


# -- volumes, networks, images ----------------------------------------------------------
def volume_names() -> list[str]:
    return [DOCKER, "volume", "ls", "-q"]


def volume_create(name: str, labels: Mapping[str, str]) -> list[str]:
    return [DOCKER, "volume", "create", *_labels(labels), name]


def volume_remove(name: str) -> list[str]:
    return [DOCKER, "volume", "rm", name]


def network_ids(name: str) -> list[str]:
    return [DOCKER, "network", "ls", "-q", "--filter", f"name=^{name}$"]


def network_create(name: str, labels: Mapping[str, str]) -> list[str]:
    return [DOCKER, "network", "create", *_labels(labels), name]


def network_remove(name: str) -> list[str]:
    return [DOCKER, "network", "rm", name]


def network_containers(name: str) -> list[str]:
    """{container id: {"Name": ...}} of the containers attached to the network."""
    return [DOCKER, "network", "inspect", "--format", "{{json .Containers}}", name]


def image_id(name: str) -> list[str]:
    return [DOCKER, "image", "inspect", "--format", "{{.Id}}", name]


def image_id_and_size(name: str) -> list[str]:
    return [DOCKER, "image", "inspect", "--format", "{{.Id}} {{.Size}}", name]


def image_user(name: str) -> list[str]:
    return [DOCKER, "image", "inspect", "--format", "{{.Config.User}}", name]


def image_label(name: str, key: str) -> list[str]:
    return [DOCKER, "image", "inspect", "--format", f'{{{{index .Config.Labels "{key}"}}}}', name]


def image_import(tarball: Path, tag: str, changes: Iterable[str]) -> list[str]:
    argv = [DOCKER, "import"]
    for change in changes:
        argv += ["--change", change]
    return [*argv, str(tarball), tag]


def image_build_from_stdin(tag: str) -> list[str]:
    """A Dockerfile on stdin, no context (the legacy builder; no buildx plugin needed)."""
    return [DOCKER, "build", "--quiet", "-t", tag, "-"]


# -- containers -------------------------------------------------------------------------
def container_ids(*label_filters: str) -> list[str]:
    argv = [DOCKER, "ps", "-aq", "--no-trunc"]
    for label in label_filters:
        argv += ["--filter", f"label={label}"]
    return argv


def container_ids_using_volumes(volumes: Iterable[str]) -> list[str]:
    """Every container, in any state, that mounts any of the volumes."""
    argv = [DOCKER, "ps", "-aq", "--no-trunc"]
    for volume in volumes:
        argv += ["--filter", f"volume={volume}"]
    return argv


def stop_containers(ids: Iterable[str], *, timeout: int) -> list[str]:
    return [DOCKER, "stop", "--time", str(timeout), *ids]


def inspect(ids: Iterable[str]) -> list[str]:
    return [DOCKER, "inspect", *ids]


def top(container_id: str) -> list[str]:
    return [DOCKER, "top", container_id, "-o", "uid,pid,ppid,args"]


def remove_containers(ids: Iterable[str]) -> list[str]:
    return [DOCKER, "rm", "-f", *ids]


def existing_containers(ids: Iterable[str]) -> list[str]:
    """The ids among these that still exist (running or not)."""
    return [DOCKER, "ps", "-aq", "--no-trunc", *(f"--filter=id={i}" for i in ids)]


def stop_container(container_id: str, *, timeout: int) -> list[str]:
    """SIGTERM, then SIGKILL after `timeout` seconds: in-flight requests finish first."""
    return [DOCKER, "stop", "--time", str(timeout), container_id]


def container_logs(container_id: str, lines: int) -> list[str]:
    return [DOCKER, "logs", "--tail", str(lines), container_id]


def exec_in_container(container_id: str, command: list[str],
                      env_keys: Iterable[str] = ()) -> list[str]:
    """`-e KEY` without a value: the value comes from the runner's environment."""
    argv = [DOCKER, "exec", "-i"]
    for key in env_keys:
        argv += ["-e", key]
    return [*argv, container_id, *command]


def exec_attached(container_id: str, command: list[str], *, tty: bool) -> list[str]:
    """`tr4ctl exec`: this process's stdin, stdout and stderr; a terminal when asked."""
    return [DOCKER, "exec", "-i", *(["-t"] if tty else []), container_id, *command]


def run_check(container_id: str, command: list[str]) -> list[str]:
    """A container's healthcheck run by hand: no stdin, like the engine's own run."""
    return [DOCKER, "exec", container_id, *command]


def start_container(container_id: str) -> list[str]:
    return [DOCKER, "start", container_id]


def image_remove(images: Iterable[str]) -> list[str]:
    return [DOCKER, "image", "rm", *images]


def run_image(image: str, command: list[str]) -> list[str]:
    """A throwaway container of an image, offline: to ask the image about itself."""
    return [DOCKER, "run", "--rm", "--network", "none", *_labels(NOT_COMPOSE),
            "--entrypoint", command[0], image, *command[1:]]


def helper_run(image: str, command: list[str], *, project: str, role: str,
               mounts: Mapping[str, str], stdin: bool = False, user: str = "0:0",
               env_keys: Iterable[str] = ()) -> list[str]:
    """A throwaway container with no network, labelled so a killed run's leftovers are
    found. `-e KEY` without a value: the value comes from the runner's environment."""
    argv = [DOCKER, "run", "--rm", *(["-i"] if stdin else []), "--network", "none",
            "--user", user,
            *_labels({**NOT_COMPOSE, PROJECT_LABEL: project, ROLE_LABEL: role})]
    for volume, target in mounts.items():
        argv += ["-v", f"{volume}:{target}"]
    for key in env_keys:
        argv += ["-e", key]
    return [*argv, "--entrypoint", command[0], image, *command[1:]]


# -- compose ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ComposeProject:
    """`docker compose -p NAME -f FILE...`: every compose call names the same project and
    the same files (a call with other files would recreate dependencies from those)."""

    name: str
    files: tuple[Path, ...]

    def base(self) -> list[str]:
        argv = [DOCKER, "compose", "-p", self.name]
        for path in self.files:
            argv += ["-f", str(path)]
        return argv

    def with_files(self, files: Iterable[Path]) -> ComposeProject:
        return ComposeProject(self.name, tuple(files))

    def config_check(self) -> list[str]:
        return [*self.base(), "config", "--quiet"]

    def up(self, services: Iterable[str] = (), *, build: bool = False,
           remove_orphans: bool = False) -> list[str]:
        """remove_orphans: a service the settings no longer render (alert-watch without
        a webhook, backup-schedule without a schedule) goes, as a swarm's --prune does."""
        return [*self.base(), "up", "--detach", *(["--build"] if build else []),
                *(["--remove-orphans"] if remove_orphans else []), *services]

    def add_container(self, service: str, count: int) -> list[str]:
        """Run `count` containers of the service with the file's current definition,
        leaving the running ones as they are (a new release beside the old one)."""
        return [*self.base(), "up", "--detach", "--no-deps", "--no-recreate",
                "--scale", f"{service}={count}", service]

    def build(self, services: Iterable[str]) -> list[str]:
        return [*self.base(), "build", *services]

    def down(self, *, timeout: int | None = None) -> list[str]:
        return [*self.base(), "down", "--remove-orphans",
                *(["--timeout", str(timeout)] if timeout is not None else [])]

    def stop(self, services: Iterable[str]) -> list[str]:
        return [*self.base(), "stop", *services]

    def start(self, services: Iterable[str]) -> list[str]:
        return [*self.base(), "start", *services]

    def restart(self, services: Iterable[str]) -> list[str]:
        return [*self.base(), "restart", *services]

    def exec(self, service: str, command: list[str], *, user: str | None = None) -> list[str]:
        """`exec -T`: no terminal, so stdin can carry data (secrets included)."""
        return [*self.base(), "exec", "-T", *(["--user", user] if user else []), service,
                *command]

    def run(self, service: str, command: list[str], *, env_keys: Iterable[str] = (),
            volumes: Iterable[str] = (), entrypoint: str | None = None) -> list[str]:
        """A one-off tool container (`run --rm --no-deps -T`)."""
        extra: list[str] = []
        for key in env_keys:
            extra += ["-e", key]
        for volume in volumes:
            extra += ["-v", volume]
        if entrypoint is not None:
            extra += ["--entrypoint", entrypoint]
        return [*self.base(), "run", "--rm", "--no-deps", "-T", *extra, service, *command]

    def logs(self, services: Iterable[str] = (), *, follow: bool = False,
             tail: str | None = None, timestamps: bool = False,
             no_color: bool = False) -> list[str]:
        return [*self.base(), "logs", *(["--no-color"] if no_color else []),
                *(["--follow"] if follow else []), *(["--tail", tail] if tail else []),
                *(["--timestamps"] if timestamps else []), *services]



# -- swarm --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SwarmStack:
    """`docker stack`/`docker service` calls for one stack (named after the project)."""

    name: str
    file: Path

    def service(self, service: str) -> str:
        return f"{self.name}_{service}"

    def deploy(self) -> list[str]:
        # --resolve-image never: no registry to ask; every node must hold the images.
        return [DOCKER, "stack", "deploy", "--compose-file", str(self.file),
                "--resolve-image", "never", "--prune", self.name]

    def remove(self) -> list[str]:
        return [DOCKER, "stack", "rm", self.name]

    def scale(self, service: str, replicas: int) -> list[str]:
        """Returns once the service converged."""
        return [DOCKER, "service", "scale", f"{self.service(service)}={replicas}"]

    def update_image(self, service: str, image: str) -> list[str]:
        """Returns at once (the caller follows UpdateStatus); forced, so the same image
        is a rolling restart too."""
        return [DOCKER, "service", "update", "--detach", "--force", "--no-resolve-image",
                "--image", image, self.service(service)]

    def roll_back(self, service: str) -> list[str]:
        return [DOCKER, "service", "rollback", "--detach", self.service(service)]

    def restart(self, service: str) -> list[str]:
        """A rolling restart; returns once it converged."""
        return [DOCKER, "service", "update", "--force", self.service(service)]

    def logs(self, service: str, *, follow: bool = False, tail: str | None = None,
             timestamps: bool = False) -> list[str]:
        return [DOCKER, "service", "logs", *(["--follow"] if follow else []),
                *(["--tail", tail] if tail else []), *(["--timestamps"] if timestamps else []),
                self.service(service)]


def stack_config(file: Path) -> list[str]:
    """The stack file as `docker stack deploy` reads it (docker CLI 23 and later)."""
    return [DOCKER, "stack", "config", "--compose-file", str(file)]


def network_create_overlay(name: str, labels: Mapping[str, str]) -> list[str]:
    """Attachable: tr4ctl's one-off containers (certbot, backups) join it too."""
    return [DOCKER, "network", "create", "--driver", "overlay", "--attachable",
            *_labels(labels), name]


def node_label(node: str, label: str) -> list[str]:
    return [DOCKER, "node", "update", "--label-add", label, node]


def run_attached(image: str, command: list[str], *, network: str, mounts: Mapping[str, str],
                 env_keys: Iterable[str] = (), entrypoint: str | None = None,
                 labels: Mapping[str, str] | None = None) -> list[str]:
    """A one-off container on the stack's (attachable overlay) network: a tool run on a
    swarm, where `compose run` does not exist."""
    argv = [DOCKER, "run", "--rm", "-i", "--network", network,
            *_labels({**NOT_COMPOSE, **(labels or {})})]
    for volume, target in mounts.items():
        argv += ["-v", f"{volume}:{target}"]
    for key in env_keys:
        argv += ["-e", key]
    if entrypoint is not None:
        argv += ["--entrypoint", entrypoint]
    return [*argv, image, *command]
