"""Issue 3 on a real engine: init, up, status, down, and refusals that start nothing."""

import json
import os
import socket
import subprocess
import sys
from functools import partial

import httpx
from conftest import TEST_PREFIX, docker, new_stack, own_environment, running_stack, wait_for

from tr4ctl.facts import VOLUME_KEYS


def test_dev_stack_is_healthy_through_nginx(dev_stack):
    response = httpx.get(dev_stack.url("/health"), timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_status_json_lists_every_service_with_health(dev_stack):
    envelope = dev_stack.json("status")
    assert envelope["status"] == "ok"
    services = {s["service"]: s for s in envelope["data"]["services"]}
    assert {"backend", "nginx", "chroma"} <= set(services)
    for name in ("backend", "nginx", "chroma"):
        assert services[name]["state"] == "running"
        assert services[name]["health"] == "healthy"
        assert services[name]["env"] == "dev"
    assert envelope["data"]["nginx_config"] == "dev"
    published = [p for s in services.values() for p in s["ports"]]
    assert all("->8000" not in p for p in published)
    assert sorted(p.split("->")[0] for p in services["nginx"]["ports"]) == sorted(
        [f"127.0.0.1:{dev_stack.http_port}", f"127.0.0.1:{dev_stack.https_port}"])


def test_second_up_recreates_nothing(dev_stack):
    before = dev_stack.container_ids()
    dev_stack.tr4ctl("up", "--env", "dev")
    assert dev_stack.container_ids() == before


def test_down_then_up_keeps_backend_data(dev_stack):
    dev_stack.compose_exec("backend", "sh", "-c", "echo kept > /app/data/marker.txt")
    dev_stack.tr4ctl("down")
    assert dev_stack.json("status")["data"]["services"][0]["state"] == "absent"
    assert dev_stack.name + "_backend_data" in docker("volume", "ls", "--format", "{{.Name}}")
    dev_stack.tr4ctl("up", "--env", "dev")
    assert dev_stack.compose_exec("backend", "cat", "/app/data/marker.txt").strip() == "kept"


def test_backend_runs_as_non_root(dev_stack):
    services = {s["service"]: s for s in dev_stack.json("status")["data"]["services"]}
    assert services["backend"]["user"] not in ("", "root", "0")


def test_init_twice_creates_nothing_the_second_time(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "init")
    try:
        first = stack.json("init")["data"]
        second = stack.json("init")["data"]
        assert second["changed"] is False
        assert all(item["result"] == "exists" for item in second["items"])
        volumes = [i["name"] for i in first["items"] if i["kind"] == "volume"]
        # The operators' six plus PostgreSQL's, made up front so `db use` never creates one.
        assert sorted(v.removeprefix(f"{stack.name}_") for v in volumes) == sorted(VOLUME_KEYS)
        env_file = stack.project_dir / ".env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        assert "JWT_SECRET_KEY=" in env_file.read_text()
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)
    remaining = docker("volume", "ls", "--format", "{{.Name}}")
    assert stack.name not in remaining


def test_a_project_name_given_to_init_is_kept_for_later_commands(docker_engine, tmp_path):
    name = f"{TEST_PREFIX}named-{os.getpid()}"
    cli = [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path)]
    run = partial(subprocess.run, capture_output=True, text=True, env=own_environment())
    try:
        created = run([*cli, "--project-name", name, "--json", "init"])
        assert created.returncode == 0, created.stderr
        later = json.loads(run([*cli, "--json", "status"]).stdout)  # no --project-name
        assert later["data"]["project"] == name
    finally:
        run([*cli, "--project-name", name, "down", "--volumes", "--yes"])
    assert name not in docker("volume", "ls", "--format", "{{.Name}}")


def test_busy_http_port_is_refused_before_anything_starts(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "busy")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", stack.http_port))
        holder.listen()
        result = stack.tr4ctl("up", "--env", "dev", check=False)
    assert result.returncode == 2
    assert f"HTTP port {stack.http_port}" in result.stderr
    assert "TR4CTL_HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert docker("ps", "-a", "--filter", f"label=com.docker.compose.project={stack.name}",
                  "-q").strip() == ""


def test_prod_without_domain_is_refused(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "nodomain")
    result = stack.tr4ctl("--json", "up", "--env", "prod", check=False)
    assert result.returncode == 2
    assert "TR4CTL_DOMAIN" in json.loads(result.stdout)["errors"][0]["hint"]


