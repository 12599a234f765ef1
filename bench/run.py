#!/usr/bin/env python3
"""Benchmark tr4ctl and the stack on this machine: prints ONE JSON document on stdout.

    .venv/bin/python bench/run.py [--rounds 5] [--samples 200] [--duration 5]
                                  [--only status,up,...]

It brings up its own throwaway stack through the real CLI (project bench-<pid> in a
temporary directory, free ports on 127.0.0.1, local images), measures, and removes it
with its volumes and network at the end, also when interrupted: Ctrl-C (exit 130) or
SIGTERM, what `timeout`, systemd and CI send (exit 143). Progress goes to stderr.
The project dir and name are always passed explicitly and TR4CTL_* is removed from
every child's environment: an operator's exported settings never point it elsewhere.
The tr4ctl measured is the one of the checkout this file is in (PYTHONPATH), whatever
checkout the venv's editable install points at.

Every comparison is side by side in one run: the two commands alternate round by
round, so load from elsewhere hits both alike, and the ratio is the median of the
per-round ratios. Sections (all by default):
- help:    `tr4ctl --help` against a bare Typer app in the same venv (target <= 1.3x)
- status:  `tr4ctl status` against `docker compose ps` on the same project (<= 1.5x)
- up:      `up` from stopped to healthy against bare `docker compose up -d --wait` on the
           same rendered files with the healthchecks bare compose needs to be fast (the
           engine's every second; tr4ctl's are every 30 s once up, and its waits ask the
           services themselves) (<= 1.10x), and the first `up` against the old 15-20 s
- idle:    the stack left idle for --idle-seconds: CPU of its containers and their
           containerd shims (cgroup and /proc counters, so other load on the machine does
           not count) as a % of the machine (< 1%), beside the same stack with every
           check every second (TR4CTL_HEALTHCHECK_INTERVAL=1s, the old default). The
           engine's own share of each check (dockerd, containerd) is not in either.
- latency: /health percentiles (backend direct, through nginx in the network and from
           the host, the proxy overhead), and `tr4ctl health` wall time (<= 1.0 s)
- load:    requests per second through nginx (`tr4ctl bench`)
- reads:   `users list` (<= 1.5 s) and `verify` without its restart check (<= 8 s)
- backend: the stack's backend image against a bare FastAPI app in the same image,
           same gunicorn and worker class: req/s (>= 0.8x) and p50 on one connection
           (<= 1.25x) (bench/backend_speed.py)
- deploy:  `tr4ctl deploy --build` (the image rebuilt from the shipped code) under a load
           loop through nginx (GET /health from a few threads, logins from one, each on a
           fresh connection): wall seconds per round (<= 15 s), its steps' seconds, and
           the requests done and failed meanwhile (0 failed)
- database: login and /ready p50 and p95 through nginx (sequential, one connection) on
           SQLite, then `tr4ctl db use postgres` (its write pause, seconds and steps),
           then the same on PostgreSQL, and the PostgreSQL/SQLite ratios (no target).
           It leaves the stack on PostgreSQL: it runs after every other section.
- offsite: the disaster drill of tests/stack/test_offsite.py (its own stack and SFTP
           server): measured RPO (target <= 60 s) and RTO (empty host to serving)
- growth:  (only with --only growth: minutes and gigabytes) `backup create` and `backup
           restore` wall seconds and archive size with 100,000 accounts and then 100 MB
           and 1 GB in Chroma's volume, and the API's pause meanwhile: GET /ready (the
           database and Chroma) every 20 ms through nginx, the longest stretch without a
           ready answer and the requests that failed. The Chroma bytes are incompressible
           filler in its volume: the copy's cost depends on the bytes, not on what they
           hold; a real collection also costs Chroma its start-up (measured on the filler
           stack as it is).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx
from held import signals_held

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
OLD = {"backend_health_ms": 50.0, "proxy_ms": 10.0, "startup_s": (15.0, 20.0),
       "gunicorn_workers": 1}
SECTIONS = ("help", "status", "up", "idle", "latency", "load", "reads", "backend", "deploy",
            "database", "offsite")
# Asked for by name only: it writes gigabytes and takes minutes.
ON_REQUEST = ("growth",)
GROWTH_ACCOUNTS = 100_000
GROWTH_CHROMA_MB = (100, 1024)
PROBE_EVERY = 0.02
OFFSITE_FIGURES = CHECKOUT / "build" / "bench" / "offsite-drill.json"
ADMIN, FOUNDER = "a@bench.test", "f@bench.test"
PASSWORD = "bench-password-123456"
HEALTH_THREADS = 3
BARE_TYPER_APP = """
import typer
app = typer.Typer()
@app.command()
def status(verbose: bool = typer.Option(False, "--verbose")) -> None:
    "Show the status."
