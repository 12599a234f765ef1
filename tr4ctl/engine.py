"""The one door to Docker: every engine and compose call of tr4ctl goes through here.

python-on-whales does the calling; this module adds what operators need around it:
the equivalent command line in --verbose, and Docker's own errors turned into one
line with a hint.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.output import Output

if TYPE_CHECKING:
    from python_on_whales import Container, DockerClient

ENGINE_HINT = "start the engine (scripts/provision-docker.sh installs and starts one)"


@dataclass
class ServiceState:
    service: str
    container_id: str | None
    state: str  # running, exited, restarting, created, absent
    health: str | None  # healthy, unhealthy, starting, None (no healthcheck)
    image: str | None = None
    ports: list[str] = field(default_factory=list)
    env: str | None = None
    started_at: str | None = None
    restart_count: int = 0
    user: str | None = None


class Engine:
    def __init__(self, out: Output, project_name: str, compose_files: list[Path] | None = None):
        self.out = out
        self.project_name = project_name
        self.compose_files = list(compose_files or [])
        self._client: DockerClient | None = None

    # -- plumbing ---------------------------------------------------------------
    @property
    def client(self) -> DockerClient:
        if self._client is None:
            from python_on_whales import DockerClient

            self._client = DockerClient(
                compose_files=self.compose_files, compose_project_name=self.project_name
            )
        return self._client

    def compose_argv(self, *args: str) -> list[str]:
        argv = ["docker", "compose", "-p", self.project_name]
        for path in self.compose_files:
            argv += ["-f", str(path)]
        return argv + list(args)

    def _trace(self, argv: list[str]) -> None:
        self.out.detail("$ " + shlex.join(argv))

    def _call(self, what: list[str], fn, *args: Any, **kwargs: Any) -> Any:
        from python_on_whales.exceptions import DockerException

        self._trace(what)
        try:
            return fn(*args, **kwargs)
        except DockerException as exc:
            raise _translate(exc, what) from None

    # -- prerequisites ----------------------------------------------------------
    def require_engine(self) -> None:
        from python_on_whales.exceptions import DockerException

        try:
            completed = subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                capture_output=True, text=True, timeout=15,
            )
        except FileNotFoundError:
            raise MissingPrerequisite("the docker command is not installed", ENGINE_HINT) from None
        except (subprocess.TimeoutExpired, DockerException):
            completed = None
        if completed is None or completed.returncode != 0 or not completed.stdout.strip():
            raise MissingPrerequisite("no Docker engine is reachable", ENGINE_HINT)

    def compose_version(self) -> str | None:
        completed = subprocess.run(
            ["docker", "compose", "version", "--short"], capture_output=True, text=True
        )
        return completed.stdout.strip().lstrip("v") if completed.returncode == 0 else None

    def require_compose_v2(self) -> str:
        version = self.compose_version()
        if not version or not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
            raise MissingPrerequisite(
                "the docker compose v2 plugin is missing",
                "install it (scripts/provision-docker.sh does) so `docker compose version` works",
            )
        return version

    # -- volumes and network ----------------------------------------------------
    def existing_volumes(self, names: list[str]) -> set[str]:
        listed = self._call(["docker", "volume", "ls"], self.client.volume.list)
        present = {volume.name for volume in listed}
        return present & set(names)

    def create_volume(self, name: str) -> None:
        labels = {"io.tr4ctl.project": self.project_name}
        self._call(["docker", "volume", "create", name], self.client.volume.create, name,
                   labels=labels)

    def remove_volume(self, name: str) -> None:
        self._call(["docker", "volume", "rm", name], self.client.volume.remove, name)

    def network_exists(self, name: str) -> bool:
        return self._call(["docker", "network", "inspect", name], self.client.network.exists, name)

    def create_network(self, name: str) -> None:
        labels = {"io.tr4ctl.project": self.project_name}
        self._call(["docker", "network", "create", name], self.client.network.create, name,
                   labels=labels)

    def remove_network(self, name: str) -> None:
        self._call(["docker", "network", "rm", name], self.client.network.remove, name)

    def image_exists(self, name: str) -> bool:
        return self._call(["docker", "image", "inspect", name], self.client.image.exists, name)

    # -- compose ----------------------------------------------------------------
    def validate_compose(self, files: list[Path]) -> None:
        argv = ["docker", "compose", "-p", self.project_name]
        for path in files:
            argv += ["-f", str(path)]
        argv += ["config", "--quiet"]
        self._trace(argv)
        completed = subprocess.run(argv, capture_output=True, text=True)
        if completed.returncode != 0:
            reason = _last_line(completed.stderr) or "docker compose config failed"
            raise OperationFailed(f"the rendered compose file is invalid: {reason}",
                                  "check the templates and .env; nothing was started")

    def compose_up(self, *, build: bool = False, services: list[str] | None = None) -> None:
        argv = self.compose_argv("up", "--detach", *(["--build"] if build else []),
                                 *(services or []))
        self._call(argv, self.client.compose.up, services=services, detach=True, build=build,
                   quiet=not self.out.verbose)

    def compose_down(self, timeout: int | None = None) -> None:
        self._call(self.compose_argv("down"), self.client.compose.down, timeout=timeout,
                   remove_orphans=True, quiet=not self.out.verbose)

    def compose_build(self, services: list[str] | None = None) -> None:
        self._call(self.compose_argv("build", *(services or [])), self.client.compose.build,
                   services=services)

    def compose_restart(self, services: list[str]) -> None:
        self._call(self.compose_argv("restart", *services), self.client.compose.restart,
                   services)

    def compose_stop(self, services: list[str]) -> None:
        self._call(self.compose_argv("stop", *services), self.client.compose.stop, services)

    def containers(self) -> list[Container]:
        """Every container of the project, running or not (found by compose's label)."""
        filters = {"label": f"com.docker.compose.project={self.project_name}"}
        return self._call(["docker", "ps", "-a", "--filter", filters["label"]],
                          self.client.container.list, all=True, filters=filters)

    def service_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        found: dict[str, ServiceState] = {}
        for container in self.containers():
            labels = container.config.labels or {}
            service = labels.get("com.docker.compose.service")
            if service is None or labels.get("com.docker.compose.oneoff") == "True":
                continue
            found[service] = _service_state(service, container)
        return {name: found.get(name, ServiceState(name, None, "absent", None))
                for name in services} | {
            name: state for name, state in found.items() if name not in services}

    def exec_in(self, service: str, command: list[str], *, input_text: str | None = None,
                user: str | None = None, check: bool = True,
                timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """`compose exec -T`: stdin carries data (secrets included), never argv."""
        argv = self.compose_argv("exec", "-T", *(["--user", user] if user else []), service,
                                 *command)
        return self._run(argv, input_text=input_text, check=check, timeout=timeout)

    def run_tool(self, service: str, command: list[str], *, envs: dict[str, str] | None = None,
                 volumes: list[str] | None = None, entrypoint: str | None = None,
                 check: bool = True, timeout: float | None = None,
                 input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """`compose run --rm --no-deps`: a one-off tool container (certbot)."""
        extra: list[str] = []
        for key in envs or {}:
            extra += ["-e", key]  # value passed through the environment, not argv
        for volume in volumes or []:
            extra += ["-v", volume]
        if entrypoint is not None:
            extra += ["--entrypoint", entrypoint]
        argv = self.compose_argv("run", "--rm", "--no-deps", "-T", *extra, service, *command)
        return self._run(argv, input_text=input_text, check=check, timeout=timeout,
                         env_extra=envs)

    def logs(self, services: list[str], *, follow: bool, tail: str | None,
             timestamps: bool = False) -> int:
        argv = self.compose_argv("logs", *(["--follow"] if follow else []),
                                 *(["--tail", tail] if tail else []),
                                 *(["--timestamps"] if timestamps else []), *services)
        self._trace(argv)
        return subprocess.run(argv).returncode

    def log_tail(self, service: str, lines: int = 20) -> str:
        argv = self.compose_argv("logs", "--no-color", "--tail", str(lines), service)
        return self._run(argv, check=False).stdout.strip()

    def _run(self, argv: list[str], *, input_text: str | None = None, check: bool = True,
             timeout: float | None = None,
             env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        import os

        self._trace(argv)
        env = {**os.environ, **(env_extra or {})}
        try:
            completed = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                                       timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise OperationFailed(f"timed out after {timeout:.0f}s: {shlex.join(argv[:6])} ...",
                                  "check `tr4ctl status` and `tr4ctl logs`") from None
        if check and completed.returncode != 0:
            raise OperationFailed(
                f"{shlex.join(argv[argv.index('compose') + 1:][-3:])} failed: "
                f"{_last_line(completed.stderr) or _last_line(completed.stdout)}",
                "see `tr4ctl logs`",
            )
        return completed

    def stream_lines(self, argv: list[str]) -> Iterator[str]:
        self._trace(argv)
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            yield from proc.stdout

    def top(self, container_id: str) -> list[dict[str, str]] | None:
        """The container's processes as the host sees them (`docker top`: no ps needed in
        the image): uid, pid, ppid, args. None when the container is not running."""
        argv = ["docker", "top", container_id, "-o", "uid,pid,ppid,args"]
        self._trace(argv)
        completed = subprocess.run(argv, capture_output=True, text=True)
        if completed.returncode != 0:
            return None
        rows = []
        for line in completed.stdout.splitlines()[1:]:
            fields = line.split(None, 3)
            if len(fields) == 4:
                rows.append(dict(zip(("uid", "pid", "ppid", "args"), fields)))
        return rows


def _service_state(service: str, container: Container) -> ServiceState:
    state = container.state
    health = state.health.status if state.health is not None else None
    ports = []
    for container_port, bindings in (container.network_settings.ports or {}).items():
        for binding in bindings or []:
            ports.append(f"{binding['HostIp']}:{binding['HostPort']}->{container_port}")
    labels = container.config.labels or {}
    return ServiceState(
        service=service,
        container_id=container.id,
        state=state.status,
        health=health,
        image=container.config.image,
        ports=sorted(ports),
        env=labels.get("io.tr4ctl.env"),
        started_at=str(state.started_at) if state.started_at else None,
        restart_count=container.restart_count or 0,
        user=container.config.user or "root",
    )


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _translate(exc: Exception, argv: list[str]) -> Exception:
    stderr = getattr(exc, "stderr", "") or ""
    reason = _last_line(stderr) or str(exc).strip().splitlines()[0]
    lowered = stderr.lower()
    if "cannot connect to the docker daemon" in lowered or "is the docker daemon running" in lowered:
        return MissingPrerequisite("no Docker engine is reachable", ENGINE_HINT)
    hint = "see `tr4ctl logs` and `tr4ctl status`"
    if "pull access denied" in lowered or "failed to resolve reference" in lowered or (
        "error response from daemon" in lowered and "not found" in lowered and "manifest" in lowered
    ) or "dial tcp" in lowered:
        hint = "an image is missing and cannot be pulled: run `tr4ctl images build-local`"
    if "port is already allocated" in lowered or "address already in use" in lowered:
        hint = "free the port or set TR4CTL_HTTP_PORT / TR4CTL_HTTPS_PORT in .env"
    what = " ".join(argv[1:3]) if argv[:2] == ["docker", "compose"] else " ".join(argv[:3])
    return OperationFailed(f"{what} failed: {reason}", hint)


class ImageBuilder:
    """Image-level calls for `images build-local` (no compose involved)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def label(self, tag: str, key: str) -> str | None:
        argv = ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{key}"}}}}', tag]
        completed = subprocess.run(argv, capture_output=True, text=True)
        value = completed.stdout.strip()
        return value if completed.returncode == 0 and value not in ("", "<no value>") else None

    def import_rootfs(self, tarball: Path, tag: str, changes: list[str]) -> None:
        argv = ["docker", "import"]
        for change in changes:
            argv += ["--change", change]
        self._run(argv + [str(tarball), tag], f"docker import {tag}")

    def build_from_text(self, tag: str, dockerfile: str) -> None:
        import os

        # No context is needed; the legacy builder works without the buildx plugin.
        argv = ["docker", "build", "--quiet", "-t", tag, "-"]
        self._run(argv, f"docker build {tag}", input_text=dockerfile,
                  env={**os.environ, "DOCKER_BUILDKIT": "0"})

    def _run(self, argv: list[str], what: str, input_text: str | None = None,
             env: dict[str, str] | None = None) -> None:
        self.engine._trace(argv)
        completed = subprocess.run(argv, input=input_text, capture_output=True, text=True, env=env)
        if completed.returncode != 0:
            raise OperationFailed(f"{what} failed: {_last_line(completed.stderr)}",
                                  "rerun with --verbose; check network access to the package registries")
