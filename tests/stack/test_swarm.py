"""The stack on a real swarm (`TR4CTL_TARGET=swarm`): an engine in a container of the
test's own as the manager (never the host's engine: see swarm_nodes.py), PostgreSQL,
three backend replicas behind nginx; then a second node joined as a worker: a deploy ships
it the new image by itself (once), then it is drained, and lost. Every change runs under a
load loop through nginx that counts each failed request."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from backend_images import build_context, build_image, derived_image, releases, served_version
from conftest import docker, own_environment, wait_for
from load import AccountLoad, RequestLoad
from sftp_target import REPOSITORY, SFTP_USER, schedule_status, sftp_server, target_settings
from swarm_nodes import Manager, SocketNode, load_stack_images, node_stack

# Runs beside the other tests (scripts/test.sh), as it never touches the host's stacks:
# the manager's and worker's engines only.
pytestmark = [pytest.mark.own_engine]

ADMIN, FOUNDER = "admin@swarm.test", "founder@swarm.test"
PASSWORD = "swarm-test-password-1"
REPLICAS = 3
SWARM_SETTINGS = {"TR4CTL_DATABASE": "postgres", "TR4CTL_BACKEND_REPLICAS": str(REPLICAS),
                  # Host-mode ports are on every interface: the manager node's, which
                  # only the host and the test's own containers reach.
                  "TR4CTL_BIND_ADDRESS": "0.0.0.0"}


def services(stack) -> dict[str, dict]:
    return {s["service"]: s for s in stack.json("status")["data"]["services"]}


def backend_tasks(stack) -> list[str]:
    """The manager node's running backend containers."""
    return stack.manager.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name="
                                f"{stack.name}_backend").split()


def converged(stack) -> bool:
    status = stack.json("status", check=False)
    return status.get("data", {}).get("condition") == "healthy"


def login(stack, email: str = ADMIN) -> httpx.Response:
    return httpx.post(stack.url("/api/auth/login"), json={"email": email, "password": PASSWORD},
                      timeout=30)


def emails(stack) -> set[str]:
    return {u["email"] for u in stack.json("users", "list")["data"]["users"]}


def Load(stack) -> RequestLoad:
    return RequestLoad(stack.url, login={"email": ADMIN, "password": PASSWORD})


def on_the_manager(stack, image: str) -> None:
    """An image built on the host, loaded into the manager node (no registry)."""
    stack.manager.load(image)
    stack.manager.host_images.append(image)


@pytest.fixture(scope="module")
def manager(docker_engine, tmp_path_factory):
    node = Manager(tmp_path_factory).start()
    try:
        yield node
    finally:
        node.remove()


# -- before any swarm: the refusal a plain engine gets ------------------------------------
def test_an_engine_that_is_no_swarm_manager_is_exit_3(manager, tmp_path_factory):
    if manager.swarm_state() != "inactive":
        pytest.fail("run this test before the module's swarm is made (it comes first)")
    stack = node_stack(tmp_path_factory, "noswarm", manager, settings=SWARM_SETTINGS)
    result = stack.tr4ctl("up", "--target", "swarm", check=False)
    assert result.returncode == 3, result.stderr
    assert "not a swarm manager" in result.stderr and "docker swarm init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (stack.project_dir / ".tr4ctl" / "docker-compose.yml").exists()


@pytest.fixture(scope="module")
def swarm(manager):
    manager.init_swarm()
    return manager


