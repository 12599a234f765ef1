#!/usr/bin/env python3
"""The backend image against a bare FastAPI app in the same image: prints ONE JSON document.

    python bench/backend_speed.py [--image NAME | --build] [--rounds 3]

Both containers run the same image, the same gunicorn config (/app/gunicorn.conf.py),
the same uvicorn worker class and worker count, and the same production-like settings
(ENVIRONMENT=production with a fresh random JWT secret, the stack's 1 s bash healthcheck,
named volumes for data and logs, an init). The only difference is the application: the
stack's `app.main:create_app()` or a one-route app answering /health with the same JSON.
Both are published on 127.0.0.1 only; every request goes there.

Rounds alternate which side goes first, so load from elsewhere on the machine hits both
alike: each round runs `wrk -c10 -t2 -d5s` on both for requests/s, then 2000 sequential
GETs over one keep-alive connection on both for p50/p99, then (informational) wrk again
with an X-Request-ID, which the backend logs like any real request. Ratios are taken per round
(paired) and their median is judged against the targets. Progress goes to stderr;
containers and volumes (t4s-bench-*) are removed at the end, also on Ctrl-C or SIGTERM.

Import `measure(image, rounds)` to get the same document as a dict.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from held import signals_held

BACKEND_DIR = Path(__file__).resolve().parents[1] / "backend"
DEFAULT_BASE_IMAGE = "tr4ctl-local/python:3.11-bookworm"
TARGET_RPS_RATIO_MIN = 0.8
TARGET_P50_RATIO_MAX = 1.25
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

BARE_APP = '''\
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict:
    return {"status": "healthy"}
'''

# Unnamed /health probes are not logged at info; one named by the caller is, like every
# real request: the cost of a logged request, measured on the same route.
LOGGED_HEADER = "X-Request-ID: bench-logged-request"

# The stack's healthcheck (compose/docker-compose.yml.j2), at its default 1 s interval:
# the backend's real per-request load includes it.
HEALTHCHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 "
    '&& read -r proto code rest <&3 && [ "$code" = 200 ]'
)


def log(message: str) -> None:
    print(f"backend_speed: {message}", file=sys.stderr, flush=True)


def docker(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
           check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed: {done.stderr.strip()[-1500:]}")
    return done


def build_image(tag: str, base_image: str = DEFAULT_BASE_IMAGE) -> str:
    log(f"building {tag} from {BACKEND_DIR}")
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={base_image}", "-t", tag,
           str(BACKEND_DIR), timeout=1200)
    return tag


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Side:
    """One container of the pair; `command` picks the app, all else is shared."""

    def __init__(self, label: str, prefix: str, image: str, command: list[str],
                 extra_run_args: list[str], workers: int):
        self.label = label
        self.name = f"{prefix}-{label}"
        self.volumes = [f"{self.name}-data", f"{self.name}-logs"]
        self.image = image
        self.command = command
        self.extra_run_args = extra_run_args
        self.workers = workers
        self.port: int | None = None
        self.pids: list[int] | None = None

    def start(self, secret_env: dict[str, str]) -> None:
        docker(
            "run", "-d", "--name", self.name, "--init",
            "--label", "io.tr4ctl.bench=backend_speed",
            "-p", "127.0.0.1::8000",
            "-v", f"{self.volumes[0]}:/app/data", "-v", f"{self.volumes[1]}:/app/logs",
            "-e", "ENVIRONMENT=production", "-e", "DEBUG_MODE=False",
            "-e", "DATA_DIR=/app/data", "-e", "LOG_DIR=/app/logs",
            "-e", "CHROMA_HOST=chroma", "-e", "CHROMA_PORT=8000",
            "-e", f"WEB_CONCURRENCY={self.workers}",
            # Named only: the value comes from this process's environment, never argv.
            "-e", "JWT_SECRET_KEY",
            "--health-cmd", f"bash -c {shlex.quote(HEALTHCHECK)}",
            "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "30",
            *self.extra_run_args, self.image, *self.command,
            env={**os.environ, **secret_env},
        )
        mapping = docker("port", self.name, "8000/tcp").stdout.split()[0]
        self.port = int(mapping.rsplit(":", 1)[1])

    def wait_healthy(self, deadline_s: float = 60) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            state = docker("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}",
                           self.name).stdout.split()
            if state and state[0] != "running":
                logs = docker("logs", "--tail", "20", self.name, check=False)
                raise RuntimeError(f"{self.name} is {state[0]}: {logs.stdout}{logs.stderr}")
            if state[-1:] == ["healthy"]:
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not healthy after {deadline_s:g}s")

    def cpu_seconds(self) -> float | None:
        """CPU time of the container's gunicorn processes (master and workers) so far, read
        from the host's /proc: a per-request cost that other load on the machine does not
        change much, unlike requests/s."""
        if self.pids is None:
            rows = docker("top", self.name, "-eo", "pid,args").stdout.splitlines()[1:]
            self.pids = [int(row.split()[0]) for row in rows
                         if "gunicorn" in row and "docker-init" not in row]
        total = 0.0
        try:
            for pid in self.pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None
        return total

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
        docker("volume", "rm", "-f", *self.volumes, check=False)


def run_wrk(port: int, connections: int, threads: int, seconds: float,
            headers: tuple[str, ...] = ()) -> dict:
    header_args = [arg for header in headers for arg in ("-H", header)]
    done = subprocess.run(
        ["wrk", f"-c{connections}", f"-t{threads}", f"-d{seconds:g}s", "--latency",
         *header_args, f"http://127.0.0.1:{port}/health"],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    count = re.search(r"(\d+) requests in", done.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    errors = re.search(r"Socket errors:.*", done.stdout)
    if rps is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{done.stdout}")
    return {"rps": float(rps.group(1)), "requests": int(count.group(1)) if count else 0,
            "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else None}


def wrk_with_cpu(side: Side, connections: int, threads: int, seconds: float,
                 headers: tuple[str, ...] = ()) -> dict:
    before = side.cpu_seconds()
    figures = run_wrk(side.port, connections, threads, seconds, headers)
    after = side.cpu_seconds()
    cpu_us = None
    if before is not None and after is not None and figures["requests"]:
        cpu_us = round((after - before) / figures["requests"] * 1e6, 1)
    return {"rps": figures["rps"], "cpu_us_per_request": cpu_us,
            "non_2xx": figures["non_2xx"], "socket_errors": figures["socket_errors"]}


def one_connection_latency(port: int, samples: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    times: list[float] = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"/health answered {response.status}")
    finally:
        connection.close()
    times.sort()
    return {"p50_ms": round(percentile(times, 0.50), 4), "p99_ms": round(percentile(times, 0.99), 4)}


def spread(values: list[float], digits: int = 3) -> dict:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits),
            "runs": [round(v, digits) for v in values]}


def measure(image: str, rounds: int = 3, *, workers: int = 1, wrk_seconds: float = 5,
            connections: int = 10, threads: int = 2, latency_samples: int = 2000,
            warmup_seconds: float = 2, logged: bool = True) -> dict:
    """Run both containers from `image`, alternate the rounds, remove everything."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk not found (apt-get install -y wrk)")
    prefix = f"t4s-bench-{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="t4s-bench-"))
    (workdir / "bare_app.py").write_text(BARE_APP)
    workdir.chmod(0o755)
    (workdir / "bare_app.py").chmod(0o644)
    # The same config file, so the same worker class, worker count, keepalive and logging
    # set-up in the master; only the app module differs (a positional app wins over
    # the config's wsgi_app).
    backend = Side("backend", prefix, image, [], [], workers)
    bare = Side("bare", prefix, image,
                ["gunicorn", "--config", "/app/gunicorn.conf.py", "bare_app:app"],
                ["-v", f"{workdir}:/bench:ro", "-e", "PYTHONPATH=/app:/bench"], workers)
    sides = [backend, bare]
    secret_env = {"JWT_SECRET_KEY": secrets.token_hex(32)}
    load_start = os.getloadavg()[0]
    per_round: list[dict] = []
    try:
        for side in sides:
            side.start(secret_env)
        for side in sides:
            side.wait_healthy()
            log(f"{side.label}: {side.name} healthy on 127.0.0.1:{side.port}")
            run_wrk(side.port, connections, threads, warmup_seconds)
            one_connection_latency(side.port, 200)
        for number in range(rounds):
            order = sides if number % 2 == 0 else sides[::-1]
            figures: dict[str, dict] = {s.label: {} for s in sides}
            for side in order:
                figures[side.label].update(wrk_with_cpu(side, connections, threads, wrk_seconds))
            for side in order:
                figures[side.label].update(one_connection_latency(side.port, latency_samples))
            if logged:
                for side in order:
                    named = wrk_with_cpu(side, connections, threads, wrk_seconds,
                                         (LOGGED_HEADER,))
                    figures[side.label]["logged_rps"] = named["rps"]
                    figures[side.label]["logged_cpu_us_per_request"] = named["cpu_us_per_request"]
            b, r = figures["backend"], figures["bare"]
            entry = {
                "round": number + 1,
                "order": [s.label for s in order],
                "backend": b,
                "bare": r,
                "rps_ratio": round(b["rps"] / r["rps"], 4),
                "p50_ratio": round(b["p50_ms"] / r["p50_ms"], 4),
            }
            if logged:
                entry["logged_rps_ratio"] = round(b["logged_rps"] / r["logged_rps"], 4)
            per_round.append(entry)
            log(f"round {number + 1}/{rounds}: rps {b['rps']:.0f} vs {r['rps']:.0f} "
                f"({entry['rps_ratio']:.2f}x), p50 {b['p50_ms']:.3f} vs {r['p50_ms']:.3f} ms "
                f"({entry['p50_ratio']:.2f}x)"
                + (f", logged rps {entry['logged_rps_ratio']:.2f}x" if logged else ""))
    finally:
        log("removing containers and volumes")
        with signals_held():
            for side in sides:
                side.remove()
            shutil.rmtree(workdir, ignore_errors=True)

    def figures_of(label: str, key: str) -> list[float]:
        return [e[label][key] for e in per_round if e[label].get(key) is not None]

    def side_summary(label: str, keys: tuple[str, ...]) -> dict:
        return {key: spread(figures_of(label, key), 4 if key.endswith("_ms") else 1)
                for key in keys if figures_of(label, key)}

    def cpu_ratio(key: str) -> float | None:
        pairs = [e["backend"][key] / e["bare"][key] for e in per_round
                 if e["backend"].get(key) and e["bare"].get(key)]
        return round(statistics.median(pairs), 4) if pairs else None

    rps_ratio = statistics.median(e["rps_ratio"] for e in per_round)
    p50_ratio = statistics.median(e["p50_ratio"] for e in per_round)
    main_keys = ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")
    summary = {"backend": side_summary("backend", main_keys),
               "bare": side_summary("bare", main_keys)}
    if logged:
        logged_keys = ("logged_rps", "logged_cpu_us_per_request")
        summary["logged_request"] = {
            "what": f"wrk as above with '{LOGGED_HEADER}': the backend logs each such "
                    "/health at info, as it does every real request; informational, no target",
            "backend": side_summary("backend", logged_keys),
            "bare": side_summary("bare", logged_keys),
            "rps_backend_to_bare": round(
                statistics.median(e["logged_rps_ratio"] for e in per_round), 4),
            "cpu_per_request_backend_to_bare": cpu_ratio("logged_cpu_us_per_request"),
        }
    return {
        "image": image,
        "setup": {
            "rounds": rounds, "workers": workers, "worker_class": "uvicorn_worker.UvicornWorker",
            "wrk": f"-c{connections} -t{threads} -d{wrk_seconds:g}s",
            "latency_samples_per_round": latency_samples, "path": "/health",
            "cpus": os.cpu_count(),
            "load_avg_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        },
        **summary,
        "ratios": {
            "rps_backend_to_bare": round(rps_ratio, 4),
            "p50_backend_to_bare": round(p50_ratio, 4),
            "rps_ratio_runs": [e["rps_ratio"] for e in per_round],
            "p50_ratio_runs": [e["p50_ratio"] for e in per_round],
            "cpu_per_request_backend_to_bare": cpu_ratio("cpu_us_per_request"),
            "basis": "median of the per-round (paired) ratios",
        },
        "targets": {"rps_ratio_min": TARGET_RPS_RATIO_MIN, "p50_ratio_max": TARGET_P50_RATIO_MAX},
        "verdicts": {
            "rps": "pass" if rps_ratio >= TARGET_RPS_RATIO_MIN else "fail",
            "p50": "pass" if p50_ratio <= TARGET_P50_RATIO_MAX else "fail",
        },
        "rounds": per_round,
    }


def _raise_interrupt(signum, frame):
    # SIGTERM takes the same path as Ctrl-C, through measure()'s clean-up.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--image", help="an existing backend image (default: build one)")
    which.add_argument("--build", metavar="TAG", default="t4s-bench/backend:speed",
                       help="tag to build backend/ as (default %(default)s)")
    parser.add_argument("--base-image", default=DEFAULT_BASE_IMAGE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1,
                        help="WEB_CONCURRENCY for both sides (the stack's default is 1)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--samples", type=int, default=2000,
                        help="sequential GETs per one-connection latency sample")
    parser.add_argument("--no-logged", dest="logged", action="store_false",
                        help="skip the informational logged-request run")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        image = options.image or build_image(options.build, options.base_image)
        result = measure(image, options.rounds, workers=options.workers,
                         wrk_seconds=options.duration, latency_samples=options.samples,
                         logged=options.logged)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
