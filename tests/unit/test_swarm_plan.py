"""The swarm target as data: the stack file it renders, nginx's resolver, what it refuses,
and what a service's update status means. The real swarm is in tests/stack/test_swarm.py."""

from pathlib import Path

import pytest
import yaml

from tr4ctl.assets import backend_context, backend_image, load_templates
from tr4ctl.config.model import Config
from tr4ctl.plan import stack
from tr4ctl.plan.environments import Environment, NginxMode
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.swarm import swarm_refusal, update_progress

PATHS = ProjectPaths(Path("/srv/p"))


def inputs(config):
    return stack.StackInputs(load_templates(config.templates_dir),
                             backend_image(config.backend_image, config.backend_base_image),
                             str(backend_context()))


def swarm_config(**values):
    values = {"target": "swarm", "database": "postgres", "backend_replicas": 3,
              "database_password": "pw-123456789", **values}
    return Config.defaults(**values)


def stack_file(**values):
    config = swarm_config(**values)
    return stack.render_compose(config, Environment.DEV, PATHS, inputs(config))


def test_the_stack_file_has_replicas_rolling_updates_and_no_compose_only_keys():
    doc = yaml.safe_load(stack_file())
    backend = doc["services"]["backend"]
    assert doc["version"] == "3.8" and "name" not in doc
    assert backend["deploy"]["replicas"] == 3
    assert backend["deploy"]["endpoint_mode"] == "dnsrr"  # no IPVS: no VIP
    assert backend["deploy"]["update_config"]["order"] == "start-first"
    assert backend["deploy"]["update_config"]["failure_action"] == "rollback"
    assert "placement" not in backend["deploy"]  # replicas go anywhere
    for name in ("postgres", "chroma", "nginx", "certbot-renew"):
        service = doc["services"][name]
        assert service["deploy"]["placement"]["constraints"] == \
            ["node.labels.tr4ctl.stateful == true"], name
    for service in doc["services"].values():
        assert not {"build", "profiles", "depends_on", "restart"} & set(service)
    assert "certbot" not in doc["services"]  # a tool, run with `docker run` there


def test_secrets_are_files_named_after_their_content_and_never_in_the_environment():
    text = stack_file(database_password="pw-123456789")
    doc = yaml.safe_load(text)
    assert set(doc["services"]["backend"]["secrets"]) == {"db_password", "jwt_secret"}
    assert doc["services"]["backend"]["environment"]["JWT_SECRET_KEY_FILE"] == \
        "/run/secrets/jwt_secret"
    names = {key: value["name"] for key, value in doc["secrets"].items()}
    assert names["db_password"].startswith("tr4ction_db_password_")
    other = yaml.safe_load(stack_file(database_password="another-password"))
    assert other["secrets"]["db_password"]["name"] != names["db_password"]
    assert "pw-123456789" not in text


def test_nginx_is_published_in_host_mode_and_follows_the_replicas():
    doc = yaml.safe_load(stack_file(http_port=8080))
    assert {"target": 80, "published": 8080, "protocol": "tcp", "mode": "host"} in \
        doc["services"]["nginx"]["ports"]
    config = swarm_config()
    site = stack.render_nginx(config, NginxMode.DEV, inputs(config))
    assert "resolver 127.0.0.11" in site and "valid=" in site
    assert "proxy_next_upstream" in site


def test_a_compose_stack_file_is_unchanged_by_the_swarm_keys():
    config = Config.defaults(backend_replicas=3)
    doc = yaml.safe_load(stack.render_compose(config, Environment.DEV, PATHS, inputs(config)))
    assert "deploy" not in doc["services"]["backend"]
    assert "resolver" not in stack.render_nginx(config, NginxMode.DEV, inputs(config))


@pytest.mark.parametrize(("values", "words"), [
    ({"database": "sqlite", "backend_replicas": 3}, "TR4CTL_BACKEND_REPLICAS=3"),
    ({"database": "sqlite", "backend_replicas": 1, "nodes": 2}, "2 nodes"),
    ({"bind_address": "127.0.0.1"}, "TR4CTL_BIND_ADDRESS=127.0.0.1"),
])
def test_what_a_swarm_refuses(values, words):
    nodes = values.pop("nodes", 1)
    refusal = swarm_refusal(swarm_config(**values), nodes)
    assert refusal is not None and words in refusal.message


def test_postgres_replicas_on_many_nodes_are_fine():
    assert swarm_refusal(swarm_config(), 3) is None
    # A backup schedule too: its files go as swarm secrets (test_offsite_plan.py).
    assert swarm_refusal(swarm_config(backup_schedule="hourly",
                                      backup_target="sftp:b@h:/r"), 3) is None
    assert swarm_refusal(swarm_config(database="sqlite", backend_replicas=1), 1) is None


def test_update_status():
    assert update_progress({}).state is None
    rolled = update_progress({"UpdateStatus": {"State": "rollback_completed", "StartedAt": "t",
                                               "Message": "update rolled back"},
                              "Spec": {"TaskTemplate": {"ContainerSpec": {
                                  "Image": "img:1@sha256:abc"}}}})
    assert rolled.finished and rolled.rolled_back and rolled.image == "img:1"
    assert update_progress({"UpdateStatus": {"State": "completed"}}).finished
    assert not update_progress({"UpdateStatus": {"State": "updating"}}).finished