@pytest.fixture(scope="module")
def stack(swarm, tmp_path_factory):
    stack = node_stack(tmp_path_factory, "swarm", swarm, settings=SWARM_SETTINGS)
    load_stack_images(stack)
    stack.tr4ctl("up", "--target", "swarm")
    stack.tr4ctl("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                 "--password-stdin", input=f"{PASSWORD}\n{PASSWORD}\n")
    yield stack
    stack.tr4ctl("down", "--volumes", "--yes", check=False)


def test_sqlite_with_replicas_is_refused_with_nothing_done(swarm, tmp_path_factory):
    settings = {key: value for key, value in SWARM_SETTINGS.items()
                if key != "TR4CTL_BACKEND_REPLICAS"}
    stack = node_stack(tmp_path_factory, "swarmsqlite", swarm,
                       settings={**settings, "TR4CTL_DATABASE": "sqlite"})
    env_file = (stack.project_dir / ".env").read_bytes()
    # Refused where it is set (config set), and where the environment brings it (up).
    refused = stack.tr4ctl("config", "set", "TR4CTL_BACKEND_REPLICAS=3", check=False)
    assert (stack.project_dir / ".env").read_bytes() == env_file
    for result in (refused, stack.tr4ctl("up", "--target", "swarm", check=False,
                                         env={"TR4CTL_BACKEND_REPLICAS": "3"})):
        assert result.returncode == 2, result.stderr
        assert "TR4CTL_DATABASE=postgres" in result.stderr
        assert "Traceback" not in result.stderr
    assert swarm.docker("stack", "ls", "--format", "{{.Name}}").split().count(stack.name) == 0


def test_three_replicas_on_postgres_serve_through_nginx(stack):
    status = stack.json("status")["data"]
    assert status["condition"] == "healthy"
    found = {s["service"]: s for s in status["services"]}
    assert found["backend"]["replicas"] == f"{REPLICAS}/{REPLICAS}"
    assert found["postgres"]["replicas"] == "1/1" and found["nginx"]["replicas"] == "1/1"
    assert stack.json("db", "status")["data"]["engine"] == "postgresql"
    assert login(stack).status_code == 200
    # .env keeps the target: later commands need no --target.
    assert "TR4CTL_TARGET=swarm" in (stack.project_dir / ".env").read_text()
    # The JWT key reaches the replicas as a swarm secret, not in their environment.
    for task in backend_tasks(stack):
        env = json.loads(stack.manager.docker("inspect", task))[0]["Config"]["Env"]
        assert not any(line.startswith("JWT_SECRET_KEY=") for line in env)
    # More than one replica answers: each request's id is in one replica's log.
    ids = {httpx.get(stack.url("/version"), timeout=10).headers["x-request-id"]
           for _ in range(30)}
    answered = [task for task in backend_tasks(stack)
                if any(i in stack.manager.docker("logs", task) for i in ids)]
    assert len(answered) > 1, answered


def test_health_verify_logs_and_cert_status_work_on_a_swarm(stack):
    assert stack.tr4ctl("health").returncode == 0
    verified = stack.tr4ctl("verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "backend" in stack.tr4ctl("logs", "backend", "--tail", "5").stdout
    assert stack.tr4ctl("cert", "status").returncode == 0


def test_deploy_is_a_rolling_update_with_no_failed_request(stack, tmp_path):
    with build_context(tmp_path, version="swarm-1") as context:
        image = build_image(stack, context, f"{stack.name}-backend:swarm-1", "swarm-1")
    on_the_manager(stack, image)
    with Load(stack) as load:
        report = stack.json("deploy", "--image", image)["data"]
    assert load.failures == [], load.failures[:5]
    assert load.done > 50 and load.logins > 5
    assert report["release"]["result"] == "succeeded"
    assert served_version(stack) == "swarm-1"
    assert services(stack)["backend"]["replicas"] == f"{REPLICAS}/{REPLICAS}"
    assert releases(stack)["current"] == report["release"]["id"]


def test_a_broken_image_is_rolled_back_by_the_swarm_with_no_failed_request(stack, tmp_path):
    serving = served_version(stack)
    current = releases(stack)["current"]
    image = derived_image(stack, f"{stack.name}-broken:exits", 'CMD ["false"]',
                          tmp_path=tmp_path)
    on_the_manager(stack, image)
    with Load(stack) as load:
        result = stack.tr4ctl("--json", "deploy", "--image", image, check=False)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["errors"][0]
    assert "rolled the backend back" in error["message"]
    assert load.failures == [], load.failures[:5]
    assert served_version(stack) == serving
    assert releases(stack)["current"] == current
    assert releases(stack)["releases"][-1]["result"] == "failed"
    wait_for(lambda: converged(stack), "the replicas back on the old image", 120)
    assert {json.loads(stack.manager.docker("inspect", t))[0]["Config"]["Image"]
            for t in backend_tasks(stack)} == {services(stack)["backend"]["image"]}


def test_rollback_on_a_swarm(stack):
    previous = [r for r in releases(stack)["releases"] if r["result"] == "succeeded"]
    with Load(stack) as load:
        report = stack.json("rollback")["data"]
    assert load.failures == [], load.failures[:5]
    assert report["release"]["rolled_back_to"] == previous[-2]["id"]
    assert served_version(stack) != "swarm-1"


def test_a_replica_killed_is_replaced_with_no_data_lost(stack):
    bearer = login(stack).json()["access_token"]
    load = AccountLoad(lambda: httpx.Client(base_url=stack.url(""), timeout=60,
                                            headers={"Authorization": f"Bearer {bearer}"}),
                       prefix="swarmkill")
    load.start()
    try:
        wait_for(lambda: len(load.committed) >= 3, "accounts to be created")
        victim = backend_tasks(stack)[0]
        stack.manager.kill_process(
            stack.manager.docker("inspect", "--format", "{{.State.Pid}}", victim).strip())
        wait_for(lambda: victim not in backend_tasks(stack) and converged(stack),
                 "the swarm to replace the replica", 180)
        killed_at = time.monotonic()
        wait_for(lambda: load.committed and load.committed[-1][1] > killed_at, "more accounts")
    finally:
        load.halt.set()
        load.join(timeout=120)
    assert {email for email, _ in load.committed} <= emails(stack)


def test_a_backup_restores_every_account_into_a_fresh_swarm_stack(stack):
    before = emails(stack)
    created = stack.json("backup", "create")["data"]
    assert "database.pgdump" in {p["name"] for p in created["manifest"]["parts"]}
    stack.tr4ctl("down", "--volumes", "--yes")
    assert stack.tr4ctl("status", "--check", check=False).returncode == 3
    stack.tr4ctl("backup", "restore", created["path"], "--yes")
    wait_for(lambda: converged(stack), "the restored stack", 180)
    assert emails(stack) == before
    assert services(stack)["backend"]["replicas"] == f"{REPLICAS}/{REPLICAS}"
    assert login(stack).status_code == 200


# -- two nodes ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker(swarm, stack, tmp_path_factory):
    """Joined while the stack runs, holding no image: `up` ships it the running backend
    image, each deploy the new one (the manager reaches its engine by the
    io.tr4ctl.docker-host label)."""
    node = SocketNode(swarm, f"t4t-worker-{os.getpid()}",
                      tmp_path_factory.mktemp("worker-socket")).start()
    try:
        yield node
    finally:
        node.remove()


def backend_nodes(stack) -> list[str]:
    return services(stack)["backend"]["nodes"]


def new_backend_image(stack, tag: str, tmp_path) -> str:
    """A new image id from the backend image the test built on the host (another label:
    its layers are the running release's, its id is new)."""
    running = next(image for image in stack.manager.host_images if "-backend:" in image)
    (tmp_path / "Dockerfile").write_text(f"FROM {running}\nLABEL io.tr4ctl.test={tag}\n")
    subprocess.run(["docker", "build", "-q", "-t", tag, str(tmp_path)], check=True,
                   capture_output=True, env={**own_environment(), "DOCKER_BUILDKIT": "0"})
    return tag


def image_id_on(node, image: str) -> str | None:
    return (node.docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
            or "").strip() or None


def test_up_ships_the_running_backend_image_to_a_new_worker_once(stack, worker):
    image = next(row["image"] for row in stack.json("images", "list")["data"]["images"]
                 if row["role"] == "backend")
    assert image_id_on(worker, image) is None
    report = stack.json("up", "--target", "swarm")["data"]
    [shipped] = report["shipped"]
    assert shipped["destination"] == worker.name and shipped["sent"] == [image], shipped
    assert image_id_on(worker, image) == image_id_on(stack.manager, image)
    again = stack.json("up", "--target", "swarm")["data"]
    assert [row["sent"] for row in again["shipped"]] == [[]], again["shipped"]
    assert converged(stack)


def test_a_deploy_ships_the_new_image_to_the_worker_by_itself_once(stack, worker, tmp_path):
    new = new_backend_image(stack, f"{stack.name}-backend:shipped", tmp_path)
    on_the_manager(stack, new)
    expected = stack.manager.docker("image", "inspect", "--format", "{{.Id}}", new).strip()
    assert image_id_on(worker, new) is None

    with Load(stack) as load:
        report = stack.json("deploy", "--image", new)["data"]
    assert load.failures == [], load.failures[:5]
    assert report["release"]["result"] == "succeeded"
    [shipped] = report["shipped"]
    assert shipped["destination"] == worker.name and shipped["via"] == "engine"
    assert shipped["sent"] == [new], report["shipped"]
    assert shipped["bytes_sent"] > 100 << 20  # docker save sends every layer of the new id
    assert image_id_on(worker, new) == expected
    # The rolling update placed replicas on the worker (spread: it had none), and they
    # run what was shipped there.
    assert worker.node_id[:12] in backend_nodes(stack), backend_nodes(stack)
    running = worker.docker("ps", "--format", "{{.Image}}").split()
    assert any(image.startswith(new) for image in running), running

    again = stack.json("deploy", "--image", new)["data"]
    assert again["release"]["result"] == "succeeded"
    [second] = again["shipped"]
    assert second["sent"] == [] and second["bytes_sent"] == 0
    assert second["present"] == [new]


def test_replicas_spread_over_two_nodes_and_draining_one_fails_no_request(stack, worker):
    with Load(stack) as load:
        stack.json("deploy")  # a rolling restart: the swarm places replicas on both
    assert load.failures == [], load.failures[:5]
    assert len(backend_nodes(stack)) == 2, backend_nodes(stack)
    with Load(stack) as load:
        worker.drain()
        wait_for(lambda: backend_nodes(stack) == [b for b in backend_nodes(stack)
                                                  if not worker.node_id.startswith(b)]
                 and converged(stack), "the worker's replicas to move", 180)
    assert load.failures == [], load.failures[:5]
    assert len(backend_nodes(stack)) == 1


def test_losing_the_worker_leaves_the_site_answering(stack, worker):
    stack.manager.docker("node", "update", "--availability", "active", worker.node_id)
    stack.json("deploy")
    assert len(backend_nodes(stack)) == 2, backend_nodes(stack)
    with Load(stack) as load:
        worker.kill()
        killed = load.done
        wait_for(lambda: worker.status() == "down", "the swarm to see the node down", 120)
        wait_for(lambda: converged(stack), "the replicas to be placed again", 180)
    # A request the dead node was answering is lost with it (at most one per client
    # thread: a timeout, or nginx's 502 for a login it may not send twice); every request
    # sent after the loss is answered: nginx gives a silent replica 1 s, then the next.
    assert len(load.failures) <= 3, load.failures
    assert all("Timeout" in f or f.startswith("502") for f in load.failures), load.failures
    assert load.done - killed > 50
    with Load(stack) as after:
        time.sleep(3)
    assert after.failures == [], after.failures[:5]
    assert len(backend_nodes(stack)) == 1
    assert login(stack).status_code == 200


def test_to_compose_and_back_keeps_every_account(stack):
    # TR4CTL_BIND_ADDRESS stays 0.0.0.0: on compose too the ports are the manager node's,
    # reached on its address on the test's own network.
    before = emails(stack)
    result = stack.tr4ctl("up", "--target", "compose")
    assert "taking it down there first" in result.stderr
    assert stack.manager.docker("stack", "ls", "--format", "{{.Name}}").split().count(stack.name) == 0
    status = stack.json("status")["data"]
    assert status["condition"] == "healthy"
    assert all(s["replicas"] is None for s in status["services"])
    assert emails(stack) == before
    assert login(stack).status_code == 200

    result = stack.tr4ctl("up", "--target", "swarm")
    assert "taking it down there first" in result.stderr
    assert not stack.manager.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}")
    assert services(stack)["backend"]["replicas"] == f"{REPLICAS}/{REPLICAS}"
    assert emails(stack) == before


def _service_files(stack, service: str) -> tuple[list[dict], list[str]]:
    """A service's bind mounts and the names of the secrets it reads, as the swarm has them."""
    spec = json.loads(stack.manager.docker("service", "inspect", f"{stack.name}_{service}"))[0]
    container = spec["Spec"]["TaskTemplate"]["ContainerSpec"]
    binds = [m for m in container.get("Mounts") or [] if m.get("Type") == "bind"]
    return binds, sorted(s["SecretName"] for s in container.get("Secrets") or [])


@pytest.fixture(scope="module")
def off_host(stack, tmp_path_factory):
    """An SFTP server of the test's own on the nodes' network; yields (settings, server).
    By address: a task of the node's engine cannot resolve the test network's names."""
    settings = target_settings(tmp_path_factory.mktemp("swarm-backup-keys"), "pending")
    with sftp_server(settings, stack.manager.network, "t4t-swarm-sftp") as (server, address):
        settings["TR4CTL_BACKUP_TARGET"] = f"sftp:{SFTP_USER}@{address}:{REPOSITORY}"
        yield settings, server


def test_scheduled_off_host_copies_run_on_a_swarm(stack, off_host):
    """TR4CTL_BACKUP_SCHEDULE on a swarm (PostgreSQL: backup-dump takes the dumps). The
    restic key and the target's key files reach the service as swarm secrets named after
    their content, not as paths of this machine; copies land at the SFTP server; a
    rewritten known_hosts is deployed as a new secret and the next pass lands too."""
    settings, server = off_host
    backup_image = stack.json("config", "show")["data"]["settings"]["TR4CTL_BACKUP_IMAGE"]
    stack.manager.load(backup_image)  # the host's image: never removed by the test
    for key, value in settings.items():
        stack.tr4ctl("config", "set", f"{key}={value}")
    stack.tr4ctl("up", "--target", "swarm")
    binds, secrets = _service_files(stack, "backup-schedule")
    assert binds == [], binds
    for key in ("restic_password", "backup_ssh_key", "backup_known_hosts"):
        assert any(name.startswith(f"{stack.name}_{key}_") for name in secrets), secrets
    task = stack.manager.docker("ps", "-q", "--filter", "label=com.docker.swarm.service."
                                f"name={stack.name}_backup-schedule").split()[0]
    assert stack.manager.docker("exec", task, "stat", "-c", "%a %u",
                                "/run/secrets/backup_ssh_key").strip() == "400 0"

    first = wait_for(lambda: (s := schedule_status(stack)).get("verdict") == "ok"
                     and (s.get("state") or {}).get("last_run") and s,
                     "the first scheduled pass on the swarm", 300, every=3)
    snapshots = docker("exec", server, "find", f"{REPOSITORY}/snapshots", "-type", "f").split()
    assert snapshots, "the copies are at the target"
    assert "intact" in stack.tr4ctl("backup", "verify", "--offsite").stderr

    known = Path(settings["TR4CTL_BACKUP_SSH_KNOWN_HOSTS"])
    known.write_text(known.read_text() + "# rotated\n")
    stack.tr4ctl("up", "--target", "swarm")
    _, rotated = _service_files(stack, "backup-schedule")
    changed = set(rotated) - set(secrets)
    assert len(changed) == 1 and f"{stack.name}_backup_known_hosts_" in changed.pop()
    wait_for(lambda: (s := schedule_status(stack)).get("verdict") == "ok"
             and ((s.get("state") or {}).get("last_run") or 0) > first["state"]["last_run"],
             "a scheduled pass with the new known_hosts", 300, every=3)
    assert stack.json("status")["data"]["condition"] == "healthy"


def test_a_lost_swarm_project_comes_back_from_the_off_host_copies(stack, off_host,
                                                                 tmp_path_factory):
    """The manager's volumes destroyed (`down --volumes`); a fresh project folder with the
    operator's .env and the exported key restores from the target with one command, and
    the stack serves on the swarm again with every account."""
    settings, _ = off_host
    before = emails(stack)
    copied_after = time.time()
    wait_for(lambda: ((schedule_status(stack).get("state") or {}).get("last_db_run") or 0)
             > copied_after, "a database copy holding every account", 120, every=3)
    key = stack.tr4ctl("backup", "key", "export").stdout
    stack.tr4ctl("down", "--volumes", "--yes")
    assert not stack.manager.docker("volume", "ls", "-q", "--filter", f"name={stack.name}_")
    fresh = tmp_path_factory.mktemp("swarm-fresh-host")  # the manager sees the same path
    (fresh / ".env").write_bytes((stack.project_dir / ".env").read_bytes())
    key_file = fresh / "backup.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    stack.project_dir = fresh
    restored = stack.tr4ctl("backup", "restore", "--from", settings["TR4CTL_BACKUP_TARGET"],
                            "--key-file", str(key_file), "--yes", timeout=1200)
    assert "restored" in restored.stderr
    assert services(stack)["backend"]["replicas"] == f"{REPLICAS}/{REPLICAS}"
    assert emails(stack) == before
    assert login(stack).status_code == 200
