"""The day-2 toolkit (#23) on one stack of its own: exec, maintenance mode, deploy hooks,
and the audit log they write."""

from __future__ import annotations

import json
import time

import pytest
from conftest import docker, running_stack, wait_for
from webhooks import webhook_receiver


@pytest.fixture(scope="module")
def day2_stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "t3d2-day2") as stack:
        yield stack


def audit_events(stack) -> list[dict]:
    path = stack.project_dir / ".tr4ctl" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_exec_passes_output_stdin_and_the_exit_code_through(day2_stack):
    done = day2_stack.tr4ctl("exec", "backend", "--", "sh", "-c",
                             "cat; echo to-out; echo to-err >&2; exit 7",
                             input="from-stdin\n", check=False)
    assert done.returncode == 7, done.stderr
    assert done.stdout == "from-stdin\nto-out\n"
    assert "to-err" in done.stderr
    ok = day2_stack.tr4ctl("exec", "nginx", "--", "nginx", "-v", check=False)
    assert ok.returncode == 0 and "nginx version" in ok.stderr
    last = audit_events(day2_stack)[-1]
    assert last["event"] == "exec" and last["service"] == "nginx" and last["program"] == "nginx"
    assert not any("to-err" in json.dumps(event) for event in audit_events(day2_stack))


def test_exec_into_a_stopped_service_is_exit_3_naming_up(day2_stack):
    renew = day2_stack.container_ids()["certbot-renew"]
    docker("stop", "--time", "1", renew)
    try:
        done = day2_stack.tr4ctl("exec", "certbot-renew", "--", "true", check=False)
        assert done.returncode == 3, done.stderr
        assert "certbot-renew is not running" in done.stderr and "tr4ctl up" in done.stderr
    finally:
        docker("start", renew)


def test_maintenance_on_and_off_under_load_with_no_failed_health_request(day2_stack):
    import httpx
    from load import RequestLoad

    stack = day2_stack
    hostile = "<script>alert('x')</script> $host \"quoted\""
    with RequestLoad(stack.url) as load:
        stack.tr4ctl("maintenance", "on", "--message", hostile)
        api = httpx.get(stack.url("/api/users"), headers={"Accept": "application/json"})
        page = httpx.get(stack.url("/"), headers={"Accept": "text/html,*/*;q=0.8"})
        health = httpx.get(stack.url("/health"))
        acme = httpx.get(stack.url("/.well-known/acme-challenge/nothing-here"))
        status = stack.json("status")["data"]["maintenance"]
        stack.tr4ctl("maintenance", "off")
    assert load.failures == [] and load.done > 20
    assert api.status_code == 503 and api.headers["Retry-After"] == "120"
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["detail"] == hostile
    assert page.status_code == 503 and page.headers["Retry-After"] == "120"
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert health.status_code == 200 and acme.status_code == 404
    assert status["message"] == hostile
    assert httpx.get(stack.url("/api/users")).status_code != 503
    assert stack.json("status")["data"]["maintenance"] is None
    events = [e for e in audit_events(stack) if e["event"] == "maintenance"]
    assert [e["on"] for e in events[-2:]] == [True, False]


def test_maintenance_persists_across_up_and_refuses_a_long_message(day2_stack):
    import httpx

    stack = day2_stack
    long = stack.tr4ctl("maintenance", "on", "--message", "x" * 301, check=False)
    assert long.returncode == 2 and "300" in long.stderr
    assert stack.json("status")["data"]["maintenance"] is None  # nothing half done
    stack.tr4ctl("maintenance", "on")
    try:
        stack.tr4ctl("up", "--env", "dev")
        assert httpx.get(stack.url("/api/users")).status_code == 503
        assert httpx.get(stack.url("/health")).status_code == 200
    finally:
        stack.tr4ctl("maintenance", "off")
    assert httpx.get(stack.url("/api/users")).status_code != 503


def test_deploy_maintenance_is_turned_off_after_a_failed_deploy(day2_stack):
    stack = day2_stack
    before = len(audit_events(stack))
    done = stack.tr4ctl("deploy", "--maintenance", "--image", "t3d2-missing/backend:none",
                        check=False)
    assert done.returncode != 0
    assert stack.json("status")["data"]["maintenance"] is None
    switched = [e["on"] for e in audit_events(stack)[before:] if e["event"] == "maintenance"]
    assert switched == [True, False]


