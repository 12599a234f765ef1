"""How a failed docker (or image-tool) call reads to an operator: one line with the
engine's own reason and a hint. Pure, so every mapping is unit-tested without Docker.
"""

from __future__ import annotations

from tr4ctl.errors import BadInput, MissingPrerequisite, OperationFailed, Tr4ctlError

ENGINE_HINT = ("start the Docker engine (`systemctl start docker`, or run `dockerd`); "
               "`tr4ctl doctor` checks it")
DOCKER_INSTALL_HINT = ("install Docker (Debian: `apt-get install -y docker.io`, or "
                       "scripts/provision-docker.sh) so that `docker version` answers; "
                       "`tr4ctl doctor` checks it")
COMPOSE_HINT = ("install the docker compose v2 plugin so that `docker compose version` "
                "answers")
DOCKER_HOST_HINT = ("set DOCKER_HOST to unix:///var/run/docker.sock, tcp://HOST:PORT or "
                    "ssh://USER@HOST (or unset it, and DOCKER_CONTEXT)")
IMAGE_HINT = ("an image is missing and cannot be pulled: run `tr4ctl images build-local` "
              "(it sets the images to local ones)")
REFERENCE_HINT = ("an image reference is NAME[:TAG] in lower case (e.g. "
                  "tr4ction/backend:1.2); check the image given or the TR4CTL_*_IMAGE settings")
ENGINE_MESSAGE = "no Docker engine is reachable"
COMPOSE_MESSAGE = "the docker compose v2 plugin is missing"
ENDPOINT_MESSAGE = "the Docker engine's address is not valid"
# What the docker CLI says when DOCKER_HOST (or the context) cannot even be parsed.
_BAD_ENDPOINT = ("unable to resolve docker endpoint", "invalid bind address format",
                 "unable to parse docker host", "ssh host connection is not valid")
_MISSING_IMAGE = ("pull access denied", "failed to resolve reference", "manifest unknown",
                  "no such image", "repository does not exist")
# Go's exec wrappers end with these; they say nothing about why.
_EMPTY_REASONS = ("exit status", "exited with code")
_DAEMON_PREFIX = "error response from daemon:"
# docker commands whose first argument is a sub-command (`docker volume rm`).
_OBJECT_COMMANDS = {"volume", "network", "image", "container", "system", "swarm", "node",
                    "service", "stack", "secret", "config", "plugin", "builder", "context"}


def last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def engine_reason(stderr: str | None, stdout: str | None = None) -> str:
    """The engine's own words: the last line that says something, without the
    "Error response from daemon:" prefix."""
    for text in (stderr, stdout):
        for line in reversed([line.strip() for line in (text or "").splitlines()]):
            if not line or line.lower().startswith(_EMPTY_REASONS):
                continue
            if line.lower().startswith(_DAEMON_PREFIX):
                line = line[len(_DAEMON_PREFIX):].strip()
            return line
    return ""


def describe_call(argv: list[str]) -> str:
    """`docker compose up`, `docker volume rm`, `mmdebstrap`: what failed, in short."""
    if argv[:2] == ["docker", "compose"]:
        # Skip the values of -p NAME and -f FILE.
        rest, skip = [], False
        for arg in argv[2:]:
            if skip:
                skip = False
                continue
            if arg in ("-p", "-f"):
                skip = True
                continue
            rest.append(arg)
        words = [a for a in rest if not a.startswith("-")]
        return "docker compose " + (words[0] if words else "")
    if argv[:1] == ["docker"]:
        words = argv[1:3] if argv[1:2] and argv[1] in _OBJECT_COMMANDS else argv[1:2]
        return " ".join(["docker", *words])
    return argv[0] if argv else "command"


def call_failure(argv: list[str], returncode: int, stderr: str | None,
                 stdout: str | None = None, what: str | None = None,
                 hint: str | None = None) -> Tr4ctlError:
    """The one mapping from a failed call to the error the operator sees. `what` names
    the step in the operator's terms ("copying volume x") instead of the command; `hint`
    is the caller's advice when the failure has no better-known cause."""
    text = f"{stderr or ''}\n{stdout or ''}"
    lowered = text.lower()
    if "cannot connect to the docker daemon" in lowered or "is the docker daemon running" in lowered:
        return MissingPrerequisite(ENGINE_MESSAGE, ENGINE_HINT)
    if argv[:2] == ["docker", "compose"] and ("'compose' is not a docker command" in lowered
                                              or "unknown command: docker compose" in lowered):
        return MissingPrerequisite(COMPOSE_MESSAGE, COMPOSE_HINT)
    reason = engine_reason(stderr, stdout) or f"exit code {returncode}, no message"
    if any(words in lowered for words in _BAD_ENDPOINT) or any(
            line.strip().startswith("failed to initialize:") for line in lowered.splitlines()):
        return BadInput(f"{ENDPOINT_MESSAGE}: {reason}", DOCKER_HOST_HINT)
    message = f"{what or describe_call(argv)} failed: {reason}"
    kind = classify(lowered)
    if kind is not None:
        return kind(message, _hint_for(lowered))
    return OperationFailed(message, _hint_for(lowered) or hint or GENERIC_HINT)