# -- quiet idle: slow engine checks, and what status reads from them (issue 20) ----------
def test_status_right_after_up_is_healthy_before_the_engines_first_check(dev_stack):
    """On an engine without start_interval, the engine's first check of a new container
    comes an interval (30 s) after its start: status trusts what `up` saw meanwhile."""
    dev_stack.tr4ctl("down")
    dev_stack.tr4ctl("up", "--env", "dev")
    result = dev_stack.tr4ctl("--json", "status", "--check", check=False)
    assert result.returncode == 0, result.stdout
    for service in json.loads(result.stdout)["data"]["services"]:
        assert service["health"] == "healthy", service
        if service["health_by"] == "tr4ctl":  # the engine's own verdict is still to come
            engine = docker("inspect", "-f", "{{.State.Health.Status}}",
                            service["container_id"]).strip()
            assert engine == "starting", service


def stack_container(stack, service: str) -> str:
    return docker("ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}",
                  "--filter", f"label=com.docker.compose.service={service}").strip()


def status_check(stack) -> tuple[int, dict]:
    result = stack.tr4ctl("--json", "status", "--check", check=False)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_status_check_names_a_backend_whose_chroma_is_unreachable(docker_engine,
                                                                 tmp_path_factory):
    # Checked every 2 s here, so that the engine's next check comes soon.
    with running_stack(tmp_path_factory, "ready",
                       settings={"TR4CTL_HEALTHCHECK_INTERVAL": "2s"}) as stack:
        assert status_check(stack)[0] == 0
        network = f"{stack.name}_network"
        chroma = stack_container(stack, "chroma")
        docker("network", "disconnect", network, chroma)
        try:
            # Chroma itself still runs and passes its own check: only the backend, whose
            # /health still answers, says so.
            def degraded():
                code, doc = status_check(stack)
                return (code, doc) if code != 0 else None

            code, doc = wait_for(degraded, "status --check to see Chroma unreachable",
                                 timeout=120)
            assert code == 1 and doc["data"]["condition"] == "degraded"
            problems = doc["errors"][0]["message"] + " ".join(doc["data"]["problems"])
            assert "backend is not ready: chroma: unreachable" in problems
            human = stack.tr4ctl("status", "--check", check=False)
            assert human.returncode == 1 and "backend is not ready: chroma" in human.stderr
        finally:
            docker("network", "connect", "--alias", "chroma", network, chroma, check=False)
        wait_for(lambda: status_check(stack)[0] == 0, "the stack healthy again", timeout=120)


def test_doctor_names_a_stack_network_whose_dns_no_longer_answers(docker_engine,
                                                                  tmp_path_factory):
    with running_stack(tmp_path_factory, "dns") as stack:
        result = stack.tr4ctl("--json", "doctor", check=False)
        checks = {c["name"]: c for c in json.loads(result.stdout)["data"]["checks"]}
        network = f"{stack.name}_network"
        assert checks[f"network {network} DNS"]["ok"], checks
        # Docker's resolver is reached through NAT rules in the container's own network
        # namespace: without them, lookups in the backend get no answer.
        pid = docker("inspect", "-f", "{{.State.Pid}}", stack_container(stack, "backend")).strip()
        broken = subprocess.run(["nsenter", "-t", pid, "-n", "iptables", "-t", "nat", "-F",
                                 "DOCKER_OUTPUT"], capture_output=True, text=True)
        assert broken.returncode == 0, broken.stderr
        result = stack.tr4ctl("--json", "doctor", check=False)
        assert result.returncode == 1
        dns = {c["name"]: c for c in json.loads(result.stdout)["data"]["checks"]}[
            f"network {network} DNS"]
        assert not dns["ok"] and "chroma" in dns["detail"]
        assert dns["fix"].startswith("`tr4ctl down`") and f"docker network rm {network}" in \
            dns["fix"] and dns["fix"].count("`tr4ctl up`") == 1
        # The fix named works.
        stack.tr4ctl("down")
        docker("network", "rm", network)
        stack.tr4ctl("up", "--env", "dev")
        checks = {c["name"]: c for c in stack.json("doctor")["data"]["checks"]}
        assert checks[f"network {network} DNS"]["ok"]
