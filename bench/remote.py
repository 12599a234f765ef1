#!/usr/bin/env python3
"""A remote `tr4ctl status` against the same command run on the host itself: prints ONE
JSON document on stdout (progress on stderr).

    .venv/bin/python bench/remote.py [--rounds 21]

It starts an SSH host of its own (tests/stack/ssh_engine_hosts.py: OpenSSH and a Docker engine
in a container on a network it makes, tr4ctl installed from this checkout), brings a dev
stack up there from this machine (TR4CTL_HOST), then per round, alternating:
- remote: `tr4ctl status` typed here (forwarded over the shared SSH connection);
- local:  `tr4ctl status` run on the host itself, timed there (a Python timer inside the
          host around the same command, so no `docker exec` cost is counted);
- rtt:    `ssh ... true` over the same master connection (one round trip plus ssh's own
          start).
Target: the remote one within one round trip plus 50 ms of the local one (the median
overhead remote - local against the median rtt + 50 ms). Everything it made is removed
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "tests" / "stack")]

from ssh_engine_hosts import VENV, SshHost, stack_images

from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.remote import commands
from tr4ctl.remote.connection import private_control_dir

HTTP_PORT, HTTPS_PORT = 18080, 18443
# Times the command on the host, where it runs: wall milliseconds on stdout.
HOST_TIMER = ("import subprocess, sys, time; t = time.perf_counter(); "
              "r = subprocess.run(sys.argv[1:], capture_output=True); "
              "print((time.perf_counter() - t) * 1000 if r.returncode == 0 else -1)")


def log(message: str) -> None:
    print(f"bench-remote: {message}", file=sys.stderr, flush=True)


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "runs": [round(v, 1) for v in values]}


def own_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}


def tr4ctl_argv() -> list[str]:
    script = Path(sys.executable).with_name("tr4ctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tr4ctl"]


def timed(argv: list[str], environment: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=600)
    took = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return took, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # `status` itself varies by +-40 ms from run to run on 2 cores: 21 rounds keep the
    # median overhead within a few ms from one run of this script to the next.
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--keep-for", type=float, default=0, metavar="SECONDS",
                        help="keep the host and stack that long after measuring (to time "
                             "them with another tool): their settings go to stderr")
    arguments = parser.parse_args()
    rounds = arguments.rounds
    name = f"t4t-benchremote-{os.getpid()}"
    # Bytecode as pip writes it when it installs tr4ctl (the host's copy has it): a
    # checkout run with PYTHONDONTWRITEBYTECODE would compile its modules on every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(CHECKOUT / "tr4ctl")],
                   check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="tr4ctl-bench-remote-") as folder:
        base = Path(folder)
        host = SshHost(name, base / "host")
        try:
            log("starting the SSH host (the first run builds its image)")
            host.start()
            host.trust()
            workstation = base / "workstation"
            workstation.mkdir()
            local = base / "images"
            local.mkdir()
            env = own_environment()

            def here(*args: str) -> str:
                return timed([*tr4ctl_argv(), "--project-dir", str(local), *args], env)[1]

            here("config", "set", f"TR4CTL_PROJECT_NAME={name}")
            here("images", "build-local")
            names, settings = stack_images(json.loads(here("--json", "images", "list")), env)
            log("loading the images into the host's engine")
            host.load(*names)
            remote_env = {**env, **host.workstation_environment(f"/srv/{name}")}

            def remote(*args: str) -> tuple[float, str]:
                return timed([*tr4ctl_argv(), "--project-dir", str(workstation),
                              "--project-name", name, *args], remote_env)

            remote("init")
            remote("config", "set", f"TR4CTL_PROJECT_NAME={name}",
                   "TR4CTL_BIND_ADDRESS=0.0.0.0", f"TR4CTL_HTTP_PORT={HTTP_PORT}",
                   f"TR4CTL_HTTPS_PORT={HTTPS_PORT}", *(f"{k}={v}" for k, v in settings.items()))
            log("up --env dev on the host, from here")
            remote("up", "--env", "dev")
            result = measure(host, name, remote, rounds)
            print(json.dumps(result, indent=2), flush=True)
            if arguments.keep_for:
                log("kept for {:g} s: {} --project-dir {} status; on the host: docker exec "
                    "{} {}/bin/tr4ctl --project-dir /srv/{} status".format(
                        arguments.keep_for, " ".join(f"{k}={v}" for k, v in
                                                     host.workstation_environment(
                                                         f"/srv/{name}").items()),
                        workstation, host.name, VENV, name))
                time.sleep(arguments.keep_for)
            remote("down", "--volumes", "--yes")
        finally:
            log("removing the SSH host")
            host.remove()
    return 0


def measure(host: SshHost, name: str, remote, rounds: int) -> dict:
    target = parse_target(host.address)
    options = commands.SshOptions(control_dir=private_control_dir(), key=host.key,
                                  known_hosts=host.known_hosts)
    round_trip = commands.ssh_run(target, options, ["true"], sudo=False)
    on_host = ["docker", "exec", host.name, f"{VENV}/bin/python", "-c", HOST_TIMER,
               f"{VENV}/bin/tr4ctl", "--project-dir", f"/srv/{name}", "--project-name", name,
               "status"]
    remote("status")  # warm-up: the master connection, the host's page cache
    timed(on_host, own_environment())
    remote_ms, local_ms, rtt_ms = [], [], []
    for index in range(rounds):
        log(f"round {index + 1}/{rounds}")
        remote_ms.append(remote("status")[0])
        local_ms.append(float(timed(on_host, own_environment())[1]))
        rtt_ms.append(timed(round_trip, own_environment())[0])
    assert min(local_ms) > 0, "status failed on the host"
    overhead = [r - lo for r, lo in zip(remote_ms, local_ms, strict=True)]
    ratios = [r / lo for r, lo in zip(remote_ms, local_ms, strict=True)]
    limit = statistics.median(rtt_ms) + 50
    return {
        "remote_status_ms": spread(remote_ms), "local_status_ms": spread(local_ms),
        "ssh_round_trip_ms": spread(rtt_ms), "overhead_ms": spread(overhead),
        "ratio": round(statistics.median(ratios), 3),
        "target": {"value": round(statistics.median(overhead), 1),
                   "target": f"<= rtt + 50 = {limit:.1f}",
                   "met": statistics.median(overhead) <= limit},
    }


if __name__ == "__main__":
    sys.exit(main())
