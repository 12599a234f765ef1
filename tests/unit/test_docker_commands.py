"""Every docker and compose call tr4ctl makes, as the exact argv (no Docker needed)."""

from pathlib import Path

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.commands import ComposeProject

PROJECT = ComposeProject("acme", (Path("/srv/p/.tr4ctl/docker-compose.yml"),))
BASE = ["docker", "compose", "-p", "acme", "-f", "/srv/p/.tr4ctl/docker-compose.yml"]


def test_compose_calls_name_the_project_and_its_files():
    assert PROJECT.base() == BASE
    assert PROJECT.up(["chroma", "backend"]) == [*BASE, "up", "--detach", "chroma", "backend"]
    assert PROJECT.up(["backend"], build=True) == [*BASE, "up", "--detach", "--build", "backend"]
    assert PROJECT.down(timeout=10) == [*BASE, "down", "--remove-orphans", "--timeout", "10"]
    assert PROJECT.down() == [*BASE, "down", "--remove-orphans"]
    assert PROJECT.stop(["chroma"]) == [*BASE, "stop", "chroma"]
    assert PROJECT.start(["chroma"]) == [*BASE, "start", "chroma"]
    assert PROJECT.restart(["backend"]) == [*BASE, "restart", "backend"]
    assert PROJECT.config_check() == [*BASE, "config", "--quiet"]


def test_validation_of_a_candidate_file_keeps_the_project_name():
    candidate = PROJECT.with_files([Path("/srv/p/.tr4ctl/next.yml")])
    assert candidate.config_check() == ["docker", "compose", "-p", "acme", "-f",
                                        "/srv/p/.tr4ctl/next.yml", "config", "--quiet"]


def test_exec_has_no_terminal_so_stdin_carries_data():
    assert PROJECT.exec("backend", ["python3", "-m", "app.manage", "seed"]) == [
        *BASE, "exec", "-T", "backend", "python3", "-m", "app.manage", "seed"]
    assert PROJECT.exec("backend", ["id"], user="root") == [
        *BASE, "exec", "-T", "--user", "root", "backend", "id"]


def test_run_passes_secret_values_by_name_only():
    argv = PROJECT.run("certbot", ["renew"], env_keys=["REQUESTS_CA_BUNDLE"],
                       volumes=["/ca.pem:/run/ca.pem:ro"], entrypoint="certbot")
    assert argv == [*BASE, "run", "--rm", "--no-deps", "-T", "-e", "REQUESTS_CA_BUNDLE",
                    "-v", "/ca.pem:/run/ca.pem:ro", "--entrypoint", "certbot", "certbot", "renew"]
    assert not any("=" in arg for arg in argv[argv.index("-e"):argv.index("-e") + 2])


def test_logs():
    assert PROJECT.logs() == [*BASE, "logs"]
    assert PROJECT.logs(["nginx"], follow=True, tail="50", timestamps=True) == [
        *BASE, "logs", "--follow", "--tail", "50", "--timestamps", "nginx"]
    assert PROJECT.logs(["backend"], tail="20", no_color=True) == [
        *BASE, "logs", "--no-color", "--tail", "20", "backend"]


def test_engine_object_calls():
    assert cmd.server_version() == ["docker", "version", "--format", "{{.Server.Version}}"]
    assert cmd.compose_version() == ["docker", "compose", "version", "--short"]
    assert cmd.volume_names() == ["docker", "volume", "ls", "-q"]
    assert cmd.volume_create("acme_chroma_data", {"io.tr4ctl.project": "acme"}) == [
        "docker", "volume", "create", "--label", "io.tr4ctl.project=acme", "acme_chroma_data"]
    assert cmd.volume_remove("acme_chroma_data") == ["docker", "volume", "rm", "acme_chroma_data"]
    assert cmd.network_ids("acme_network") == [
        "docker", "network", "ls", "-q", "--filter", "name=^acme_network$"]
    assert cmd.network_create("acme_network", {"io.tr4ctl.project": "acme"}) == [
        "docker", "network", "create", "--label", "io.tr4ctl.project=acme", "acme_network"]
    assert cmd.network_remove("acme_network") == ["docker", "network", "rm", "acme_network"]
    assert cmd.network_containers("acme_network") == [
        "docker", "network", "inspect", "--format", "{{json .Containers}}", "acme_network"]
    assert cmd.image_id("nginx:1") == ["docker", "image", "inspect", "--format", "{{.Id}}",
                                       "nginx:1"]
    assert cmd.image_label("nginx:1", "io.tr4ctl.recipe") == [
        "docker", "image", "inspect", "--format", '{{index .Config.Labels "io.tr4ctl.recipe"}}',
        "nginx:1"]
    assert cmd.container_ids("com.docker.compose.project=acme") == [
        "docker", "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project=acme"]
    assert cmd.inspect(["a", "b"]) == ["docker", "inspect", "a", "b"]
    assert cmd.top("abc") == ["docker", "top", "abc", "-o", "uid,pid,ppid,args"]
    assert cmd.remove_containers(["a"]) == ["docker", "rm", "-f", "a"]
    assert cmd.container_ids_using_volumes(["acme_a", "acme_b"]) == [
        "docker", "ps", "-aq", "--no-trunc", "--filter", "volume=acme_a",
        "--filter", "volume=acme_b"]
    assert cmd.stop_containers(["a", "b"], timeout=10) == [
        "docker", "stop", "--time", "10", "a", "b"]
    assert cmd.docker_root_dir() == ["docker", "info", "--format", "{{.DockerRootDir}}"]


