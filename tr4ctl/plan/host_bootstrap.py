"""`host bootstrap`, decided: what one probe of the host found (the probe script and its
strict reader), and from that which steps still have work to do. Pure: the actions
(actions/host/) run the probe and the steps over SSH.

The package names are not here: scripts/host_packages.py is the one rule for them (the
actions load it, and ship it with host-common.sh and provision-docker.sh to the host).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# The probe's last line: an answer without it was cut off and is refused.
PROBE_END = "end=ok"
VERSION_LINE = re.compile(r"^tr4ctl (\S+)$")
WHEEL_NAME = re.compile(r"^tr4ctl-[0-9][A-Za-z0-9.+_-]*-py3-none-any\.whl$")
PROJECT_DIR_MODE = "700"  # it holds .env (secrets); tr4ctl runs there as root via sudo

# Run as root (sudo) on the host: $1 the venv, $2 the project folder, then the package
# names whose state is asked. One fact per line, NAME=value; nothing here changes anything.
PROBE_SCRIPT = r"""
venv=$1; dir=$2; shift 2
sed 's/^/os-release=/' /etc/os-release 2>/dev/null
echo "engine=$(timeout 20 docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo "compose=$(timeout 20 docker compose version --short 2>/dev/null)"
echo "docker-ce=$(dpkg-query -W -f='${Status} ${Version}' docker-ce 2>/dev/null | sed -n 's/^install ok installed //p')"
dpkg-query -W -f='package=${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null
echo "tr4ctl=$("$venv/bin/tr4ctl" --version 2>/dev/null)"
echo "host-dir=$(stat -c '%a %u %g %F' "$dir" 2>/dev/null)"
echo "end=ok"
"""


@dataclass(frozen=True)
class HostDir:
    mode: str  # octal, as stat prints it ("700")
    uid: int
    gid: int
    kind: str  # "directory", "regular file", ...


@dataclass(frozen=True)
class HostFacts:
    os_release: str  # /etc/os-release as the host has it (host_packages.py reads it)
    engine: str  # the answering engine's version, "" when none answers
    compose: str  # `docker compose version --short`, "" when none
    docker_ce: str
    installed: frozenset[str]  # of the packages asked, those installed
    tr4ctl: str  # the version in the host's venv, "" when none answers
    host_dir: HostDir | None  # None: not there


@dataclass(frozen=True)
class HostSystem:
    """What scripts/host_packages.py chose for this host's /etc/os-release."""

    name: str
    python: str  # the interpreter (>= 3.11) that makes the venv
    python_packages: tuple[str, ...]


@dataclass(frozen=True)
class BootstrapStep:
    name: str
    needed: bool
    detail: str  # what is there, or what the step will do

    def as_dict(self) -> dict:
        return asdict(self)


def parse_probe(text: str) -> HostFacts:
    """The probe's answer; ValueError when it is cut off or not the probe's."""
    lines = text.splitlines()
    if not lines or lines[-1].strip() != PROBE_END:
        raise ValueError("the host's answer to the probe was cut off")
    os_lines: list[str] = []
    single: dict[str, str] = {}
    installed: set[str] = set()
    for line in lines[:-1]:
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"unexpected line in the host's answer: {line[:80]!r}")
        if key == "os-release":
            os_lines.append(value)
        elif key == "package":
            name, _, status = value.partition(" ")
            if status.strip() == "ii":
                installed.add(name)
        elif key in ("engine", "compose", "docker-ce", "tr4ctl", "host-dir"):
            single[key] = value.strip()
        else:
            raise ValueError(f"unexpected line in the host's answer: {line[:80]!r}")
    version = VERSION_LINE.match(single.get("tr4ctl", ""))
    return HostFacts(os_release="\n".join(os_lines),
                     engine=single.get("engine", ""), compose=single.get("compose", ""),
                     docker_ce=single.get("docker-ce", ""), installed=frozenset(installed),
                     tr4ctl=version.group(1) if version else "",
                     host_dir=parse_host_dir(single.get("host-dir", "")))


def parse_host_dir(value: str) -> HostDir | None:
    parts = value.split(" ", 3)
    if len(parts) < 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return HostDir(parts[0], int(parts[1]), int(parts[2]), parts[3])


def plan_bootstrap(facts: HostFacts, system: HostSystem, local_version: str,
                   host_dir: str) -> list[BootstrapStep]:
    """Each step after the host was reached: needed or already there, and why."""
    return [docker_step(facts), python_step(facts, system),
            tr4ctl_step(facts, local_version), project_dir_step(facts, host_dir)]


def docker_step(facts: HostFacts) -> BootstrapStep:
    if facts.engine and facts.compose:
        return BootstrapStep("docker", False,
                             f"engine {facts.engine}, compose {facts.compose}")
    missing = [what for what, version in (("engine", facts.engine),
                                          ("compose v2 plugin", facts.compose)) if not version]
    kept = f"; keeps engine {facts.engine}" if facts.engine else ""
    return BootstrapStep("docker", True,
                         f"no answering {' and no '.join(missing)}{kept}: provision-docker.sh")


def python_step(facts: HostFacts, system: HostSystem) -> BootstrapStep:
    missing = [p for p in system.python_packages if p not in facts.installed]
    if not missing:
        return BootstrapStep("python", False, f"{system.python} with venv")
    return BootstrapStep("python", True, f"install {' '.join(missing)}")


def tr4ctl_step(facts: HostFacts, local_version: str) -> BootstrapStep:
    if facts.tr4ctl == local_version:
        return BootstrapStep("tr4ctl", False, f"tr4ctl {local_version}")
    found = f"replaces {facts.tr4ctl}" if facts.tr4ctl else "none there yet"
    return BootstrapStep("tr4ctl", True, f"install tr4ctl {local_version} ({found})")


def project_dir_step(facts: HostFacts, host_dir: str) -> BootstrapStep:
    found = facts.host_dir
    if found is None:
        return BootstrapStep("project dir", True, f"create {host_dir} (root, 0700)")
    if found.kind != "directory":
        raise ValueError(f"{host_dir} on the host is a {found.kind}, not a folder")
    if (found.mode, found.uid, found.gid) == (PROJECT_DIR_MODE, 0, 0):
        return BootstrapStep("project dir", False, f"{host_dir} (root, 0700)")
    return BootstrapStep("project dir", True,
                         f"make {host_dir} root's, 0700 (was uid {found.uid}, 0{found.mode})")


def parse_version_line(text: str) -> str:
    """The version in the line `tr4ctl --version` prints; ValueError otherwise."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    match = VERSION_LINE.match(lines[-1].strip()) if lines else None
    if not match:
        raise ValueError(f"not a tr4ctl version line: {text.strip()[-80:]!r}")
    return match.group(1)


def last_log_line(stderr: str, prefix: str) -> str:
    """The summary line a host script ends with ("[provision] ..."), without its tag."""
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    return lines[-1][len(prefix):].strip() if lines else ""
