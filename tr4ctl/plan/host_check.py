"""`host check`, judged: what the operators checked by hand before asking for a
certificate (the domain's records, ports 80 and 443 from outside, the clock, disk
space), each as a verdict with its fix. Pure: actions/host/check.py gathers the facts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from tr4ctl.errors import ExitCode

OK, WARN, FAIL = "ok", "warn", "fail"
# ACME servers refuse requests whose times are off by more than a few seconds (and
# certificates appear not yet valid): more than this apart, after the round trip, fails.
MAX_CLOCK_OFFSET_SECONDS = 5.0
MIN_FREE_BYTES = 5 * 1024**3
MIN_FREE_FRACTION = 0.10
PORTS = (80, 443)

# Run as root (sudo) on the host: $1 the project folder. NAME=value lines, then end=ok.
FACTS_SCRIPT = r"""
dir=$1
root=$(timeout 20 docker info --format '{{.DockerRootDir}}' 2>/dev/null)
echo "docker-root=$root"
for path in "$root" "$dir"; do
  [ -n "$path" ] && [ -d "$path" ] && echo "disk=$(df -P -B1 "$path" | awk 'NR==2 {print $4, $2}') $path"
done
echo "end=ok"
"""


@dataclass(frozen=True)
class HostCheck:
    name: str
    verdict: str  # ok | warn | fail
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DiskSpace:
    path: str
    free: int
    size: int


@dataclass(frozen=True)
class HostDiskFacts:
    docker_root: str  # "" when no engine answers
    disks: dict[str, DiskSpace]  # by path


def parse_facts(text: str) -> HostDiskFacts:
    """FACTS_SCRIPT's answer; ValueError when cut off or not its own."""
    lines = text.splitlines()
    if not lines or lines[-1].strip() != "end=ok":
        raise ValueError("the host's answer was cut off")
    root = ""
    disks: dict[str, DiskSpace] = {}
    for line in lines[:-1]:
        key, _, value = line.partition("=")
        if key == "docker-root":
            root = value.strip()
        elif key == "disk":
            free, size, path = (value.split(" ", 2) + ["", ""])[:3]
            if not (free.isdigit() and size.isdigit() and path):
                raise ValueError(f"unexpected disk line from the host: {line[:80]!r}")
            disks[path] = DiskSpace(path, int(free), int(size))
        else:
            raise ValueError(f"unexpected line from the host: {line[:80]!r}")
    return HostDiskFacts(root, disks)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dns_check(domain: str | None, domain_addresses: Iterable[str],
              host_addresses: Iterable[str], *, lookup_error: str | None = None) -> HostCheck:
    """Every A/AAAA record of the domain is one of the host's addresses (an ACME server
    may ask any of them; a stray AAAA fails the challenge)."""
    name = "dns"
    if not domain:
        return HostCheck(name, WARN, "no TR4CTL_DOMAIN in the host's project (or no tr4ctl "
                         "there yet): records not checked",
                         "tr4ctl config set TR4CTL_DOMAIN=... on the host, or pass --domain")
    if lookup_error:
        return HostCheck(name, FAIL, f"{domain}: {lookup_error}",
                         f"create an A (and AAAA, if IPv6) record for {domain}")
    found = sorted(set(domain_addresses))
    host = sorted(set(host_addresses))
    stray = [address for address in found if address not in host]
    if found and not stray:
        return HostCheck(name, OK, f"{domain} -> {', '.join(found)}")
    if not found:
        return HostCheck(name, FAIL, f"{domain} has no A/AAAA record",
                         f"point {domain} at {', '.join(host)}")
    return HostCheck(name, FAIL,
                     f"{domain} -> {', '.join(found)}, but the host is {', '.join(host)}",
                     f"point every A/AAAA record of {domain} at {', '.join(host)} "
                     f"(remove {', '.join(stray)})")


def served_ports(status: dict | None) -> set[int]:
    """The ports the host's stack serves now, from its `status --json` data: 80 once
    nginx runs, 443 once it has its certificate (prod, HTTPS no longer pending). None
    (no project there, no tr4ctl): none."""
    if not status:
        return set()
    nginx = [s for s in status.get("services") or [] if s.get("service") == "nginx"]
    if not nginx or nginx[0].get("state") != "running":
        return set()
    tls = status.get("nginx_config") == "prod" and not status.get("https_pending")
    return {80, 443} if tls else {80}


def port_check(port: int, address: str, error: str | None, *, refused: bool = False,
               served: bool = True) -> HostCheck:
    """A TCP connection from here to the host's port: nginx answers from outside. Before
    the stack serves the port (`served` False: before `up`, 443 before `cert issue`), a
    refusal is the expected answer: the host itself answered, so the way there is open
    (a dropped packet, a security group's way of saying no, is a timeout and fails)."""
    name = f"port {port}"
    if error is None:
        return HostCheck(name, OK, f"{address}:{port} accepts connections")
    if refused and not served:
        step = "tr4ctl up --env prod" if port == 80 else "tr4ctl cert issue"
        return HostCheck(name, WARN, f"{address}:{port} refused: nothing listens there yet "
                                     "(the host answered, so nothing on the way drops it)",
                         f"run `tr4ctl host check` again after `{step}`")
    return HostCheck(name, FAIL, f"{address}:{port}: {error}",
                     f"start the stack (tr4ctl up --env prod) and open port {port} in the "
                     "host's firewall / security group")


def clock_check(offset: float, round_trip: float) -> HostCheck:
    """`offset` = the host's clock minus this one's at the middle of the round trip."""
    name = "clock"
    # What the round trip leaves unknown is given to the host's benefit.
    off = max(0.0, abs(offset) - round_trip / 2)
    detail = f"{offset:+.1f} s from this workstation (round trip {round_trip * 1000:.0f} ms)"
    if off <= MAX_CLOCK_OFFSET_SECONDS:
        return HostCheck(name, OK, detail)
    return HostCheck(name, FAIL, detail,
                     "sync the host's clock (timedatectl set-ntp true, or chrony), or this "
                     "workstation's if it is the one off")


def disk_check(label: str, path: str, space: DiskSpace | None) -> HostCheck:
    name = f"disk {label}"
    if space is None:
        return HostCheck(name, WARN, f"{path or label}: not there",
                         "run `tr4ctl host bootstrap` first")
    gib = space.free / 1024**3
    fraction = space.free / space.size if space.size else 0.0
    detail = f"{path}: {gib:.1f} GiB free ({fraction:.0%})"
    if space.free >= MIN_FREE_BYTES and fraction >= MIN_FREE_FRACTION:
        return HostCheck(name, OK, detail)
    return HostCheck(name, WARN, detail,
                     f"free space under {path} (old images: docker image prune; old backups)")


def check_exit_code(checks: Iterable[HostCheck]) -> int:
    return int(ExitCode.FAILED) if any(c.verdict == FAIL for c in checks) else int(ExitCode.OK)
