#!/usr/bin/env python3
"""Benchmark tr4ctl and the stack on this machine: prints ONE JSON document on stdout.

    .venv/bin/python bench/run.py [--rounds 3] [--samples 200] [--duration 5]

It brings up its own throwaway stack through the real CLI (project t4b-<pid> in a
temporary directory, free ports on 127.0.0.1, local images), measures, and removes it
with its volumes and network at the end, also when interrupted. Progress goes to stderr.

Figures, each next to the old deployment's where the notes give one:
- `tr4ctl --help` wall time;
- `up` to healthy from a stopped stack (images built), tr4ctl against a bare
  `docker compose up -d --wait` on the same rendered files, alternated round by round
  so load from elsewhere hits both alike (the target: tr4ctl within 10%);
- /health latency: backend direct and through nginx (inside the stack's network, the
  same curl client both ways), nginx from the host, and the proxy overhead;
- `tr4ctl health` wall time with its default 50 samples;
- requests per second through nginx (`tr4ctl bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLD = {"backend_health_ms": 50.0, "proxy_ms": 10.0, "startup_s": (15.0, 20.0),
       "gunicorn_workers": 1}
TARGET_UP_RATIO = 1.10


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def own_environment() -> dict[str, str]:
    """This process's environment without TR4CTL_* keys: an operator's exported
    TR4CTL_PROJECT_NAME must never turn the throwaway stack (and its teardown, which
    deletes volumes) onto a real project."""
    return {key: value for key, value in os.environ.items() if not key.startswith("TR4CTL_")}


def tr4ctl_argv() -> list[str]:
    script = Path(sys.executable).with_name("tr4ctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tr4ctl"]


class Bench:
    def __init__(self, project_dir: Path):
        self.dir = project_dir
        self.name = f"t4b-{os.getpid()}"
        self.compose = ["docker", "compose", "-p", self.name,
                        "-f", str(project_dir / ".tr4ctl" / "docker-compose.yml")]

    def run(self, argv: list[str], *, check: bool = True,
            timeout: float = 900) -> tuple[subprocess.CompletedProcess, float]:
        started = time.perf_counter()
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                   check=False, env=own_environment())
        seconds = time.perf_counter() - started
        if check and completed.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv[:6])} failed:\n{completed.stderr[-2000:]}")
        return completed, seconds

    def tr4ctl(self, *args: str, check: bool = True):
        # Its own project, named explicitly: never one an exported TR4CTL_* points at.
        return self.run([*tr4ctl_argv(), "--project-dir", str(self.dir),
                         "--project-name", self.name, *args], check=check)


def spread(values: list[float], digits: int = 3) -> dict:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": [round(v, digits) for v in values]}


def with_old(figures: dict | None, old_ms: float | None) -> dict | None:
    if figures is None:
        return None
    keep = {k: v for k, v in figures.items() if k != "mean_ms"}
    if old_ms is None:
        return {**keep, "old_baseline_ms": None, "ratio_p50_to_old": None}
    return {**keep, "old_baseline_ms": old_ms,
            "ratio_p50_to_old": round(figures["p50_ms"] / old_ms, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="up/compose rounds (each side)")
    parser.add_argument("--samples", type=int, default=200, help="health samples per path")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of bench load")
    parser.add_argument("--concurrency", type=int, default=4)
    options = parser.parse_args()

    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tr4ctl-bench-"))
    bench = Bench(workdir)
    result: dict = {"project": bench.name, "machine": {"cpus": os.cpu_count()}}
    try:
        log(f"project {bench.name} in {workdir}")
        bench.tr4ctl("config", "set", f"TR4CTL_PROJECT_NAME={bench.name}",
                     "TR4CTL_BIND_ADDRESS=127.0.0.1", f"TR4CTL_HTTP_PORT={free_port()}",
                     f"TR4CTL_HTTPS_PORT={free_port()}")
        bench.tr4ctl("images", "build-local")

        help_times = [bench.run([*tr4ctl_argv(), "--help"])[1] for _ in range(5)]
        result["tr4ctl_help_s"] = spread(help_times)

        log("first up (creates .env, volumes, network; builds the backend if needed)")
        result["first_up_s"] = round(bench.tr4ctl("up", "--env", "dev")[1], 3)
        bench.tr4ctl("down")

        ours, bare = [], []
        for round_number in range(1, options.rounds + 1):
            log(f"round {round_number}/{options.rounds}: tr4ctl up, then bare compose up --wait")
            ours.append(bench.tr4ctl("up", "--env", "dev")[1])
            bench.tr4ctl("down")
            bare.append(bench.run([*bench.compose, "up", "-d", "--wait"])[1])
            bench.run([*bench.compose, "down"])
        ratio = statistics.median(ours) / statistics.median(bare)
        result["up_to_healthy_s"] = {
            "tr4ctl_up": spread(ours),
            "bare_compose_up_wait": spread(bare),
            "ratio_tr4ctl_to_compose": round(ratio, 3),
            "target_ratio_max": TARGET_UP_RATIO,
            "within_target": ratio <= TARGET_UP_RATIO,
            "old_baseline_s": list(OLD["startup_s"]),
            "ratio_to_old_midpoint": round(statistics.median(ours) / (sum(OLD["startup_s"]) / 2),
                                           4),
        }

        bench.tr4ctl("up", "--env", "dev")
        log(f"health with {options.samples} samples per path")
        health = json.loads(bench.tr4ctl("--json", "health", "--samples", str(options.samples),
                                          check=False)[0].stdout)
        latency = health["data"]["latency_ms"]
        result["health_latency_ms"] = {
            "samples": options.samples,
            "backend_direct": with_old(latency.get("backend"), OLD["backend_health_ms"]),
            "nginx_in_network": with_old(latency.get("nginx_in_network"),
                                         OLD["backend_health_ms"] + OLD["proxy_ms"]),
            "nginx_from_host": with_old(latency.get("nginx"),
                                        OLD["backend_health_ms"] + OLD["proxy_ms"]),
            "proxy_overhead": with_old(latency.get("proxy_overhead"), OLD["proxy_ms"]),
            "in_network_client": health["data"]["in_network_client"],
            "health_status": health["status"],
            "gunicorn_workers": health["data"]["gunicorn_workers"],
            "old_gunicorn_workers": OLD["gunicorn_workers"],
        }
        health_times = [bench.tr4ctl("health", check=False)[1] for _ in range(3)]
        result["health_command_s"] = {**spread(health_times), "samples_per_path": 50}

        log(f"bench: {options.duration:g}s at concurrency {options.concurrency}")
        load = json.loads(bench.tr4ctl("--json", "bench", "--duration", str(options.duration),
                                       "--concurrency", str(options.concurrency),
                                       check=False)[0].stdout)["data"]
        result["bench_through_nginx"] = {
            "requests_per_second": load["requests_per_second"],
            "requests": load["requests"], "failed": load["failed"],
            "concurrency": load["concurrency"], "seconds": load["seconds"],
            "latency_ms": load["latency_ms"],
            "old_baseline_rps": None,  # the old notes give no throughput figure
        }
    finally:
        log("tearing down")
        bench.tr4ctl("down", "--volumes", "--yes", check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    result["machine"]["load_avg_1m"] = {"start": round(load_start, 2),
                                        "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
