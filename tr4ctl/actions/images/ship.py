"""`tr4ctl images ship`, and `ship_images`, which the SSH forwarding (before `up` or
`deploy` on a TR4CTL_HOST) and a swarm's `deploy` (to each node) call.

Pre-flight, no impact yet: this side's ids and sizes, then ONE call asking the
destination for its ids of the same references and ids. Then only what it lacks:
  tag    an id it holds under another name: `docker tag ID REF` there;
  send   `docker save REF...` here streamed into `docker load` there over the same SSH
         connection (no temporary file of the image on either side), progress counted
         in bytes against the engine's sizes; both exit codes checked;
         or, with TR4CTL_REGISTRY: tag and push here, pull and tag there;
  verify ask again: every reference there now has this side's id.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tr4ctl.actions.images.destinations import Destination, SshDestination
from tr4ctl.docker.engine_api import EngineAPI
from tr4ctl.docker.images import image_id_and_size
from tr4ctl.docker.runner import ByteSource, Runner
from tr4ctl.errors import BadInput, MissingPrerequisite, OperationFailed
from tr4ctl.output import Output
from tr4ctl.plan import image_shipping as plan
from tr4ctl.plan import registry as registry_plan
from tr4ctl.plan.image_shipping import DestinationPlan, LocalImage
from tr4ctl.remote.connection import SshConnection

REGISTRY_KEY = "TR4CTL_REGISTRY"
REGISTRY_AUTH_KEY = "TR4CTL_REGISTRY_AUTH_FILE"


@dataclass
class ShipResult:
    destination: str
    sent: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    seconds: float = 0.0
    via: str = "ssh"  # "ssh" (save | load), "engine" (a local socket) or "registry"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegistryAccess:
    registry: registry_plan.Registry
    config_json: str | None  # the docker config.json with its credentials; None: none


class LocalEngine:
    """The engine images are shipped from (this machine's, or a swarm's manager)."""

    def __init__(self, runner: Runner, api: EngineAPI | None):
        self.runner = runner
        self.api = api

    @classmethod
    def from_environment(cls, out: Output) -> LocalEngine:
        from tr4ctl.docker.endpoint import resolve_endpoint
        from tr4ctl.docker.engine_api import engine_api

        endpoint = resolve_endpoint(os.environ)
        return cls(Runner(out, endpoint.child_environment(os.environ)), engine_api(endpoint))

    def images(self, references: Sequence[str]) -> list[LocalImage]:
        found, missing = [], []
        for reference in dict.fromkeys(references):
            facts = image_id_and_size(self.runner, self.api, reference)
            if facts is None:
                missing.append(reference)
            else:
                found.append(LocalImage(reference, facts[0], facts[1]))
        if missing:
            raise MissingPrerequisite(
                f"not on this machine's engine: {', '.join(missing)}",
                "build it first (`tr4ctl images build-local`, or `tr4ctl up --build` for "
                "the backend) or `docker load` it; nothing was sent")
        return found


class _Counted:
    """A byte stream that reports how much has gone through it."""

    def __init__(self, source: ByteSource, seen: Callable[[int], None]):
        self.source = source
        self.seen = seen
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        self.seen(self.count)
        return data


def ship_images(connection: SshConnection | Destination, references: Sequence[str],
                out: Output, *, engine: LocalEngine | None = None,
                registry: RegistryAccess | None = None) -> ShipResult:
    """Make the destination hold every reference with this engine's id, sending only
    what it lacks. `connection`: the command's SSH connection, or any Destination."""
    destination = (SshDestination(connection) if isinstance(connection, SshConnection)
                   else connection)
    source = engine or LocalEngine.from_environment(out)
    began = time.monotonic()
    # -- pre-flight: no impact yet ------------------------------------------------------
    local = source.images(references)
    queries = plan.inspect_queries(local)
    todo = plan.plan_destination(destination.name, local, destination.ask(queries))
    result = ShipResult(destination.name, present=todo.present,
                        via="registry" if registry else (
                            "ssh" if isinstance(destination, SshDestination) else "engine"))
    if todo.nothing_to_do:
        result.seconds = round(time.monotonic() - began, 2)
        return result
    # -- impact -------------------------------------------------------------------------
    for step in todo.to_tag:
        destination.run(plan.tag_argv(step.image_id, step.reference))
        result.tagged.append(step.reference)
    if todo.to_send:
        if registry is not None:
            _through_registry(source, destination, todo, registry, out)
        else:
            result.bytes_sent = _save_load(source, destination, todo, out)
        result.sent = todo.to_send
    _verify(destination, local, [*result.sent, *result.tagged])
    result.seconds = round(time.monotonic() - began, 2)
    return result


def _save_load(source: LocalEngine, destination: Destination, todo: DestinationPlan,
               out: Output) -> int:
    total = todo.bytes_to_send
    with out.progress(plan.progress_text(destination.name, 0, total)) as update, \
            source.runner.reading(plan.save_argv(todo.to_send), what="docker save") as saved:
        counted = _Counted(saved, lambda n: update(plan.progress_text(destination.name, n,
                                                                      total)))
        destination.feed(plan.load_argv(), counted)
    return counted.count


