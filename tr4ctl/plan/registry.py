"""Images through a registry (`TR4CTL_REGISTRY=host[:port][/prefix]`): the names pushed,
the exact commands, and the credentials as a docker config.json. Pure.

The credentials never reach an argv, here or on the host: locally `docker push` finds
them in DOCKER_CONFIG (a private folder made for the one command), and on the host the
pull script reads config.json from its stdin into a folder of its own (mktemp -d, 0700,
removed on exit).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

_HOST = re.compile(r"^(localhost|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+|\[[0-9A-Fa-f:]+\])"
                   r"(:[0-9]{1,5})?$")
_PATH = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
EXAMPLE = "registry.example.com:5000/tr4ction"
PULL_SCRIPT = (
    'umask 077; dir=$(mktemp -d) || exit 1; trap \'rm -rf "$dir"\' EXIT; '
    'cat > "$dir/config.json"; '
    'while [ "$#" -ge 2 ]; do '
    'DOCKER_CONFIG="$dir" docker pull "$1" >/dev/null && docker tag "$1" "$2" '
    '|| exit 1; shift 2; done')


@dataclass(frozen=True)
class Registry:
    host: str  # host[:port], what docker's config.json keys credentials by
    prefix: str = ""

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host


def registry_problem(value: str) -> str | None:
    host, _, prefix = value.strip().partition("/")
    if "://" in value:
        return f"{value!r}: write the registry without a scheme (like {EXAMPLE})"
    if not _HOST.match(host):
        return (f"{host!r} is not a registry host[:port] (a name with a dot, localhost, "
                f"or an address; like {EXAMPLE})")
    if prefix and not _PATH.match(prefix.rstrip("/")):
        return f"{prefix!r} is not a repository path (lower-case words and slashes)"
    return None


def parse_registry(value: str) -> Registry:
    problem = registry_problem(value)
    if problem:
        raise ValueError(problem)
    host, _, prefix = value.strip().partition("/")
    return Registry(host, prefix.strip("/"))


def registry_reference(registry: Registry, reference: str) -> str:
    """The name `reference` is pushed as: its repository path under the registry (its own
    registry host, if it names one, dropped); the tag kept."""
    if "@" in reference:
        raise ValueError(f"{reference}: an image pinned by digest cannot be pushed under "
                         "a tag; name it by tag")
    first, _, rest = reference.partition("/")
    path = rest if rest and ("." in first or ":" in first or first == "localhost") \
        else reference
    return "/".join(part for part in (registry.host, registry.prefix, path) if part)


def docker_config(registry: Registry, auth_text: str) -> str:
    """A docker config.json holding the registry's credentials, from either a
    config.json-style file (its "auths" must name the registry) or a file of two lines:
    user, then password. ValueError naming what is wrong, never the secret."""
    text = auth_text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("looks like a docker config.json but is not valid JSON") from None
        auths = document.get("auths") if isinstance(document, dict) else None
        if not isinstance(auths, dict) or registry.host not in auths:
            raise ValueError(f'a docker config.json whose "auths" has no entry for '
                             f"{registry.host}")
        return json.dumps({"auths": {registry.host: auths[registry.host]}})
    lines = text.splitlines()
    if len(lines) != 2 or not lines[0].strip() or not lines[1]:
        raise ValueError("expected a docker config.json, or two lines: the user, then "
                         "the password")
    token = base64.b64encode(f"{lines[0].strip()}:{lines[1]}".encode()).decode()
    return json.dumps({"auths": {registry.host: {"auth": token}}})


def push_argvs(registry: Registry, references: Sequence[str]) -> list[list[str]]:
    """Run here, with DOCKER_CONFIG set to the private folder: tag, then push, each."""
    argvs = []
    for reference in references:
        remote = registry_reference(registry, reference)
        argvs += [["docker", "tag", reference, remote], ["docker", "push", remote]]
    return argvs


def pull_argv(registry: Registry, references: Sequence[str]) -> list[str]:
    """Run on the destination with the config.json on stdin: each image pulled, then
    tagged as the stack names it."""
    pairs = [word for reference in references
             for word in (registry_reference(registry, reference), reference)]
    return ["sh", "-c", PULL_SCRIPT, "sh", *pairs]