def test_images_built_without_a_registry():
    assert cmd.image_import(Path("/tmp/r.tar"), "x:1", ["CMD [\"sh\"]", "LABEL a=b"]) == [
        "docker", "import", "--change", 'CMD ["sh"]', "--change", "LABEL a=b", "/tmp/r.tar", "x:1"]
    assert cmd.image_build_from_stdin("x:1") == ["docker", "build", "--quiet", "-t", "x:1", "-"]


def test_helper_container_is_labelled_offline_and_gets_values_by_name():
    argv = cmd.helper_run("helper:1", ["tar", "-cf", "-", "-C", "/v", "."], project="acme",
                          role="backup-helper", mounts={"acme_backend_data": "/v:ro"},
                          stdin=True, env_keys=["DATABASE_URL"])
    # The compose labels its image may carry are emptied (commands.NOT_COMPOSE).
    assert argv == ["docker", "run", "--rm", "-i", "--network", "none", "--user", "0:0",
                    "--label", "com.docker.compose.project=", "--label", "com.docker.compose.service=",
                    "--label", "io.tr4ctl.project=acme", "--label", "io.tr4ctl.role=backup-helper",
                    "-v", "acme_backend_data:/v:ro", "-e", "DATABASE_URL",
                    "--entrypoint", "tar", "helper:1", "-cf", "-", "-C", "/v", "."]


def test_deploy_calls():
    assert PROJECT.add_container("backend", 2) == [
        *BASE, "up", "--detach", "--no-deps", "--no-recreate", "--scale", "backend=2", "backend"]
    assert PROJECT.build(["backend"]) == [*BASE, "build", "backend"]
    assert cmd.stop_container("abc", timeout=30) == ["docker", "stop", "--time", "30", "abc"]
    assert cmd.exec_in_container("abc", ["python3", "-"]) == [
        "docker", "exec", "-i", "abc", "python3", "-"]
    assert cmd.image_remove(["a:1", "b:2"]) == ["docker", "image", "rm", "a:1", "b:2"]
    assert cmd.run_image("img:1", ["python3", "-m", "app.manage", "revision", "--code-only"]) == [
        "docker", "run", "--rm", "--network", "none", "--label", "com.docker.compose.project=", "--label", "com.docker.compose.service=",
        "--entrypoint", "python3", "img:1",
        "-m", "app.manage", "revision", "--code-only"]


def test_db_move_calls():
    assert cmd.exec_in_container("abc", ["python3", "-m", "app.manage", "dump-tables"],
                                 env_keys=["DATABASE_URL"]) == [
        "docker", "exec", "-i", "-e", "DATABASE_URL", "abc", "python3", "-m", "app.manage",
        "dump-tables"]
    assert cmd.start_container("abc") == ["docker", "start", "abc"]
    assert cmd.run_check("abc", ["/bin/sh", "-c", "test -s /x"]) == [
        "docker", "exec", "abc", "/bin/sh", "-c", "test -s /x"]


# -- swarm ----------------------------------------------------------------------------------
def test_swarm_stack_calls_are_exact():
    stack = cmd.SwarmStack("acme", Path("/srv/p/.tr4ctl/docker-compose.yml"))
    assert stack.deploy() == ["docker", "stack", "deploy", "--compose-file",
                              "/srv/p/.tr4ctl/docker-compose.yml", "--resolve-image", "never",
                              "--prune", "acme"]
    assert stack.remove() == ["docker", "stack", "rm", "acme"]
    assert stack.scale("backend", 0) == ["docker", "service", "scale", "acme_backend=0"]
    assert stack.update_image("backend", "img:2") == [
        "docker", "service", "update", "--detach", "--force", "--no-resolve-image",
        "--image", "img:2", "acme_backend"]
    assert stack.roll_back("backend") == ["docker", "service", "rollback", "--detach",
                                          "acme_backend"]
    assert stack.restart("nginx") == ["docker", "service", "update", "--force", "acme_nginx"]
    assert stack.logs("backend", follow=True, tail="5") == [
        "docker", "service", "logs", "--follow", "--tail", "5", "acme_backend"]
    assert cmd.stack_config(Path("/f.yml")) == ["docker", "stack", "config", "--compose-file",
                                                "/f.yml"]


def test_overlay_network_node_label_and_attached_tool():
    assert cmd.network_create_overlay("acme_network", {"io.tr4ctl.project": "acme"}) == [
        "docker", "network", "create", "--driver", "overlay", "--attachable",
        "--label", "io.tr4ctl.project=acme", "acme_network"]
    assert cmd.node_label("n1", "tr4ctl.stateful=true") == [
        "docker", "node", "update", "--label-add", "tr4ctl.stateful=true", "n1"]
    assert cmd.run_attached("certbot:5", ["certificates"], network="acme_network",
                            mounts={"acme_certbot_conf": "/etc/letsencrypt"},
                            env_keys=["REQUESTS_CA_BUNDLE"], entrypoint="certbot") == [
        "docker", "run", "--rm", "-i", "--network", "acme_network", "--label", "com.docker.compose.project=", "--label", "com.docker.compose.service=",
        "-v", "acme_certbot_conf:/etc/letsencrypt", "-e", "REQUESTS_CA_BUNDLE",
        "--entrypoint", "certbot", "certbot:5", "certificates"]