def _through_registry(source: LocalEngine, destination: Destination, todo: DestinationPlan,
                      access: RegistryAccess, out: Output) -> None:
    with tempfile.TemporaryDirectory(prefix="tr4ctl-registry-") as folder:
        env = {}
        if access.config_json is not None:
            # mkdtemp made the folder 0700; the file is 0600 from its first byte.
            config = Path(folder) / "config.json"
            descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(access.config_json)
            env["DOCKER_CONFIG"] = folder
        for argv in registry_plan.push_argvs(access.registry, todo.to_send):
            with out.progress(f"{argv[1]} {argv[-1]}"):
                source.runner.run(argv, env=env, what=f"docker {argv[1]} {argv[-1]}",
                                  hint=f"check {REGISTRY_KEY} and {REGISTRY_AUTH_KEY}")
    with out.progress(f"{destination.name} pulls {len(todo.to_send)} image(s) from "
                      f"{access.registry}"):
        destination.run(registry_plan.pull_argv(access.registry, todo.to_send),
                        input=access.config_json or "{}")


def _verify(destination: Destination, local: Sequence[LocalImage], changed: list[str]) -> None:
    expected = {image.reference: image.image_id for image in local
                if image.reference in changed}
    there = destination.ask(list(expected))
    wrong = [f"{reference} is {there.get(reference) or 'missing'}, not {image_id[:19]}"
             for reference, image_id in expected.items() if there.get(reference) != image_id]
    if wrong:
        raise OperationFailed(f"after loading, {destination.name} does not hold the "
                              f"expected images: {'; '.join(wrong)}",
                              "run `tr4ctl images ship` again; `docker image ls` there "
                              "shows what it holds")


# -- the registry's settings ------------------------------------------------------------
def registry_access(value: str | None, auth_file: str | Path | None) -> RegistryAccess | None:
    """TR4CTL_REGISTRY and its credentials file, checked (exit 2 naming the fix)."""
    if not value:
        if auth_file:
            raise BadInput(f"{REGISTRY_AUTH_KEY} is set but {REGISTRY_KEY} is not",
                           f"set {REGISTRY_KEY}=host[:port][/prefix], or unset "
                           f"{REGISTRY_AUTH_KEY}")
        return None
    try:
        registry = registry_plan.parse_registry(value)
    except ValueError as exc:
        raise BadInput(f"{REGISTRY_KEY}: {exc}", f"set {REGISTRY_KEY}=host[:port][/prefix]") \
            from None
    if not auth_file:
        return RegistryAccess(registry, None)
    return RegistryAccess(registry, _registry_config(registry, Path(auth_file)))


def _registry_config(registry: registry_plan.Registry, path: Path) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{REGISTRY_AUTH_KEY}: {path} is not a file",
                           f"point {REGISTRY_AUTH_KEY} at the credentials file")
        if info.st_mode & 0o077:
            raise BadInput(f"{REGISTRY_AUTH_KEY}: {path} is readable by other users "
                           f"(mode {stat.S_IMODE(info.st_mode):04o})", f"chmod 600 {path}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{REGISTRY_AUTH_KEY}: {path} does not exist",
                       f"point {REGISTRY_AUTH_KEY} at the credentials file") from None
    except UnicodeDecodeError:
        raise BadInput(f"{REGISTRY_AUTH_KEY}: {path} is not text",
                       "write a docker config.json, or the user then the password on two "
                       "lines") from None
    try:
        return registry_plan.docker_config(registry, text)
    except ValueError as exc:
        raise BadInput(f"{REGISTRY_AUTH_KEY}: {path}: {exc}",
                       "write a docker config.json, or the user then the password on two "
                       "lines") from None


# -- `tr4ctl images ship` -----------------------------------------------------------------


def stack_images(rt) -> list[str]:
    """Every image the stack's services run from: backend, nginx, Chroma, certbot, and
    PostgreSQL on TR4CTL_DATABASE=postgres, the backup service's with
    TR4CTL_BACKUP_SCHEDULE (not the backend's base: a build input)."""
    config = rt.config
    images = [rt.stack_inputs.backend_image, config.nginx_image, config.chroma_image,
              config.certbot_image]
    if config.database == "postgres":
        images.append(config.postgres_image)
    if config.backup_schedule:
        images.append(config.backup_image)
    return images


def ship_command(rt, *, host: str | None, images: Sequence[str],
                 accept_host_key: bool = False) -> ShipResult:
    from tr4ctl.remote.settings import read_workstation

    settings = read_workstation(rt.project_dir)
    target = settings.target(host)
    access = registry_access(rt.config.registry, rt.config.registry_auth_file)
    references = list(images) or stack_images(rt)
    connection = SshConnection(target, settings.ssh_options(accept_host_key=accept_host_key),
                               rt.out)
    return ship_images(connection, references, rt.out,
                       engine=LocalEngine(rt.engine.runner, rt.engine.api), registry=access)
