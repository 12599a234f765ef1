"""Measuring inside the stack's network, where port 8000 is reachable without being
published: one command run in a container, its output parsed here.

The client is curl in the nginx container: one process, every sample URL on one
command line, so its connections are reused. The same client measures the backend
directly (`backend:8000`) and through nginx (nginx's own loopback) in back-to-back
pairs, alternating which of the two goes first: what nginx adds is read from each pair
(plan/latency.paired_overhead), not from two separate runs, whose percentiles differ by
noise as much as by nginx. An nginx image without curl falls back to a small Python
client run in the backend container, printing the same lines.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field

from tr4ctl.facts import BACKEND_PORT, CHROMA_HEARTBEAT_PATH, CHROMA_PORT

# Not "@": curl reads a -w format starting with "@" from a file.
MARK = "##"
CONNECT_TIMEOUT = 1
REQUEST_TIMEOUT = 3


@dataclass(frozen=True)
class ProbePlan:
    ready_url: str
    heartbeat_url: str
    direct_url: str
    nginx_url: str
    warmup: int
    samples: int
    # In prod the nginx URL is https://<domain>: resolve it to nginx itself and skip
    # verification here (trust is checked from the host, where the CA bundle is).
    nginx_resolve: str | None = None


@dataclass
class Timings:
    codes_and_seconds: list[tuple[int, float]] = field(default_factory=list)
    error: str | None = None  # why nothing could be measured

    def samples_ms(self, ok_status: int = 200) -> list[float]:
        return [round(s * 1000, 3) for code, s in self.codes_and_seconds if code == ok_status]

    def paired_ms(self, ok_status: int = 200) -> list[float | None]:
        """Every sample in order, None where it did not answer ok_status: the i-th of
        each path were measured back to back."""
        return [round(s * 1000, 3) if code == ok_status else None
                for code, s in self.codes_and_seconds]

    def errors(self, ok_status: int = 200) -> dict[str, int]:
        counts: dict[str, int] = {}
        for code, _ in self.codes_and_seconds:
            if code != ok_status:
                key = "no answer" if code == 0 else f"HTTP {code}"
                counts[key] = counts.get(key, 0) + 1
        return counts


@dataclass
class ProbeResult:
    ready_status: int | None = None
    ready_body: object = None
    ready_error: str | None = None
    heartbeat_status: int | None = None
    heartbeat_error: str | None = None
    direct: Timings = field(default_factory=Timings)
    nginx: Timings = field(default_factory=Timings)
    missing_client: bool = False


def build_probe_plan(*, samples: int, warmup: int, tls_domain: str | None) -> ProbePlan:
    if tls_domain:
        nginx_url, resolve = f"https://{tls_domain}/health", f"{tls_domain}:443:127.0.0.1"
    else:
        nginx_url, resolve = "http://127.0.0.1/health", None
    backend = f"http://backend:{BACKEND_PORT}"
    return ProbePlan(
        ready_url=f"{backend}/ready",
        heartbeat_url=f"http://chroma:{CHROMA_PORT}{CHROMA_HEARTBEAT_PATH}",
        direct_url=f"{backend}/health",
        nginx_url=nginx_url,
        warmup=warmup,
        samples=samples,
        nginx_resolve=resolve,
    )


def curl_script(plan: ProbePlan) -> list[str]:
    """argv for `compose exec nginx`: a POSIX shell script calling curl."""
    base = f"curl -sS --connect-timeout {CONNECT_TIMEOUT} -m {REQUEST_TIMEOUT}"
    nginx_opts = f" -k --resolve {shlex.quote(plan.nginx_resolve)}" if plan.nginx_resolve else ""
    parts = [
        f"command -v curl >/dev/null 2>&1 || {{ echo '{MARK}nocurl'; exit 0; }}",
        f"echo '{MARK}ready'",
        f"{base} -w '\\n{MARK}code %{{http_code}}\\n' {shlex.quote(plan.ready_url)} 2>&1",
        f"echo '{MARK}heartbeat'",
        (f"{base} -o /dev/null -w '{MARK}code %{{http_code}}\\n' "
         f"{shlex.quote(plan.heartbeat_url)} 2>&1"),
        f"D={shlex.quote(plan.direct_url)}; N={shlex.quote(plan.nginx_url)}",
        # A first lone request says whether each path answers at all; only the paths that
        # do are timed (a dead one would cost a timeout per sample).
        f"echo '{MARK}direct'",
        f'd=0; {base} -o /dev/null "$D" 2>&1 && d=1',
        f"echo '{MARK}nginx'",
        f'n=0; {base}{nginx_opts} -o /dev/null "$N" 2>&1 && n=1',
        # The URL list goes to curl as a config on stdin: 2 x 1005 URLs on the command
        # line would pass the kernel's limit for one argument (128 KiB). Pairs alternate
        # which path goes first, so neither always gets the warmer turn. One curl for the
        # whole run (connections reused); -w names each answer by its URL, turned into
        # the path's name: "direct 200 0.001234".
        f"echo '{MARK}samples'",
        """C='url = "%s"\\noutput = "/dev/null"\\n'""",
        (f"i=0; while [ $i -lt {plan.warmup + plan.samples} ]; do "
         "if [ $((i % 2)) = 0 ]; then set -- D N; else set -- N D; fi; for p; do "
         'if [ $p = D ] && [ $d = 1 ]; then printf "$C" "$D"; fi; '
         'if [ $p = N ] && [ $n = 1 ]; then printf "$C" "$N"; fi; '
         f"done; i=$((i + 1)); done | {base}{nginx_opts} -K - "
         "-w '%{url_effective} %{http_code} %{time_total}\\n' 2>/dev/null | "
         'while read -r u c t; do if [ "$u" = "$D" ]; then echo "direct $c $t"; '
         'else echo "nginx $c $t"; fi; done'),
        "exit 0",
    ]
    return ["sh", "-c", "; ".join(parts)]


# Same output as curl_script, for nginx images without curl: run by python3 in the
# backend container with the plan as JSON on stdin.
PYTHON_PROBE = r"""
import http.client, json, ssl, sys, time, urllib.parse
plan = json.load(sys.stdin)
def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=3,
                                           context=ssl._create_unverified_context()), u
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3), u
def fetch(conn, u):
    conn.request("GET", u.path or "/")
    response = conn.getresponse()
    return response.status, response.read()
