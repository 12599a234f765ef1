"""The one door to Docker: every engine and compose call of tr4ctl goes through here.

python-on-whales does the calling; this module adds what operators need around it:
the equivalent command line in --verbose, and Docker's own errors turned into one
line with a hint.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.output import Output

if TYPE_CHECKING:
    from python_on_whales import DockerClient

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
        try:
            completed = subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                capture_output=True, text=True, timeout=15,
            )
        except FileNotFoundError:
            raise MissingPrerequisite("the docker command is not installed", ENGINE_HINT) from None
        except subprocess.TimeoutExpired:
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
    # The calls on `up`'s path (volumes, network, compose up, state polling) are plain CLI
    # calls: importing python-on-whales alone costs more than any of them.
    def existing_volumes(self, names: list[str]) -> set[str]:
        return set(self._cli(["docker", "volume", "ls", "-q"]).split()) & set(names)

    def create_volume(self, name: str) -> None:
        labels = {"io.tr4ctl.project": self.project_name}
        self._call(["docker", "volume", "create", name], self.client.volume.create, name,
                   labels=labels)

    def remove_volume(self, name: str) -> None:
        self._call(["docker", "volume", "rm", name], self.client.volume.remove, name)

    def network_exists(self, name: str) -> bool:
        listed = self._cli(["docker", "network", "ls", "-q", "--filter", f"name=^{name}$"])
        return bool(listed.strip())

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
        self._cli(argv)

    def compose_down(self, timeout: int | None = None) -> None:
        self._call(self.compose_argv("down"), self.client.compose.down, timeout=timeout,
                   remove_orphans=True, quiet=not self.out.verbose)

    def compose_restart(self, services: list[str]) -> None:
        self._call(self.compose_argv("restart", *services), self.client.compose.restart,
                   services)

    def compose_stop(self, services: list[str]) -> None:
        self._call(self.compose_argv("stop", *services), self.client.compose.stop, services)

    def _cli(self, argv: list[str]) -> str:
        """Run a docker command; its failure becomes one line with a hint."""
        completed = self._run(argv, check=False)
        if completed.returncode != 0:
            raise _translate(_CliFailure(completed.stderr or completed.stdout), argv)
        return completed.stdout

    def inspect_containers(self) -> list[dict[str, Any]]:
        """`docker inspect` of every container of the project, running or not.

        Two plain CLI calls parsed as JSON: commands poll this (up waits on it), and
        python-on-whales' typed models cost more to import and parse than the calls.
        """
        label = f"label=com.docker.compose.project={self.project_name}"
        ids = self._cli(["docker", "ps", "-aq", "--no-trunc", "--filter", label]).split()
        if not ids:
            return []
        # A container removed between the two calls makes inspect exit 1 for that id only.
        inspected = self._run(["docker", "inspect", *ids], check=False)
        return json.loads(inspected.stdout) if inspected.stdout.lstrip().startswith("[") else []

    def service_states(self, services: tuple[str, ...]) -> dict[str, ServiceState]:
        found: dict[str, ServiceState] = {}
        for container in self.inspect_containers():
            labels = container["Config"].get("Labels") or {}
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

    def image_id(self, name: str) -> str | None:
        """The local image's id, or None. Plain `docker image inspect`: python-on-whales'
        model parsing fails on an image that is being replaced by a concurrent build."""
        argv = ["docker", "image", "inspect", "--format", "{{.Id}}", name]
        self._trace(argv)
        completed = subprocess.run(argv, capture_output=True, text=True)
        if completed.returncode != 0:
            return None
        return completed.stdout.strip() or None

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


def _service_state(service: str, container: dict[str, Any]) -> ServiceState:
    state, config = container["State"], container["Config"]
    ports = []
    for container_port, bindings in (container["NetworkSettings"].get("Ports") or {}).items():
        for binding in bindings or []:
            ports.append(f"{binding['HostIp']}:{binding['HostPort']}->{container_port}")
    return ServiceState(
        service=service,
        container_id=container["Id"],
        state=state["Status"],
        health=(state.get("Health") or {}).get("Status"),
        image=config.get("Image"),
        ports=sorted(ports),
        env=(config.get("Labels") or {}).get("io.tr4ctl.env"),
        started_at=state.get("StartedAt") if state.get("Running") else None,
        restart_count=container.get("RestartCount", 0),
        user=config.get("User") or "root",
    )


class _CliFailure(Exception):
    def __init__(self, stderr: str):
        super().__init__(stderr)
        self.stderr = stderr


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _translate(exc: Exception, argv: list[str]) -> Exception:
    stderr = getattr(exc, "stderr", "") or ""
    reason = _last_line(stderr) or _last_line(str(exc)) or "failed"
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


class VolumeStreams:
    """Bytes in and out of the stack's volumes and services, for `tr4ctl backup`.

    Volumes are read and written through a throwaway container of an image the stack
    already has (tar, find and python3 are in it), never through the host's
    /var/lib/docker: that works on any engine and keeps file owners numeric. Data goes
    over the container's stdin/stdout, never through argv or a host bind mount.
    """

    def __init__(self, engine: Engine, helper_image: str):
        self.engine = engine
        self.image = helper_image

    def _docker_run(self, mounts: dict[str, str], command: list[str], *, stdin: bool = False,
                    user: str = "0:0", envs: dict[str, str] | None = None) -> list[str]:
        argv = ["docker", "run", "--rm", *(["-i"] if stdin else []), "--network", "none",
                "--user", user, "--label", f"io.tr4ctl.project={self.engine.project_name}",
                "--label", "io.tr4ctl.role=backup-helper"]
        for volume, target in mounts.items():
            argv += ["-v", f"{volume}:{target}"]
        for key in envs or {}:
            argv += ["-e", key]  # the value comes from the environment, not argv
        return argv + ["--entrypoint", command[0], self.image, *command[1:]]

    def volume_kib(self, volumes: list[str]) -> dict[str, int]:
        """Disk use of each volume in KiB (du rounds up to blocks: an upper bound of the
        tar stream). Only pass volumes that exist: `docker run -v` would create them."""
        if not volumes:
            return {}
        mounts = {name: f"/v/{i}:ro" for i, name in enumerate(volumes)}
        argv = self._docker_run(mounts, ["du", "-sk", *(f"/v/{i}" for i in range(len(volumes)))])
        completed = self._checked(argv, "measuring the volumes")
        sizes: dict[str, int] = {}
        for line in completed.stdout.splitlines():
            kib, _, path = line.partition("\t")
            index = path.rsplit("/", 1)[-1]
            if kib.isdigit() and index.isdigit():
                sizes[volumes[int(index)]] = int(kib)
        return sizes

    def read_volume(self, volume: str, dest: Path, exclude: list[str] | None = None) -> None:
        """The volume as a tar stream (read-only mount, numeric owners) into dest."""
        options = ["--anchored", *(f"--exclude={pattern}" for pattern in exclude or [])]
        argv = self._docker_run({volume: "/v:ro"},
                                ["tar", "-cf", "-", "--numeric-owner", *options, "-C", "/v", "."])
        self._stream_out(argv, dest, f"copying volume {volume}")

    def replace_volume(self, volume: str, source: Any) -> None:
        """Empty the volume, then unpack the tar read from source.read() into it."""
        script = 'find /v -mindepth 1 -delete && exec tar -xf - --numeric-owner -p -C /v'
        argv = self._docker_run({volume: "/v"}, ["sh", "-c", script], stdin=True)
        self._stream_in(argv, source, f"restoring volume {volume}")

    def empty_volume(self, volume: str) -> None:
        argv = self._docker_run({volume: "/v"}, ["find", "/v", "-mindepth", "1", "-delete"])
        self._checked(argv, f"emptying volume {volume}")

    def write_file(self, volume: str, path_in_volume: str, source: Any, *, owner: str,
                   mode: str) -> None:
        """One file into a volume, renamed into place with its owner and mode."""
        script = ('set -e; target="/v/$1"; mkdir -p "$(dirname "$target")"; '
                  'cat > "$target.tr4ctl-tmp"; chown "$2" "$target.tr4ctl-tmp"; '
                  'chmod "$3" "$target.tr4ctl-tmp"; mv -f "$target.tr4ctl-tmp" "$target"')
        argv = self._docker_run({volume: "/v"},
                                ["sh", "-c", script, "sh", path_in_volume, owner, mode],
                                stdin=True)
        self._stream_in(argv, source, f"writing {path_in_volume} into {volume}")

    def python_in_service(self, service: str, script: str, dest: Path, what: str) -> str:
        """Run a python3 script (sent on stdin) in a running service; its stdout goes to
        dest, its stderr is returned."""
        argv = self.engine.compose_argv("exec", "-T", service, "python3", "-")
        return self._stream_out(argv, dest, what, stdin_bytes=script.encode())

    def python_on_volume(self, volume: str, mount: str, script: str, dest: Path, what: str,
                         envs: dict[str, str] | None = None) -> str:
        """The same, in a throwaway container with the volume mounted read-only."""
        argv = self._docker_run({volume: f"{mount}:ro"}, ["python3", "-"], stdin=True,
                                envs=envs)
        return self._stream_out(argv, dest, what, env_extra=envs, stdin_bytes=script.encode())

    def remove_leftover_helpers(self) -> list[str]:
        """Helpers of this project still running: only a killed tr4ctl leaves one (the
        caller holds the stack's lock), and it must not write on after a new start."""
        argv = ["docker", "ps", "-aq", "--filter", f"label=io.tr4ctl.project={self.engine.project_name}",
                "--filter", "label=io.tr4ctl.role=backup-helper"]
        ids = self._checked(argv, "listing backup helpers").stdout.split()
        if ids:
            self._checked(["docker", "rm", "-f", *ids], "removing leftover backup helpers")
        return ids

    def compose_start(self, services: list[str]) -> None:
        argv = self.engine.compose_argv("start", *services)
        self.engine._run(argv, check=True, timeout=300)

    # -- plumbing -----------------------------------------------------------------------
    def _checked(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        self.engine._trace(argv)
        completed = subprocess.run(argv, capture_output=True, text=True)
        if completed.returncode != 0:
            raise OperationFailed(f"{what} failed: {_last_line(completed.stderr)}",
                                  "see `tr4ctl status`; rerun with --verbose")
        return completed

    def _stream_out(self, argv: list[str], dest: Path, what: str,
                    env_extra: dict[str, str] | None = None,
                    stdin_bytes: bytes | None = None) -> str:
        import os
        import tempfile

        self.engine._trace(argv)
        env = {**os.environ, **(env_extra or {})}
        with tempfile.TemporaryFile() as errors, dest.open("wb") as sink:
            # stderr to a file: a chatty process can never block on a full pipe.
            completed = subprocess.run(argv, input=stdin_bytes, stdout=sink, stderr=errors,
                                       env=env,
                                       stdin=None if stdin_bytes is not None else subprocess.DEVNULL)
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if completed.returncode != 0:
            raise OperationFailed(f"{what} failed: {_last_line(stderr) or 'exit ' + str(completed.returncode)}",
                                  "see `tr4ctl status`; rerun with --verbose")
        return stderr

    def _stream_in(self, argv: list[str], source: Any, what: str) -> None:
        import tempfile

        self.engine._trace(argv)
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=errors)
            assert proc.stdin is not None
            try:
                while chunk := source.read(1 << 20):
                    proc.stdin.write(chunk)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the container ended early: its exit code and stderr say why
            except BaseException:
                # The source failed: stop feeding the container and report the source's
                # error (a restore's journal marks the volume as unfinished).
                proc.kill()
                proc.wait()
                raise
            code = proc.wait()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if code != 0:
            raise OperationFailed(f"{what} failed: {_last_line(stderr) or 'exit ' + str(code)}",
                                  "see `tr4ctl status`; rerun with --verbose")
