"""Which Docker engine this command works with, resolved once, the way the docker CLI
resolves it: DOCKER_HOST, else DOCKER_CONTEXT, else the `currentContext` of
$DOCKER_CONFIG/config.json (default ~/.docker), whose endpoint is in
contexts/meta/<sha256 of the name>/meta.json; "default" (or none) is the default socket.

The Engine API reader uses the result, and every docker/compose process the runner
starts is given it explicitly (DOCKER_HOST), so reads and writes can never reach two
engines, whatever `docker context use` does meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.errors import BadInput

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"


@dataclass(frozen=True)
class DockerEndpoint:
    host: str  # unix:///..., tcp://..., ssh://...
    source: str  # how it was chosen, for messages
    # A context whose TLS material the docker CLI keeps: its processes get the context by
    # name (DOCKER_HOST alone would drop the certificates).
    tls_context: str | None = None

    @property
    def socket_path(self) -> Path | None:
        """The unix socket, or None when the engine is elsewhere (tcp://, ssh://): the
        reader speaks only to unix sockets, the docker CLI to all."""
        if not self.host.startswith("unix://"):
            return None
        return Path(self.host.removeprefix("unix://"))

    def child_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """environ for a docker/compose process: pointed at this engine, and only it."""
        env = {key: value for key, value in environ.items()
               if key not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        if self.tls_context:
            env["DOCKER_CONTEXT"] = self.tls_context
        else:
            env["DOCKER_HOST"] = self.host
        return env


def docker_config_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("DOCKER_CONFIG")
    if configured:
        return Path(configured)
    return Path(environ.get("HOME") or Path.home()) / ".docker"


def resolve_endpoint(environ: Mapping[str, str]) -> DockerEndpoint:
    """The engine the docker CLI would talk to with this environment."""
    if environ.get("DOCKER_HOST"):
        return DockerEndpoint(environ["DOCKER_HOST"], "DOCKER_HOST")
    config_dir = docker_config_dir(environ)
    if environ.get("DOCKER_CONTEXT"):
        name, source = environ["DOCKER_CONTEXT"], "DOCKER_CONTEXT"
    else:
        name, source = _current_context(config_dir / "config.json"), "currentContext"
    if not name or name == DEFAULT_CONTEXT:
        return DockerEndpoint(DEFAULT_HOST, "the default socket")
    return _context_endpoint(config_dir, name, source)


def _current_context(config_file: Path) -> str | None:
    try:
        text = config_file.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"cannot read the docker CLI's {config_file}: {exc.strerror or exc}",
                       "make it readable, or point DOCKER_CONFIG at another folder") from None
    try:
        config = json.loads(text) if text.strip() else {}
    except ValueError:
        raise BadInput(f"the docker CLI's {config_file} is not valid JSON",
                       "repair it (the docker CLI refuses it too), or point DOCKER_CONFIG "
                       "at another folder") from None
    name = config.get("currentContext") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def _context_endpoint(config_dir: Path, name: str, source: str) -> DockerEndpoint:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_file = config_dir / "contexts" / "meta" / digest / "meta.json"
    fix = ("`docker context ls` lists the contexts; `docker context use default` (or unset "
           "DOCKER_CONTEXT) goes back to the local engine")
    try:
        meta = json.loads(meta_file.read_text())
        host = meta["Endpoints"]["docker"].get("Host") or DEFAULT_HOST
    except FileNotFoundError:
        raise BadInput(f"docker context {name!r} ({source}) does not exist", fix) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise BadInput(f"docker context {name!r} ({source}) has no readable docker endpoint "
                       f"in {meta_file}", fix) from None
    tls = (config_dir / "contexts" / "tls" / digest / "docker").is_dir()
    return DockerEndpoint(str(host), f"docker context {name!r} ({source})",
                          tls_context=name if tls else None)
