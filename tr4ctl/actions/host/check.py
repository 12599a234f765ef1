"""`tr4ctl host check`: from the workstation, what a certificate needs of the host (the
domain's records, ports 80 and 443 from outside, the clock, disk space). Each fact is
gathered here; plan/host_check.py judges it."""

from __future__ import annotations

import json
import socket
import time

from tr4ctl.actions.host.connect import reach
from tr4ctl.errors import OperationFailed
from tr4ctl.output import Output
from tr4ctl.plan import host_check as plan
from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.commands import REMOTE_TR4CTL, SshOptions
from tr4ctl.remote.connection import SshConnection

PORT_TIMEOUT = 3.0
DOMAIN_KEY = "TR4CTL_DOMAIN"


def check_host(target: SshTarget, options: SshOptions, host_dir: str, out: Output,
               domain: str | None) -> list[plan.HostCheck]:
    connection = reach(target, options, out).connection
    answer = connection.output(["sh", "-c", plan.FACTS_SCRIPT, "sh", host_dir])
    try:
        facts = plan.parse_facts(answer)
    except ValueError as exc:
        raise OperationFailed(f"on {target}: {exc}", "run the command again") from None
    offset, round_trip = clock_offset(connection)
    domain_check = dns(domain or host_domain(connection, host_dir), target)
    addresses = host_addresses(target)
    address = addresses[0] if addresses else target.host
    served = plan.served_ports(host_status(connection, host_dir))
    ports = []
    for port in plan.PORTS:
        error, refused = connect_error(address, port)
        ports.append(plan.port_check(port, address, error, refused=refused,
                                     served=port in served))
    return [
        domain_check,
        *ports,
        plan.clock_check(offset, round_trip),
        plan.disk_check("docker", facts.docker_root, facts.disks.get(facts.docker_root)),
        plan.disk_check("project", host_dir, facts.disks.get(host_dir)),
    ]


def clock_offset(connection: SshConnection) -> tuple[float, float]:
    """The host's clock minus this one's at the middle of the round trip, and the round
    trip (over the already open connection)."""
    before = time.time()
    answer = connection.output(["date", "+%s.%N"], sudo=False).strip()
    after = time.time()
    try:
        remote = float(answer)
    except ValueError:
        raise OperationFailed(f"on {connection.target}: `date` answered {answer[:40]!r}",
                              "run the command again") from None
    return remote - (before + after) / 2, after - before


def host_data(connection: SshConnection, host_dir: str, *command: str) -> dict | None:
    """The `data` of a tr4ctl command run with --json in the host's project; None when
    the host has no tr4ctl or no project yet."""
    done = connection.run([REMOTE_TR4CTL, "--project-dir", host_dir, "--json", *command],
                          check=False)
    try:
        data = json.loads(done.stdout)["data"]
    except (ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def host_status(connection: SshConnection, host_dir: str) -> dict | None:
    return host_data(connection, host_dir, "status")


def host_domain(connection: SshConnection, host_dir: str) -> str | None:
    """TR4CTL_DOMAIN as the host's project has it (its `config show`)."""
    settings = (host_data(connection, host_dir, "config", "show") or {}).get("settings")
    value = settings.get(DOMAIN_KEY) if isinstance(settings, dict) else None
    return value if isinstance(value, str) and value else None


def dns(domain: str | None, target: SshTarget) -> plan.HostCheck:
    if not domain:
        return plan.dns_check(None, [], [])
    try:
        found = resolve(domain)
    except OSError as exc:
        return plan.dns_check(domain, [], [], lookup_error=str(exc.strerror or exc))
    return plan.dns_check(domain, found, host_addresses(target))


def host_addresses(target: SshTarget) -> list[str]:
    """The host's public address: the one in its ssh:// address, or what its name
    resolves to here."""
    if plan.is_address(target.host):
        return [target.host]
    try:
        return resolve(target.host)
    except OSError:
        return []


def resolve(name: str) -> list[str]:
    infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def connect_error(address: str, port: int) -> tuple[str | None, bool]:
    """(None, False) when a TCP connection to address:port opens within the timeout;
    else why not, and whether the host refused it (an answer, not a drop)."""
    try:
        with socket.create_connection((address, port), timeout=PORT_TIMEOUT):
            return None, False
    except TimeoutError:
        return f"no answer within {PORT_TIMEOUT:.0f} s (a firewall drops it?)", False
    except ConnectionRefusedError as exc:
        return exc.strerror or str(exc), True
    except OSError as exc:
        return exc.strerror or str(exc), False
