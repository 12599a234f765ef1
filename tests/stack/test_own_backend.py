"""A team's own backend, not tr4ctl's: plain Python's http.server answering /health, as
non-root, in a git repository with two commits. TR4CTL_BACKEND_SOURCE points at it: `up`
builds its HEAD (a branch at the first commit), `deploy --ref` the second under load (no
failed request), `rollback`, `health`, `verify` (its optional parts reported as not
provided), `backup create`. One stack for the module."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from conftest import docker, running_stack
from load import RequestLoad

BASE = "tr4ctl-local/python:3.11-bookworm"
APP = '''import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "{version}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path != "/health":
            self.send_error(404)
            return
        body = json.dumps({{"status": "ok", "version": VERSION, "uid": os.getuid()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''
DOCKERFILE = f'''FROM {BASE}
WORKDIR /srv
COPY app.py /srv/app.py
USER 10001:10001
EXPOSE 8000
CMD ["python3", "/srv/app.py"]
'''


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """Two commits: "one" on branch `release` (what `up` builds), "two" after it."""
    repo = tmp_path_factory.mktemp("t3sr-app")
    git(repo, "init", "--quiet", "--initial-branch", "main")
    git(repo, "config", "user.email", "t@example.test")
    git(repo, "config", "user.name", "t")
    (repo / "Dockerfile").write_text(DOCKERFILE)
    commits = []
    for version in ("one", "two"):
        (repo / "app.py").write_text(APP.format(version=version))
        git(repo, "add", "Dockerfile", "app.py")
        git(repo, "commit", "--quiet", "-m", f"version {version}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    git(repo, "checkout", "--quiet", "-b", "release", commits[0])
    return repo, commits


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory, repository):
    repo, _ = repository
    with running_stack(tmp_path_factory, "t3sr-own",
                       settings={"TR4CTL_BACKEND_SOURCE": str(repo)}) as running:
        yield running
    for image in docker("images", "--format", "{{.Repository}}:{{.Tag}}").split():
        if image.startswith("tr4ction/backend:git-"):
            docker("rmi", image, check=False)


def served(stack) -> dict:
    return httpx.get(stack.url("/health"), timeout=10).json()


def test_up_built_the_own_backend_at_head_running_as_non_root(stack):
    answer = served(stack)
    assert answer["version"] == "one" and answer["uid"] == 10001


def test_deploy_a_ref_under_load_then_roll_back(stack, repository):
    _, commits = repository
    with RequestLoad(stack.url) as load:
        deployed = stack.json("deploy", "--ref", commits[1][:10])["data"]
    assert load.failures == [], load.failures[:5]
    assert load.done > 20
    assert served(stack)["version"] == "two"
    history = json.loads((stack.project_dir / ".tr4ctl" / "releases.json").read_text())
    assert history["format_version"] == 2
    assert history["releases"][-1]["commit"] == commits[1], deployed
    assert history["releases"][0]["commit"] == commits[0]  # what `up` ran
    with RequestLoad(stack.url) as load:
        stack.json("rollback")
    assert load.failures == [], load.failures[:5]
    assert served(stack)["version"] == "one"
    history = json.loads((stack.project_dir / ".tr4ctl" / "releases.json").read_text())
    assert history["releases"][-1]["commit"] == commits[0]


def test_an_unknown_ref_is_refused_and_changes_nothing(stack):
    before = (stack.project_dir / ".tr4ctl" / "releases.json").read_text()
    refused = stack.tr4ctl("deploy", "--ref", "no-such-tag", check=False)
    assert refused.returncode == 2, refused.stderr
    assert "--ref no-such-tag: no such commit" in refused.stderr
    assert (stack.project_dir / ".tr4ctl" / "releases.json").read_text() == before


def test_health_and_verify_report_the_missing_parts_as_not_provided(stack):
    health = stack.tr4ctl("--json", "health", check=False)
    checks = {c["name"]: c for c in json.loads(health.stdout)["checks"]}
    assert "not provided by this backend" in checks["backend /ready"]["reason"]
    verify = stack.tr4ctl("--json", "verify", check=False)
    report = json.loads(verify.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("database initialised", "admin and founder accounts exist",
                 "login rate limiting"):
        assert "not provided by this backend" in checks[name]["reason"], checks[name]
    assert "not provided by this backend" in checks["CORS: configured origins only"]["reason"]
    failed = {c["name"] for c in checks.values() if c["verdict"] == "fail"}
    assert failed == set(), failed
    assert verify.returncode == 0, verify.stderr
    for name in ("non-root: backend", "port 8000 not published", "health checks passing",
                 "nginx proxies to the backend", "logging active"):
        assert checks[name]["verdict"] == "pass", checks[name]
    # Request ids are an optional part: nginx's own line is followed instead.
    assert "not provided by this backend" in checks["logging active"]["evidence"]


def test_doctor_reads_the_contract_from_the_image(stack):
    doctor = json.loads(stack.tr4ctl("--json", "doctor", check=False).stdout)
    contract = next(c for c in doctor["data"]["checks"]
                    if c["name"].startswith("backend contract"))
    assert contract["ok"], contract
    assert contract["detail"].startswith("runs as 10001:10001; provides none; not provided "
                                         "by this backend: ready, accounts, migrations, "
                                         "request-id"), contract


def test_users_seed_refuses_naming_the_part(stack):
    refused = stack.tr4ctl("users", "seed", "--admin-email", "a@x.test", "--founder-email",
                           "f@x.test", "--password-stdin", input="pw-1234567890\n" * 2,
                           check=False)
    assert refused.returncode == 3, refused.stderr
    assert "users seed needs the accounts command" in refused.stderr


def test_backup_create(stack):
    created = stack.json("backup", "create")
    assert created["exit_code"] == 0