@app.command()
def up(env: str = typer.Option("dev", "--env")) -> None:
    "Start."
app()
"""


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
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("TR4CTL_")}
    if (CHECKOUT / "tr4ctl").is_dir():
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(CHECKOUT), *filter(None, [environment.get("PYTHONPATH")])])
    return environment


def tr4ctl_argv() -> list[str]:
    script = Path(sys.executable).with_name("tr4ctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tr4ctl"]


def spread(values: list[float], digits: int = 3) -> dict:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": [round(v, digits) for v in values]}


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def verdict(value: float | None, target: float, *, at_most: bool = True) -> dict:
    if value is None:
        return {"value": None, "target": target, "met": None}
    met = value <= target if at_most else value >= target
    return {"value": round(value, 4), "target": ("<= " if at_most else ">= ") + f"{target:g}",
            "met": met}


class CommandFailed(Exception):
    """A command the bench ran exited non-zero: its section fails, the others still run
    (SystemExit would pass the per-section capture and end the whole run)."""


class Bench:
    def __init__(self, project_dir: Path):
        self.dir = project_dir
        self.name = f"bench-{os.getpid()}"
        self.http_port, self.https_port = free_port(), free_port()
        self.seeded = False
        self.compose = ["docker", "compose", "-p", self.name,
                        "-f", str(project_dir / ".tr4ctl" / "docker-compose.yml")]

    def run(self, argv: list[str], *, check: bool = True, timeout: float = 900,
            input: str | None = None, detached: bool = False,
            ) -> tuple[subprocess.CompletedProcess, float]:
        started = time.perf_counter()
        # detached: in its own session, so a second Ctrl-C at the terminal cannot reach it.
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                   check=False, env=own_environment(), input=input,
                                   start_new_session=detached)
        seconds = time.perf_counter() - started
        if check and completed.returncode != 0:
            raise CommandFailed(f"{' '.join(argv)} failed:\n"
                                f"{(completed.stderr or completed.stdout)[-2000:]}")
        return completed, seconds

    def argv(self, *args: str) -> list[str]:
        # Its own project, named explicitly: never one an exported TR4CTL_* points at.
        return [*tr4ctl_argv(), "--project-dir", str(self.dir), "--project-name", self.name,
                *args]

    def tr4ctl(self, *args: str, check: bool = True, input: str | None = None,
               detached: bool = False):
        return self.run(self.argv(*args), check=check, input=input, detached=detached)

    def tear_down(self) -> None:
        """The throwaway stack, its volumes and network removed; no signal cuts it short
        (a stack left behind by a timed-out run would hold its ports and volumes)."""
        log("tearing down")
        with signals_held():
            self.tr4ctl("down", "--volumes", "--yes", check=False, detached=True)
            shutil.rmtree(self.dir, ignore_errors=True)

    def json(self, *args: str) -> tuple[dict, float]:
        """`tr4ctl --json ARGS`: its data and its wall seconds."""
        completed, seconds = self.tr4ctl("--json", *args)
        return json.loads(completed.stdout)["data"], seconds

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def login(self) -> dict[str, str]:
        """The admin's credentials, the accounts seeded once for the sections that log in."""
        if not self.seeded:
            self.tr4ctl("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                        "--password-stdin", input=f"{PASSWORD}\n{PASSWORD}\n")
            self.seeded = True
        return {"email": ADMIN, "password": PASSWORD}

    def paired(self, ours: list[str], theirs: list[str], rounds: int,
               between: Callable[[], None] | None = None) -> dict:
        """Both commands, alternating; the median of the per-round ratios."""
        a, b = [], []
        for _ in range(rounds):
            if between:
                between()
            a.append(self.run(ours)[1])
            if between:
                between()
            b.append(self.run(theirs)[1])
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        return {"tr4ctl": spread(a), "other": spread(b), "ratios": [round(r, 3) for r in ratios],
                "ratio": round(statistics.median(ratios), 3)}


def measure_help(bench: Bench, rounds: int) -> dict:
    bare = bench.dir / "bare_typer_app.py"
    bare.write_text(BARE_TYPER_APP)
    figures = bench.paired([*tr4ctl_argv(), "--help"], [sys.executable, str(bare), "--help"],
                           rounds)
    return {**figures, "other_is": "a bare Typer app (two commands) in the same venv"}


def measure_status(bench: Bench, rounds: int) -> dict:
    bench.run(bench.argv("status"))  # warm
    figures = bench.paired(bench.argv("status"), [*bench.compose, "ps"], rounds)
    return {**figures, "other_is": "docker compose ps on the same project"}


def bare_compose_file(bench: Bench) -> Path:
    """The rendered file with every check every second: what bare `compose up --wait`
    needs to see a service healthy within a second (it has no other way to ask)."""
    rendered = bench.dir / ".tr4ctl" / "docker-compose.yml"
    text, count = re.subn(r"^(x-healthcheck-timing: &timing\n  interval: )\S+$", r"\g<1>1s",
                          rendered.read_text(), count=1, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError("the rendered compose file has no x-healthcheck-timing interval")
    bare = rendered.with_name("bare-compose.yml")
    bare.write_text(text)
    return bare


def measure_up(bench: Bench, rounds: int) -> dict:
    def stopped() -> None:
        bench.run([*bench.compose, "down"])

    bare = [*bench.compose[:-1], str(bare_compose_file(bench))]
    figures = bench.paired(bench.argv("up", "--env", "dev"), [*bare, "up", "-d", "--wait"],
                           rounds, between=stopped)
    bench.run([*bench.compose, "down"])
    bench.tr4ctl("up", "--env", "dev")
    return {**figures, "other_is": "docker compose up -d --wait on the same rendered files, "
                                   "healthchecks every 1s",
            "old_baseline_s": list(OLD["startup_s"]),
            "ratio_to_old_midpoint": round(figures["tr4ctl"]["median"]
                                           / (sum(OLD["startup_s"]) / 2), 4)}


def container_cpu_seconds(container_id: str) -> float:
    """The container's CPU time (cgroup v1 or v2), with its containerd shim's (the
    process that starts each `docker exec`, children included)."""
    candidates = [Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"),
                  Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"),
                  Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat")]
    found = next((path for path in candidates if path.exists()), None)
    if found is None:
        raise RuntimeError(f"no cgroup CPU counter found for container {container_id[:12]}")
    text = found.read_text()
    seconds = (int(text) / 1e9 if found.name == "cpuacct.usage" else
               int(next(line.split()[1] for line in text.splitlines()
                        if line.startswith("usage_usec"))) / 1e6)
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"-id {container_id}".encode() not in (proc / "cmdline").read_bytes().replace(
                    b"\0", b" "):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds += sum(int(value) for value in fields[11:15]) / tick  # utime stime cutime cstime
    return seconds


def idle_cpu_percent(bench: Bench, seconds: float) -> dict:
    ids = bench.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                     f"label=com.docker.compose.project={bench.name}"])[0].stdout.split()
    time.sleep(5)  # past the start: what is measured is the stack doing nothing
    before, started = sum(container_cpu_seconds(i) for i in ids), time.monotonic()
    time.sleep(seconds)
    used, wall = sum(container_cpu_seconds(i) for i in ids) - before, time.monotonic() - started
    return {"containers": len(ids), "seconds": round(wall, 1), "cpu_seconds": round(used, 3),
            "percent_of_machine": round(100 * used / wall / (os.cpu_count() or 1), 3)}


def measure_idle(bench: Bench, seconds: float) -> dict:
    quiet = idle_cpu_percent(bench, seconds)
    interval = "TR4CTL_HEALTHCHECK_INTERVAL"
    bench.tr4ctl("config", "set", f"{interval}=1s")
    try:
        bench.tr4ctl("up", "--env", "dev")
        every_second = idle_cpu_percent(bench, seconds)
    finally:
        bench.tr4ctl("config", "set", f"{interval}=30s")
        bench.tr4ctl("up", "--env", "dev")
    return {"tr4ctl": quiet, "checks_every_second": every_second,
            "measured": "CPU of the stack's containers and their containerd shims, as a % of "
                        f"{os.cpu_count()} CPUs; dockerd's and containerd's share not included",
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def with_old(figures: dict | None, old_ms: float | None) -> dict | None:
    if figures is None:
        return None
    keep = {k: v for k, v in figures.items() if k != "mean_ms"}
    if old_ms is None:
        return {**keep, "old_baseline_ms": None, "ratio_p50_to_old": None}
    return {**keep, "old_baseline_ms": old_ms,
            "ratio_p50_to_old": round(figures["p50_ms"] / old_ms, 4)}


def measure_latency(bench: Bench, samples: int, rounds: int) -> dict:
    health = json.loads(bench.tr4ctl("--json", "health", "--samples", str(samples),
                                     check=False)[0].stdout)
    latency = health["data"]["latency_ms"]
    wall = [bench.tr4ctl("health", check=False)[1] for _ in range(rounds)]
    return {
        "samples": samples,
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
        "health_command_s": {**spread(wall), "samples_per_path": 50},
    }


def measure_load(bench: Bench, duration: float, concurrency: int) -> dict:
    load = json.loads(bench.tr4ctl("--json", "bench", "--duration", str(duration),
                                   "--concurrency", str(concurrency),
                                   check=False)[0].stdout)["data"]
    return {"requests_per_second": load["requests_per_second"], "requests": load["requests"],
            "failed": load["failed"], "concurrency": load["concurrency"],
            "seconds": load["seconds"], "latency_ms": load["latency_ms"],
            "old_baseline_rps": None}  # the old notes give no throughput figure


def measure_reads(bench: Bench, rounds: int) -> dict:
    users = [bench.tr4ctl("users", "list")[1] for _ in range(rounds)]
    verify = [bench.tr4ctl("verify", check=False)[1] for _ in range(max(1, rounds // 2))]
    return {"users_list_s": spread(users), "verify_s": spread(verify)}


def measure_backend(bench: Bench, rounds: int) -> dict:
    """The stack's own backend image (what `up` built) against a bare FastAPI app in it."""
    sys.path.insert(0, str(HERE))
    from backend_speed import measure

    services, _ = bench.json("status")
    image = next(s["image"] for s in services["services"] if s["service"] == "backend")
    return {"image": image, **measure(image, rounds=rounds)}


class Traffic:
    """Requests through nginx until stopped, each on a fresh connection: GET /health from
    a few threads and logins (bcrypt: some are in flight at every switch) from one. Every
    connection error and every answer that is not 2xx is a failure."""

    def __init__(self, bench: Bench, login: dict[str, str]):
        self.url, self.credentials = bench.url, login
        self.done = self.failed = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(self._health,), daemon=True)
                         for _ in range(HEALTH_THREADS)]
        self._threads.append(threading.Thread(target=self._loop, args=(self._login,),
                                              daemon=True))

    def _health(self) -> httpx.Response:
        return httpx.get(self.url("/health"), timeout=30, trust_env=False)

    def _login(self) -> httpx.Response:
        return httpx.post(self.url("/api/auth/login"), json=self.credentials, timeout=30,
                          trust_env=False)

    def _loop(self, request: Callable[[], httpx.Response]) -> None:
        while not self._stop.is_set():
            try:
                response = request()
                failure = (None if 200 <= response.status_code < 300
                           else f"{response.status_code} {response.text[:80]}")
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failure = repr(exc)
            with self._lock:
                self.done += 1
                if failure:
                    self.failed += 1
                    if len(self.failures) < 5:
                        self.failures.append(failure)
            time.sleep(0.01)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)  # traffic already flowing when the change begins
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # and a few requests after it
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def figures(self) -> dict:
        return {"done": self.done, "failed": self.failed, "failures": self.failures}


def measure_deploy(bench: Bench, rounds: int) -> dict:
    login = bench.login()
    walls, reported, steps, traffic_by_round = [], [], [], []
    for _ in range(rounds):
        with Traffic(bench, login) as traffic:
            report, seconds = bench.json("deploy", "--build")
        walls.append(seconds)
        reported.append(report["release"]["seconds"])
        steps.append(report["steps"])
        traffic_by_round.append(traffic.figures())
    names = list(dict.fromkeys(name for round_steps in steps for name in round_steps))
    return {
        "command": "tr4ctl --json deploy --build",
        "seconds": spread(walls),
        "release_seconds": spread(reported),
        "steps_s": {name: spread([s[name] for s in steps if name in s]) for name in names},
        "requests": {"done": sum(t["done"] for t in traffic_by_round),
                     "failed": sum(t["failed"] for t in traffic_by_round),
                     "by_round": traffic_by_round,
                     "health_threads": HEALTH_THREADS, "login_threads": 1},
    }


def timed_ms(send: Callable[[], httpx.Response], samples: int, warmup: int = 3) -> dict:
    """`send` called warmup + samples times in a row; percentiles of the 200 answers."""
    times, failed = [], 0
    for index in range(warmup + samples):
        started = time.perf_counter()
        status = send().status_code
        if index >= warmup:
            if status == 200:
                times.append((time.perf_counter() - started) * 1000)
            else:
                failed += 1
    if not times:
        raise RuntimeError(f"no 200 answer in {samples} requests (last: HTTP {status})")
    times.sort()
    return {"p50_ms": round(percentile(times, 0.50), 3), "p95_ms": round(percentile(times, 0.95), 3),
            "min_ms": round(times[0], 3), "max_ms": round(times[-1], 3), "samples": len(times),
            "failed": failed}


def request_latency(bench: Bench, login: dict[str, str], samples: int) -> dict:
    """Logins and /ready through nginx from the host, and the database /ready names (the
    proof of which engine answered)."""
    with httpx.Client(base_url=bench.url(""), timeout=30, trust_env=False) as client:
        figures = {"login": timed_ms(lambda: client.post("/api/auth/login", json=login), samples),
                   "ready": timed_ms(lambda: client.get("/ready"), samples)}
        figures["database"] = client.get("/ready").json()["checks"]["database"]["reason"]
    # The engines are measured one after the other, not paired: say how busy the host was.
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return figures


def postgres_to_sqlite(postgres: dict, sqlite: dict) -> dict:
    return {f"{what}_{p}": round(postgres[what][f"{p}_ms"] / sqlite[what][f"{p}_ms"], 3)
            for what in ("login", "ready") for p in ("p50", "p95")}


def move_to_postgres(bench: Bench) -> dict:
    report, seconds = bench.json("db", "use", "postgres")
    return {"command": "tr4ctl --json db use postgres", "seconds": round(seconds, 3),
            "write_pause_s": report["write_pause_seconds"], "steps_s": report["steps"],
            "rows": {name: table.get("rows") for name, table in report["tables"].items()}}


def measure_database(bench: Bench, samples: int) -> dict:
    login = bench.login()
    setting = bench.json("db", "status")[0]["setting"]
    if setting != "sqlite":
        raise RuntimeError(f"the stack is on {setting}, not SQLite: nothing to compare")
    sqlite = request_latency(bench, login, samples)
    move = move_to_postgres(bench)
    postgres = request_latency(bench, login, samples)
    return {"samples": samples, "path": "through nginx from the host, one connection",
            "sqlite": sqlite, "postgres": postgres,
            "postgres_to_sqlite": postgres_to_sqlite(postgres, sqlite), "move": move}


def targets(result: dict) -> dict:
    out = {}
    result = {k: v for k, v in result.items() if not (isinstance(v, dict) and "error" in v)}
    got = result.get
    if got("help"):
        out["help_vs_bare_typer"] = verdict(result["help"]["ratio"], 1.3)
    if got("status"):
        out["status_vs_compose_ps"] = verdict(result["status"]["ratio"], 1.5)
    if got("up"):
        out["up_vs_compose_up_wait"] = verdict(result["up"]["ratio"], 1.10)
    if got("idle"):
        out["idle_cpu_percent"] = verdict(result["idle"]["tr4ctl"]["percent_of_machine"], 1.0)
    if got("latency"):
        out["health_command_s"] = verdict(result["latency"]["health_command_s"]["median"], 1.0)
    if got("reads"):
        out["users_list_s"] = verdict(result["reads"]["users_list_s"]["median"], 1.5)
        out["verify_without_restart_s"] = verdict(result["reads"]["verify_s"]["median"], 8.0)
    if got("backend"):
        ratios = result["backend"].get("ratios", {})
        out["backend_rps_vs_bare"] = verdict(ratios.get("rps_backend_to_bare"), 0.8,
                                             at_most=False)
        out["backend_p50_vs_bare"] = verdict(ratios.get("p50_backend_to_bare"), 1.25)
    if got("deploy"):
        out["deploy_build_s"] = verdict(result["deploy"]["seconds"]["median"], 15.0)
        out["deploy_failed_requests"] = verdict(result["deploy"]["requests"]["failed"], 0)
    return out


terminated: list[int] = []


class ReadyProbe:
    """GET /ready through nginx every PROBE_EVERY s on one connection, until stopped: the
    longest stretch without a ready answer, and the requests that failed."""

    def __init__(self, bench: Bench):
        self.url = bench.url("/ready")
        self.answers: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.answers.append((time.monotonic(), ok))
                time.sleep(PROBE_EVERY)

    def __enter__(self) -> Self:
        self._thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        wait_until = time.monotonic() + 120  # until ready again (or two minutes)
        while time.monotonic() < wait_until and not (self.answers and self.answers[-1][1]):
            time.sleep(0.1)
        self._stop.set()
        self._thread.join(timeout=30)

    def figures(self) -> dict:
        longest, last_ok = 0.0, None
        for moment, ok in self.answers:
            if ok:
                if last_ok is not None:
                    longest = max(longest, moment - last_ok)
                last_ok = moment
        return {"requests": len(self.answers),
                "failed": sum(1 for _, ok in self.answers if not ok),
                "longest_without_ready_s": round(longest, 2)}


def _insert_accounts(bench: Bench, count: int) -> None:
    """count accounts in one SQL statement, as the backend's user, each with the seeded
    founder's password hash (bcrypt per row would take hours, and is not what is copied)."""
    bench.login()
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect('/app/data/tr4ction.db', timeout=60)\n"
        "with db:\n"
        "    db.execute(\"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < ?) INSERT INTO users (email, name, role, password_hash, created_at, "
        "updated_at) SELECT 'growth' || i || '@bench.test', 'Growth ' || i, role, "
        "password_hash, created_at, updated_at FROM n, (SELECT * FROM users WHERE email = ?)\","
        " (int(sys.argv[1]), sys.argv[2]))\n"
        "print(db.execute('SELECT count(*) FROM users').fetchone()[0])\n")
    bench.run([*bench.compose, "exec", "-T", "backend", "python", "-c", script, str(count),
               FOUNDER])


def _chroma_filler(bench: Bench, megabytes: int) -> None:
    bench.run([*bench.compose, "exec", "-T", "chroma", "sh", "-c",
               f"head -c {megabytes}M /dev/urandom > /data/bench-growth-filler.bin"])


def _backup_and_restore(bench: Bench) -> dict:
    with ReadyProbe(bench) as during_backup:
        created, backup_s = bench.json("backup", "create")
    archive = Path(created["path"])
    with ReadyProbe(bench) as during_restore:
        _, restore_s = bench.json("backup", "restore", str(archive), "--yes")
    figures = {"backup_create_s": round(backup_s, 2),
               "archive_mb": round(archive.stat().st_size / 1e6, 1),
               "stopped_s": created.get("stopped_seconds"),
               "api_during_backup": during_backup.figures(),
               "backup_restore_s": round(restore_s, 2),
               "api_during_restore": during_restore.figures()}
    for leftover in archive.parent.glob("*.tar.gz"):
        leftover.unlink()  # the safety backups too: the next size must fit on the disk
    return figures


def measure_growth(bench: Bench) -> dict:
    result: dict = {"accounts": GROWTH_ACCOUNTS, "probe_every_s": PROBE_EVERY}
    result["empty"] = _backup_and_restore(bench)
    log(f"growth: {GROWTH_ACCOUNTS} accounts")
    _insert_accounts(bench, GROWTH_ACCOUNTS)
    result[f"{GROWTH_ACCOUNTS}_accounts"] = _backup_and_restore(bench)
    for megabytes in GROWTH_CHROMA_MB:
        log(f"growth: {megabytes} MB in Chroma's volume")
        _chroma_filler(bench, megabytes)
        result[f"{GROWTH_ACCOUNTS}_accounts_chroma_{megabytes}mb"] = _backup_and_restore(bench)
    return result


def _on_sigterm(signum, _frame) -> None:
    terminated.append(signum)
    raise KeyboardInterrupt


def measure_offsite() -> dict:
    """The disaster drill (tests/stack/test_offsite.py, its own stack and SFTP server):
    accounts written in a loop, the volumes destroyed, a fresh project restored from
    the target with `backup restore --from`. RPO: the loss minus the newest account that
    came back (target <= 60 s); RTO: `restore --from` started to /health served."""
    OFFSITE_FIGURES.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(CHECKOUT / "tests" / "stack" / "test_offsite.py"), "-k", "drill"],
                          cwd=CHECKOUT, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")})
    if done.returncode != 0 or not OFFSITE_FIGURES.exists():
        return {"error": (done.stdout + done.stderr).strip()[-600:]}
    figures = json.loads(OFFSITE_FIGURES.read_text())
    figures["rpo_within_target"] = figures["rpo_seconds"] <= figures["rpo_target_seconds"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds per comparison")
    parser.add_argument("--samples", type=int, default=200, help="health samples per path")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of bench load")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="how long the stack is left idle for its CPU figure")
    parser.add_argument("--db-samples", type=int, default=30,
                        help="logins and /ready requests per database")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {', '.join(SECTIONS + ON_REQUEST)}")
    options = parser.parse_args()
    chosen = [s.strip() for s in options.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS + ON_REQUEST))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; use "
                     f"{', '.join(SECTIONS + ON_REQUEST)}")

    # What is measured is the tool as installed (a wheel carries bytecode), not the
    # compile of its sources on every start when PYTHONDONTWRITEBYTECODE is set.
    compileall.compile_dir(CHECKOUT / "tr4ctl", quiet=1)
    # SIGTERM (timeout, systemd, CI) takes Ctrl-C's path: the stack is torn down, exit 143.
    signal.signal(signal.SIGTERM, _on_sigterm)
    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tr4ctl-bench-"))
    bench = Bench(workdir)
    result: dict = {"project": bench.name,
                    "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release}}
    try:
        log(f"project {bench.name} in {workdir}")
        bench.tr4ctl("config", "set", "TR4CTL_BIND_ADDRESS=127.0.0.1",
                     f"TR4CTL_HTTP_PORT={bench.http_port}",
                     f"TR4CTL_HTTPS_PORT={bench.https_port}")
        bench.tr4ctl("images", "build-local")
        if "help" in chosen:
            log("help")
            result["help"] = measure_help(bench, options.rounds * 2)
        log("first up (creates .env, volumes, network; builds the backend if needed)")
        result["first_up_s"] = round(bench.tr4ctl("up", "--env", "dev")[1], 3)
        steps: list[tuple[str, Callable[[], dict]]] = [
            ("status", lambda: measure_status(bench, options.rounds * 2)),
            ("up", lambda: measure_up(bench, options.rounds)),
            ("idle", lambda: measure_idle(bench, options.idle_seconds)),
            ("latency", lambda: measure_latency(bench, options.samples, options.rounds)),
            ("load", lambda: measure_load(bench, options.duration, options.concurrency)),
            ("reads", lambda: measure_reads(bench, options.rounds)),
            ("backend", lambda: measure_backend(bench, options.rounds)),
            ("deploy", lambda: measure_deploy(bench, options.rounds)),
            ("database", lambda: measure_database(bench, options.db_samples)),  # last
            ("offsite", measure_offsite),
            ("growth", lambda: measure_growth(bench)),
        ]
        for name, step in steps:
            if name in chosen:
                log(name)
                try:
                    result[name] = step()
                except Exception as exc:  # noqa: BLE001 - one section must not lose the rest
                    log(f"{name} failed: {exc}")
                    result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    except CommandFailed as exc:
        raise SystemExit(f"bench: {exc}") from None
    except KeyboardInterrupt:
        log(f"{'terminated (SIGTERM)' if terminated else 'interrupted'}: no result")
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        bench.tear_down()
    result["targets"] = targets(result)
    result["machine"]["load_avg_1m"] = {"start": round(load_start, 2),
                                        "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