def write_hook(stack, name: str, script: str) -> None:
    hooks = stack.project_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    path = hooks / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o700)


def test_a_failing_pre_deploy_hook_stops_the_deploy_with_nothing_changed(day2_stack, tmp_path):
    import httpx

    stack = day2_stack
    seen = tmp_path / "hook-env"
    write_hook(stack, "pre-deploy", f"env > {seen}\necho checks failed >&2\nexit 4\n")
    before_ids = stack.container_ids()
    before_releases = stack.json("releases")["data"]
    try:
        done = stack.tr4ctl("deploy", check=False)
        assert done.returncode == 1, done.stderr
        assert "hook pre-deploy failed: exit 4" in done.stderr and "checks failed" in done.stderr
        assert stack.container_ids()["backend"] == before_ids["backend"]
        assert stack.json("releases")["data"] == before_releases  # nothing recorded
        assert httpx.get(stack.url("/health")).status_code == 200
        env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
        assert env["TR4CTL_HOOK"] == "pre-deploy" and env["TR4CTL_RELEASE_ID"].startswith("r")
        assert env["TR4CTL_RELEASE_IMAGE"] and "TR4CTL_RELEASE_COMMIT" in env
        assert not any(key.startswith("TR4CTL_") and key not in (
            "TR4CTL_HOOK", "TR4CTL_PROJECT", "TR4CTL_PROJECT_DIR") and "RELEASE" not in key
            for key in env)  # nothing of tr4ctl's own settings (secrets) passed on
        hooks = [e for e in audit_events(stack) if e["event"] == "hook"]
        assert hooks[-1]["hook"] == "pre-deploy" and hooks[-1]["exit_code"] == 4

        write_hook(stack, "pre-deploy", "sleep 60\n")
        slow = stack.tr4ctl("deploy", env={"TR4CTL_HOOK_TIMEOUT": "1"}, check=False)
        assert slow.returncode == 1 and "timed out" in slow.stderr, slow.stderr
        assert stack.container_ids()["backend"] == before_ids["backend"]
        assert [e for e in audit_events(stack) if e["event"] == "hook"][-1]["result"] == \
            "timed out"
    finally:
        (stack.project_dir / "hooks" / "pre-deploy").unlink()


def test_a_post_deploy_hook_gets_the_new_and_previous_release(day2_stack, tmp_path):
    stack = day2_stack
    seen = tmp_path / "post-env"
    write_hook(stack, "post-deploy", f"env > {seen}\n")
    try:
        stack.tr4ctl("deploy")
    finally:
        (stack.project_dir / "hooks" / "post-deploy").unlink()
    releases = stack.json("releases")["data"]
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["TR4CTL_HOOK"] == "post-deploy"
    assert env["TR4CTL_RELEASE_ID"] == releases["current"]
    assert env["TR4CTL_PREVIOUS_RELEASE_ID"] == releases["releases"][-2]["id"]
    assert [e for e in audit_events(stack) if e["event"] == "hook"][-1]["result"] == "ok"


def test_every_changing_command_is_in_the_audit_log_without_its_arguments(day2_stack):
    stack = day2_stack
    before = len(audit_events(stack))
    stack.tr4ctl("config", "set", "TR4CTL_HOOK_TIMEOUT=299.5")
    stack.tr4ctl("nginx", "use", "dev")
    refused = stack.tr4ctl("nginx", "use", "prod", check=False)  # no certificate: refused
    assert refused.returncode == 2
    lines = (stack.project_dir / ".tr4ctl" / "audit.jsonl").read_text().splitlines()[before:]
    events = [json.loads(line) for line in lines]
    # The refused one changed nothing and leaves no line.
    assert [(e["command"], e["exit_code"]) for e in events if e["event"] == "command"] == [
        ("config set", 0), ("nginx use", 0)]
    assert all(e["by"] for e in events) and not any("299.5" in line for line in lines)
    mode = (stack.project_dir / ".tr4ctl" / "audit.jsonl").stat().st_mode & 0o777
    assert mode == 0o600  # private: who ran what