def fails_even_unchecked(argv: list[str], stderr: str | None,
                         stdout: str | None = None) -> bool:
    """A call made with check=False still fails loudly when the engine itself is not
    usable (no engine, no plugin, an unparsable DOCKER_HOST) or the reference it was
    given is malformed: none of those is the answer the caller asked about."""
    error = call_failure(argv, 1, stderr, stdout)
    lowered = f"{stderr or ''}\n{stdout or ''}".lower()
    return (error.message in (ENGINE_MESSAGE, COMPOSE_MESSAGE)
            or error.message.startswith(ENDPOINT_MESSAGE)
            or "invalid reference format" in lowered)


def classify(lowered: str) -> type[Tr4ctlError] | None:
    """The exit-code class of an engine's refusal, when it is not an operation failing:
    a malformed reference is bad input (2); a missing image, or one that cannot be
    pulled, a missing prerequisite (3); no room on the host, bad input (2)."""
    if "invalid reference format" in lowered:
        return BadInput
    if _missing_image(lowered):
        return MissingPrerequisite
    if "no space left on device" in lowered:
        return BadInput
    return None


def _missing_image(lowered: str) -> bool:
    return (any(words in lowered for words in _MISSING_IMAGE)
            or ("not found" in lowered and "manifest" in lowered)
            # A pull or build whose image is on a registry this host cannot reach.
            or (("failed to do request" in lowered or "registry" in lowered)
                and "no such host" in lowered))


GENERIC_HINT = "see `tr4ctl status` and `tr4ctl logs`; rerun with --verbose for the commands"


def _hint_for(lowered: str) -> str | None:
    if "invalid reference format" in lowered:
        return REFERENCE_HINT
    if _missing_image(lowered):
        return IMAGE_HINT
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return "free the port, or set TR4CTL_HTTP_PORT / TR4CTL_HTTPS_PORT to free ones"
    if "cannot assign requested address" in lowered:
        return "TR4CTL_BIND_ADDRESS must be an address of this host (or 0.0.0.0)"
    if "has active endpoints" in lowered:
        return ("other containers still use the network: `docker network inspect` names "
                "them; stop them, then run this again")
    if "no space left on device" in lowered:
        return "free disk space (`docker system prune`), then run this again"
    return None


def missing_program(argv: list[str]) -> MissingPrerequisite:
    program = argv[0] if argv else "?"
    if program == "docker":
        # Nothing to start: the client itself is missing.
        return MissingPrerequisite("the docker command is not installed", DOCKER_INSTALL_HINT)
    return MissingPrerequisite(f"{program} is not installed",
                               f"install it (Debian: apt-get install -y {program})")


def timed_out(argv: list[str], seconds: float) -> OperationFailed:
    return OperationFailed(f"{describe_call(argv)} did not finish within {seconds:.0f}s",
                           "check `tr4ctl status` and `tr4ctl logs`")


def api_failure(method: str, path: str, status: int, message: str) -> Tr4ctlError:
    """A refused Engine API read, in the engine's own words (classed as a CLI call's)."""
    text = f"docker engine API {method} {path} failed: {message or f'HTTP {status}'}"
    lowered = (message or "").lower()
    kind = classify(lowered)
    if kind is not None:
        return kind(text, _hint_for(lowered))
    return OperationFailed(text, GENERIC_HINT)


def unreachable(socket_path: str, exc: BaseException) -> MissingPrerequisite:
    return MissingPrerequisite(f"no Docker engine is reachable at {socket_path}: "
                               f"{getattr(exc, 'strerror', None) or exc}", ENGINE_HINT)


# -- the Engine API reader's own failures (docker/engine_api.py) --------------------------
API_HINT = ("check the engine with `docker info`; rerun with --verbose for the commands")


def api_timed_out(call: str, seconds: float, socket_path: str) -> OperationFailed:
    """The engine took the request and never finished its answer: not "no engine"."""
    return OperationFailed(f"docker engine API {call} timed out after {seconds:g}s "
                           f"(the engine at {socket_path} did not finish its answer)",
                           "the engine is overloaded or stuck: check `docker info`, then "
                           "run this again")


def api_truncated(call: str, detail: str) -> OperationFailed:
    return OperationFailed(f"docker engine API {call}: the answer was cut short ({detail})",
                           API_HINT)


def api_not_json(call_method: str, path: str, body: bytes) -> OperationFailed:
    shown = body[:60].decode(errors="replace").replace("\n", " ").replace("\r", " ")
    return OperationFailed(f"docker engine API {call_method} {path} answered with something "
                           f"that is not JSON: {shown!r}", API_HINT)


def engine_too_old(engine_version: str | None, oldest: str) -> MissingPrerequisite:
    speaks = f"API {engine_version}" if engine_version else "no API version it names"
    return MissingPrerequisite(f"the Docker engine speaks {speaks}; tr4ctl needs API {oldest} "
                               "or newer (Docker Engine 20.10 or newer)",
                               "upgrade the Docker engine")


def client_too_old(engine_minimum: str, newest: str) -> MissingPrerequisite:
    return MissingPrerequisite(f"the Docker engine refuses API versions below {engine_minimum}; "
                               f"the newest tr4ctl speaks is {newest}",
                               "upgrade tr4ctl, or set DOCKER_MIN_API_VERSION on that engine "
                               f"to {newest} or lower")
