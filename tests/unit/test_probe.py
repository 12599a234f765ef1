"""The in-network probe: the command it runs and what its output means."""

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tr4ctl.plan.probe import (
    PYTHON_PROBE,
    build_probe_plan,
    curl_script,
    parse_probe_output,
    python_probe,
)

READY = ('{"status":"ready","checks":{"database":{"ok":true,"reason":"users table reachable"},'
         '"chroma":{"ok":true,"reason":"heartbeat ok"}}}')


def run_script(argv: list[str], tmp_path, answers: dict[str, str]) -> str:
    """The probe script under a real sh, with a stand-in curl answering each URL."""
    fake = tmp_path / "curl"
    cases = "".join(f"      {url}) printf '%s %s %s\\n' \"$u\" {code} 0.00{i + 1} ;;\n"
                    for i, (url, code) in enumerate(answers.items()))
    fake.write_text(f"""#!/bin/sh
# A lone request ("-o /dev/null URL") answers by exit code; -K - reads URLs from stdin.
for a; do [ "$a" = -K ] && k=1; last=$a; done
if [ "$k" = 1 ]; then
  grep '^url' | sed 's/url = "\\(.*\\)"/\\1/' | while read -r u; do
    case "$u" in
{cases}    esac
  done
  exit 0
fi
case "$last" in
  *ready|*heartbeat) echo; echo '##code 200' ;;
esac
exit 0
""")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout


def test_curl_script_measures_both_paths_in_alternating_pairs(tmp_path):
    plan = build_probe_plan(samples=3, warmup=1, tls_domain=None)
    argv = curl_script(plan)
    assert argv[:2] == ["sh", "-c"]
    script = argv[2]
    # The URLs are not repeated on the command line (the kernel limits one argument).
    assert script.count("http://backend:8000/health") == 1
    assert "http://chroma:8000/api/v2/heartbeat" in script
    assert "-w '@" not in script  # curl would read the format from a file
    output = run_script(argv, tmp_path, {"http://backend:8000/health": 200,
                                         "http://127.0.0.1/health": 200})
    samples = output.split("##samples\n", 1)[1].split()
    names = samples[0::3]
    assert names == ["direct", "nginx", "nginx", "direct"] * 2
    result = parse_probe_output(output, warmup=1)
    assert len(result.direct.samples_ms()) == 3 and len(result.nginx.samples_ms()) == 3


def test_curl_script_for_a_thousand_samples_fits_one_argument():
    plan = build_probe_plan(samples=1000, warmup=5, tls_domain="api.example.test")
    assert len(curl_script(plan)[2].encode()) < 4096


def test_prod_reaches_nginx_by_its_domain_over_tls_on_loopback():
    plan = build_probe_plan(samples=1, warmup=0, tls_domain="api.example.test")
    script = curl_script(plan)[2]
    assert "https://api.example.test/health" in script
    assert "--resolve api.example.test:443:127.0.0.1" in script


def healthy_output(pairs):
    lines = [line for direct, nginx in pairs for line in (f"direct {direct}", f"nginx {nginx}")]
    return "\n".join(["##ready", READY, "##code 200", "##heartbeat", "##code 200",
                      "##direct", "##nginx", "##samples", *lines]) + "\n"


def test_parse_healthy_output_drops_the_warmup_and_keeps_the_pairs():
    text = healthy_output([("200 0.010", "200 0.011"), ("200 0.001", "200 0.0015"),
                           ("502 0.002", "200 0.0025")])
    result = parse_probe_output(text, warmup=1)
    assert result.ready_status == 200 and result.ready_body["status"] == "ready"
    assert result.heartbeat_status == 200
    assert result.direct.samples_ms() == [1.0]
    assert result.direct.paired_ms() == [1.0, None]
    assert result.nginx.paired_ms() == [1.5, 2.5]
    assert result.direct.errors() == {"HTTP 502": 1}


def test_parse_backend_down():
    text = ("##ready\ncurl: (6) Could not resolve host: backend\n\n##code 000\n"
            "##heartbeat\n##code 200\n"
            "##direct\ncurl: (6) Could not resolve host: backend\n"
            "##nginx\n##samples\nnginx 502 0.001\nnginx 502 0.001\nnginx 502 0.002\n")
    result = parse_probe_output(text, warmup=1)
    assert result.ready_status is None
    assert result.ready_error == "(6) Could not resolve host: backend"
    assert result.direct.error == "(6) Could not resolve host: backend"
    assert result.nginx.samples_ms() == [] and result.nginx.errors() == {"HTTP 502": 2}


def test_parse_chroma_down():
    text = ("##ready\n" + READY.replace('"ready"', '"not_ready"', 1) + "\n##code 503\n"
            "##heartbeat\ncurl: (6) Could not resolve host: chroma\n##code 000\n"
            "##direct\n##nginx\n##samples\ndirect 200 0.001\nnginx 200 0.002\n")
    result = parse_probe_output(text, warmup=0)
    assert result.ready_status == 503
    assert result.heartbeat_status is None and "chroma" in result.heartbeat_error


def test_missing_curl_is_reported():
    assert parse_probe_output("##nocurl\n", warmup=0).missing_client


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = READY.encode() if self.path == "/ready" else b'{"status":"healthy"}'
        code = 503 if self.path == "/api/v2/heartbeat" else 200
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_python_probe_prints_what_the_parser_reads():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        plan = build_probe_plan(samples=4, warmup=1, tls_domain=None)
        argv, stdin = python_probe(plan)
        assert argv[:2] == ["python3", "-c"] and argv[2] == PYTHON_PROBE
        local = (stdin.replace("http://backend:8000", base).replace("http://chroma:8000", base)
                 .replace("http://nginx", base))
        completed = subprocess.run([sys.executable, "-c", PYTHON_PROBE], input=local,
                                   capture_output=True, text=True, timeout=30, check=False)
    finally:
        server.shutdown()
    assert completed.returncode == 0, completed.stderr
    result = parse_probe_output(completed.stdout, warmup=1)
    assert result.ready_status == 200 and result.ready_body["status"] == "ready"
    assert result.heartbeat_status == 503
    assert len(result.direct.samples_ms()) == 4 and len(result.nginx.samples_ms()) == 4
    assert len(result.direct.paired_ms()) == len(result.nginx.paired_ms()) == 4