def test_failed_deploys_alert_once_and_a_good_one_resolves(day2_stack):
    secret_path = "/T0001/B0001/t3d2-secret-token"
    stack = day2_stack
    with webhook_receiver() as (url, received):
        env = {"TR4CTL_ALERT_WEBHOOK": f"{url}{secret_path}"}
        try:
            write_hook(stack, "pre-deploy", "exit 9\n")
            for _ in range(2):
                failed = stack.tr4ctl("deploy", env=env, check=False)
                assert failed.returncode == 1
                assert "t3d2-secret-token" not in failed.stderr + failed.stdout
            assert [a["status"] for a in received] == ["firing"]  # once per incident
            assert "deploy failed" in received[0]["text"]
            (stack.project_dir / "hooks" / "pre-deploy").unlink()
            stack.tr4ctl("deploy", env=env)
            assert [a["status"] for a in received] == ["firing", "resolved"]
            shown = stack.tr4ctl("config", "show", env=env).stdout
            assert "t3d2-secret-token" not in shown
        finally:
            (stack.project_dir / "hooks" / "pre-deploy").unlink(missing_ok=True)


def test_restore_with_maintenance_turns_it_on_for_its_duration_and_off_after(day2_stack,
                                                                             tmp_path):
    stack = day2_stack
    created = stack.json("backup", "create", "--dir", str(tmp_path))["data"]
    archive = created["path"]
    before = len(audit_events(stack))
    stack.tr4ctl("backup", "restore", archive, "--yes", "--maintenance", "--dir",
                 str(tmp_path / "safety"))
    assert stack.json("status")["data"]["maintenance"] is None
    events = audit_events(stack)[before:]
    assert [e["on"] for e in events if e["event"] == "maintenance"] == [True, False]
    assert [e["command"] for e in events if e["event"] == "command"] == ["backup restore"]


# A webhook receiver on the stack's own network (the alert-watch service posts from
# there): each JSON body it gets is a line of its output.
RECEIVER = """
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sys.stdout.write(body.decode() + "\\n"); sys.stdout.flush()
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 8080), Hook).serve_forever()
"""


def test_the_stack_alerts_once_when_chroma_stays_down_and_once_when_it_is_back(day2_stack):
    """Last in the module; it ends by unsetting the webhook: `up` removes the watcher."""
    stack = day2_stack
    ids = stack.container_ids()
    image = docker("inspect", "-f", "{{.Config.Image}}", ids["backend"]).strip()
    receiver = f"{stack.name}-hook"
    # The backend's image carries the compose labels of the project that built it: emptied
    # here, as tr4ctl's own helpers do (docker/commands.py NOT_COMPOSE), so no project's
    # `up` takes the receiver for one of its containers.
    docker("run", "-d", "--name", receiver, "--label", "com.docker.compose.project=",
           "--label", "com.docker.compose.service=", "--network", f"{stack.name}_network",
           "--network-alias", "t3d2-hook", "--entrypoint", "python3", image, "-c", RECEIVER)

    def alerts() -> list[dict]:
        return [json.loads(line) for line in docker("logs", receiver).splitlines()
                if line.startswith("{")]

    try:
        env = {"TR4CTL_ALERT_WEBHOOK": "http://t3d2-hook:8080/T0001/t3d2-watch-token",
               "TR4CTL_ALERT_AFTER": "3"}
        stack.tr4ctl("up", "--env", "dev", env=env)
        watcher = stack.container_ids()["alert-watch"]
        inspected = docker("inspect", watcher)
        assert "t3d2-watch-token" not in inspected  # a secret file, not its environment
        docker("stop", ids["chroma"])
        firing = wait_for(lambda: [a for a in alerts() if a["incident"] == "backend"],
                          "the backend-not-ready alert", timeout=90)
        time.sleep(12)  # still down: no second alert for the same incident
        backend = [a for a in alerts() if a["incident"] == "backend"]
        assert [a["status"] for a in backend] == ["firing"], backend
        assert "chroma" in firing[0]["text"], firing
        docker("start", ids["chroma"])
        wait_for(lambda: len([a for a in alerts() if a["incident"] == "backend"]) == 2,
                 "the recovery", timeout=120)
        backend = [a for a in alerts() if a["incident"] == "backend"]
        assert [a["status"] for a in backend] == ["firing", "resolved"], backend
        assert "t3d2-watch-token" not in docker("logs", watcher)
        # The webhook unset: the next `up` removes the watcher it no longer renders.
        stack.tr4ctl("up", "--env", "dev")
        assert "alert-watch" not in stack.container_ids()
        assert docker("ps", "-aq", "--filter", f"id={watcher}").strip() == ""
    finally:
        docker("rm", "-f", receiver, check=False)
        docker("start", ids["chroma"], check=False)