def once(url, show_body):
    conn, u = connect(url)
    try:
        code, body = fetch(conn, u)
    except Exception as exc:
        print("%s: %s" % (type(exc).__name__, exc))
        print("##code 000")
        return
    if show_body:
        print(body.decode("utf-8", "replace"))
    print("##code %d" % code)
print("##ready"); once(plan["ready_url"], True)
print("##heartbeat"); once(plan["heartbeat_url"], False)
conns = {}
for name in ("direct", "nginx"):
    print("##" + name)
    conn, u = connect(plan[name + "_url"])
    try:
        fetch(conn, u)
        conns[name] = (conn, u)
    except Exception as exc:
        print("%s: %s" % (type(exc).__name__, exc))
print("##samples")
names = [name for name in ("direct", "nginx") if name in conns]
for i in range(plan["warmup"] + plan["samples"]):
    for name in (names if i % 2 == 0 else names[::-1]):
        conn, u = conns[name]
        started = time.perf_counter()
        try:
            code, _ = fetch(conn, u)
        except Exception:
            code, conns[name] = 0, connect(plan[name + "_url"])
        print("%s %d %.6f" % (name, code, time.perf_counter() - started))
"""


def python_probe(plan: ProbePlan) -> tuple[list[str], str]:
    """argv and stdin for `compose exec backend`. nginx is reached by its service name,
    or in prod by the domain, which is nginx's alias on the stack's network."""
    data = asdict(plan)
    if not plan.nginx_resolve:
        data["nginx_url"] = plan.nginx_url.replace("127.0.0.1", "nginx")
    return ["python3", "-c", PYTHON_PROBE], json.dumps(data)


def parse_probe_output(text: str, warmup: int) -> ProbeResult:
    result = ProbeResult()
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARK) and not line.startswith(f"{MARK}code"):
            name = line[len(MARK):].strip()
            if name == "nocurl":
                result.missing_client = True
                return result
            current = sections.setdefault(name, [])
        elif current is not None:
            current.append(line)
    result.ready_status, body_lines, result.ready_error = _answer(sections.get("ready"))
    if result.ready_status:
        try:
            result.ready_body = json.loads("\n".join(body_lines))
        except ValueError:
            result.ready_body = None
    result.heartbeat_status, _, result.heartbeat_error = _answer(sections.get("heartbeat"))
    samples = _samples(sections.get("samples", []))
    result.direct = _timings(sections.get("direct"), samples.get("direct", []), warmup)
    result.nginx = _timings(sections.get("nginx"), samples.get("nginx", []), warmup)
    return result


def _samples(lines: list[str]) -> dict[str, list[tuple[int, float]]]:
    """`direct 200 0.001234` lines by path, in the order they were measured."""
    found: dict[str, list[tuple[int, float]]] = {}
    for line in lines:
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            try:
                found.setdefault(fields[0], []).append((int(fields[1]), float(fields[2])))
            except ValueError:
                continue
    return found


def _answer(lines: list[str] | None) -> tuple[int | None, list[str], str | None]:
    """(status, body lines, error) of a section ending in `@@code NNN`."""
    if lines is None:
        return None, [], "not probed"
    code_lines = [line for line in lines if line.startswith(f"{MARK}code ")]
    body = [line for line in lines if not line.startswith(f"{MARK}code ") and line.strip()]
    code = int(code_lines[-1].split()[1]) if code_lines else 0
    if code == 0:
        return None, body, _error_line(body) or "no answer"
    return code, body, None


def _timings(check_lines: list[str] | None, measured: list[tuple[int, float]],
             warmup: int) -> Timings:
    """A path's samples after the warm-up, or why it answered nothing (the lone first
    request's error)."""
    if check_lines is None:
        return Timings(error="not probed")
    if not measured:
        return Timings(error=_error_line(check_lines) or "no answer")
    return Timings(codes_and_seconds=measured[warmup:])


def _error_line(lines: list[str]) -> str | None:
    for line in lines:
        text = line.strip()
        if text:
            # curl: "curl: (6) Could not resolve host: backend"
            return text.removeprefix("curl: ")[:200]
    return None
