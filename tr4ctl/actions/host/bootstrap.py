"""`tr4ctl host bootstrap ssh://...`: a fresh Debian or Ubuntu host with SSH and sudo made
a tr4ctl host. Pre-flight first (reach it, sudo, what is there: one probe), then only the
steps the plan (plan/host_bootstrap.py) says still have work, each reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from tr4ctl import __version__
from tr4ctl.actions.host.connect import (
    RUN_SHIPPED,
    host_packages,
    reach,
    scripts_tar,
)
from tr4ctl.errors import Interrupted, MissingPrerequisite, OperationFailed
from tr4ctl.interrupts import signal_name
from tr4ctl.output import Output
from tr4ctl.plan import host_bootstrap as plan
from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.commands import REMOTE_VENV, SshOptions
from tr4ctl.remote.connection import SshConnection

DONE, ALREADY = "done", "already there"
# The python step on the host: host_packages.py's choice of interpreter, installed by
# host-common.sh's apt rule (the same as scripts/bootstrap.sh's first lines).
INSTALL_PYTHON = r"""set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[python] %s\n' "$*" >&2; }
. "$here/host-common.sh"
host_plan python
apt_install $PACKAGES
"$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
  || { log "$HOST: $PYTHON is missing, lacks venv, or is older than 3.11"; exit 3; }
log "$HOST: $PYTHON $("$PYTHON" -c 'import platform; print(platform.python_version())'); installed ${ALL_INSTALLED[*]:-nothing}"
"""
# Run as root: the wheel arrives on stdin; the venv is made with the chosen interpreter
# when it is not there yet; dependencies come from the host's own package index settings.
INSTALL_TR4CTL = r"""
set -eu
venv=$1; python=$2; wheel=$3
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/$wheel"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "$d/$wheel" </dev/null
"$venv/bin/tr4ctl" --version
"""


@dataclass
class StepResult:
    name: str
    state: str  # done | already there
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_host(target: SshTarget, options: SshOptions, host_dir: str, out: Output,
                   on_step: Callable[[StepResult], None]) -> list[StepResult]:
    results: list[StepResult] = []

    def report(name: str, state: str, detail: str) -> None:
        results.append(StepResult(name, state, detail))
        on_step(results[-1])

    # Pre-flight, no impact yet.
    reached = reach(target, options, out)
    connection = reached.connection
    report("reach", DONE if reached.accepted else ALREADY, reached.detail)
    packages = host_packages()
    asked = sorted({p for host in packages.HOSTS.values() for p in host.python_packages})
    answer = connection.output(["sh", "-c", plan.PROBE_SCRIPT, "sh", REMOTE_VENV, host_dir,
                                *asked], sudo=None)
    try:
        facts = plan.parse_probe(answer)
    except ValueError as exc:
        raise OperationFailed(f"on {target}: {exc}", "run the command again") from None
    try:
        host = packages.identify(packages.parse_os_release(facts.os_release))
    except packages.Unsupported as exc:
        raise MissingPrerequisite(f"{target}: {exc}",
                                  "bootstrap a host running one of those") from None
    report("os", ALREADY, host.name)
    system = plan.HostSystem(host.name, host.python, tuple(host.python_packages))
    try:
        steps = plan.plan_bootstrap(facts, system, __version__, host_dir)
    except ValueError as exc:
        raise MissingPrerequisite(f"on {target}: {exc}",
                                  "move it away, or set TR4CTL_HOST_DIR to another folder") from None

    # Impact: only the steps with work left.
    for step in steps:
        if not step.needed:
            report(step.name, ALREADY, step.detail)
            continue
        try:
            with out.progress(f"{step.name} on {target.host}: {step.detail}"):
                detail = DOERS[step.name](connection, system, host_dir)
        except KeyboardInterrupt:
            raise Interrupted(f"`host bootstrap` interrupted ({signal_name()}) at the "
                              f"{step.name} step on {target}",
                              "run it again: each step finishes or finds its work done") from None
        report(step.name, DONE, detail)
    return results


def install_docker(connection: SshConnection, system: plan.HostSystem, host_dir: str) -> str:
    done = _run_shipped(connection, "provision-docker.sh")
    return plan.last_log_line(done, "[provision]") or "engine and compose installed"


def install_python(connection: SshConnection, system: plan.HostSystem, host_dir: str) -> str:
    done = _run_shipped(connection, "install-python.sh", extra={"install-python.sh": INSTALL_PYTHON})
    return plan.last_log_line(done, "[python]") or f"{system.python} installed"


def install_tr4ctl(connection: SshConnection, system: plan.HostSystem, host_dir: str) -> str:
    from tr4ctl.actions.host.wheel import running_wheel

    with running_wheel() as wheel:
        answer = connection.output(
            ["sh", "-c", INSTALL_TR4CTL, "sh", REMOTE_VENV, system.python, wheel.name],
            input=wheel.read_bytes())
    try:
        there = plan.parse_version_line(answer)
    except ValueError as exc:
        raise OperationFailed(f"on {connection.target}: {exc}", "run the command again") from None
    if there != __version__:
        raise OperationFailed(f"on {connection.target}: tr4ctl {there} answers after "
                              f"installing {__version__}", f"look at {REMOTE_VENV} there")
    return f"tr4ctl {there} in {REMOTE_VENV}"


def make_project_dir(connection: SshConnection, system: plan.HostSystem, host_dir: str) -> str:
    connection.run(["install", "-d", "-m", "0700", "-o", "root", "-g", "root", host_dir])
    return f"{host_dir} (root, 0700)"


def _run_shipped(connection: SshConnection, script: str, *,
                 extra: dict[str, str] | None = None) -> str:
    """A script from scripts/ run as root on the host; its stderr (the log lines)."""
    done = connection.run(["bash", "-c", RUN_SHIPPED, "bash", script],
                          input=scripts_tar(extra))
    return done.stderr.decode(errors="replace")


DOERS: dict[str, Callable[[SshConnection, plan.HostSystem, str], str]] = {
    "docker": install_docker, "python": install_python, "tr4ctl": install_tr4ctl,
    "project dir": make_project_dir,
}
