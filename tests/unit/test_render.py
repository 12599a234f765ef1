import json
import re

import pytest
import yaml

from tr4ctl.assets import backend_context, backend_image, load_templates
from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.plan import stack
from tr4ctl.plan.environments import (
    HTTPS_PENDING,
    Environment,
    NginxMode,
    https_pending_body,
    nginx_mode_for,
    parse_environment,
)
from tr4ctl.plan.layout import ProjectPaths

# This machine's engine (no start_interval) and one that has it.
OLD_ENGINE = {"engine_version": "20.10.24+dfsg1", "compose_version": "2.40.3"}
NEW_ENGINE = {"engine_version": "27.3.1", "compose_version": "2.40.3"}


def load_stack_inputs(config, engine=None):
    return stack.StackInputs(load_templates(config.templates_dir),
                             backend_image(config.backend_image, config.backend_base_image),
                             str(backend_context()), **(engine or OLD_ENGINE))


def render_compose(config, env, paths, engine=None):
    return stack.render_compose(config, env, paths, load_stack_inputs(config, engine))


def render_nginx(config, mode):
    return stack.render_nginx(config, mode, load_stack_inputs(config))


def settings(**values):
    return Config.defaults(**values)


def compose(env=Environment.DEV, engine=None, **values):
    return yaml.safe_load(render_compose(settings(**values), env,
                                         ProjectPaths(__import__("pathlib").Path("/srv/p")),
                                         engine))


def test_compose_services_volumes_network_named_after_project():
    doc = compose(project_name="acme")
    # postgres is defined on every stack; on SQLite (the default) its profile keeps it off.
    assert set(doc["services"]) == {"backend", "nginx", "chroma", "certbot", "certbot-renew",
                                    "postgres"}
    assert doc["services"]["postgres"]["profiles"] == ["postgres"]
    assert {v["name"] for v in doc["volumes"].values()} == {
        f"acme_{k}" for k in ("chroma_data", "backend_data", "backend_logs", "nginx_logs",
                              "certbot_conf", "certbot_www", "postgres_data", "backup_dumps")}
    assert all(v["external"] for v in doc["volumes"].values())
    assert doc["networks"]["stack"] == {"external": True, "name": "acme_network"}


def test_only_nginx_publishes_and_never_port_8000():
    doc = compose(http_port=8080, https_port=8443, bind_address="127.0.0.1")
    published = {name: svc.get("ports", []) for name, svc in doc["services"].items()}
    assert published["nginx"] == ["127.0.0.1:8080:80", "127.0.0.1:8443:443"]
    assert all(not ports for name, ports in published.items() if name != "nginx")
    assert "8000" not in " ".join(published["nginx"])


def test_long_running_services_have_healthchecks_and_certbot_is_a_tool():
    doc = compose()
    for name in ("backend", "nginx", "chroma"):
        assert doc["services"][name]["healthcheck"]["test"]
        assert doc["services"][name]["restart"] == "unless-stopped"
    assert doc["services"]["backend"]["init"] is True
    assert doc["services"]["certbot"]["profiles"] == ["tools"]


def test_dev_and_prod_differ_as_data():
    dev, prod = compose(Environment.DEV), compose(Environment.PROD, domain="api.example.test")
    assert dev["services"]["backend"]["environment"]["ENVIRONMENT"] == "development"
    assert prod["services"]["backend"]["environment"]["ENVIRONMENT"] == "production"
    assert prod["services"]["backend"]["environment"]["DEBUG_MODE"] == "false"
    assert prod["services"]["nginx"]["networks"]["stack"]["aliases"] == ["api.example.test"]


def test_images_are_settings():
    doc = compose(nginx_image="n:1", chroma_image="c:1", certbot_image="cb:1",
                  backend_base_image="base:1", backend_image="be:1")
    services = doc["services"]
    assert (services["nginx"]["image"], services["chroma"]["image"], services["certbot"]["image"],
            services["backend"]["image"]) == ("n:1", "c:1", "cb:1", "be:1")
    assert services["backend"]["build"]["args"]["BASE_IMAGE"] == "base:1"


def test_dev_nginx_serves_docs_and_acme_over_http():
    text = render_nginx(settings(), NginxMode.DEV)
    assert text.startswith("# tr4ctl nginx config: dev")
    assert "/.well-known/acme-challenge/" in text
    assert "docs|redoc" not in text
    assert "listen 443" not in text


def test_prod_nginx_is_hardened():
    text = render_nginx(settings(domain="api.example.test", https_port=8443), NginxMode.PROD)
    assert "listen 443 ssl http2" in text
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "/etc/letsencrypt/live/api.example.test/fullchain.pem" in text
    for header in ("Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options",
                   "Referrer-Policy"):
        assert f'add_header {header}' in text
    assert text.count(" always;") >= 4  # on error responses too
    assert "location ~ ^/(docs|redoc|openapi\\.json)(/|$)" in text
    assert "limit_req zone=tr4ctl_api" in text
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1;" in text


def test_prod_redirects_to_the_configured_domain_keeping_non_get_methods():
    text = render_nginx(settings(domain="api.example.test", https_port=8443), NginxMode.PROD)
    assert "return 308 https://api.example.test:8443$request_uri;" in text
    assert "return 301 https://api.example.test:8443$request_uri;" in text
    assert "if ($request_method !~ ^(GET|HEAD)$)" in text
    assert "$host$" not in text and "https://$host" not in text
    default_port = render_nginx(settings(domain="api.example.test"), NginxMode.PROD)
    assert "return 301 https://api.example.test$request_uri;" in default_port


def test_prod_without_certificate_serves_only_health_and_the_challenge():
    assert nginx_mode_for(Environment.PROD, certificate_present=False) is NginxMode.PROD_HTTP
    assert nginx_mode_for(Environment.PROD, certificate_present=True) is NginxMode.PROD
    text = render_nginx(settings(), NginxMode.PROD_HTTP)
    assert "listen 443" not in text
    locations = re.findall(r"^\s*location (.+?) \{", text, re.MULTILINE)
    assert locations == ["/", "^~ /.well-known/acme-challenge/", "= /health", "/",
                         "@backend_unavailable"]  # the first is nginx's own health listener
    assert text.count("proxy_pass") == 1 and "limit_req zone" not in text
    body = re.search(r"return 503 '(.+)';", text).group(1)
    assert json.loads(body) == {"error": HTTPS_PENDING, "fix": "tr4ctl cert issue"}


def test_https_pending_body_fits_in_a_single_quoted_nginx_string():
    body = https_pending_body()
    assert not set(body) & {"'", "$", "\\"}


def test_prod_nginx_without_domain_is_bad_input():
    with pytest.raises(BadInput, match="domain") as caught:
        render_nginx(settings(), NginxMode.PROD)
    assert "TR4CTL_DOMAIN" in caught.value.hint


def test_operator_template_override_with_missing_value(tmp_path):
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "site.conf.j2").write_text("# tr4ctl nginx config: {{ mode }}\n{{ upstream_pool }}\n")
    with pytest.raises(BadInput, match="upstream_pool"):
        render_nginx(settings(templates_dir=tmp_path), NginxMode.DEV)


@pytest.mark.parametrize("value", ["staging", "", "production"])
def test_unknown_environment(value):
    with pytest.raises(BadInput, match="unknown environment") as caught:
        parse_environment(value)
    assert "--env dev" in caught.value.hint


def test_backend_image_is_tagged_by_its_build_context_and_base():
    default = compose()["services"]["backend"]["image"]
    other_base = compose(backend_base_image="another/base:1")["services"]["backend"]["image"]
    assert default.startswith("tr4ction/backend:") and len(default.split(":")[1]) == 12
    assert default != other_base
    assert compose(backend_image="registry.example/backend:7")["services"]["backend"]["image"] \
        == "registry.example/backend:7"


def test_postgres_is_internal_gets_its_password_as_a_file_and_starts_first():
    doc = compose(database="postgres")
    postgres, backend = doc["services"]["postgres"], doc["services"]["backend"]
    assert "profiles" not in postgres and "ports" not in postgres
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    # Without start_interval compose would wait an interval for PostgreSQL's first check:
    # `up` starts it first and asks it itself.
    assert backend["depends_on"]["postgres"]["condition"] == "service_started"
    newer = compose(database="postgres", engine=NEW_ENGINE)["services"]["backend"]
    assert newer["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert backend["environment"]["DATABASE_URL"] == \
        "postgresql+psycopg://tr4ction@postgres:5432/tr4ction"
    assert backend["environment"]["DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert doc["secrets"]["db_password"]["file"].endswith(".tr4ctl/secrets/db_password")
    text = render_compose(settings(database="postgres", database_password="s3cr3t-pw-xyz"),
                          Environment.DEV, ProjectPaths(__import__("pathlib").Path("/srv/p")))
    assert "s3cr3t-pw-xyz" not in text


LONG_RUNNING = ("backend", "nginx", "chroma", "certbot-renew")


def test_healthchecks_on_an_engine_without_start_interval_are_slow_only():
    doc = compose(engine=OLD_ENGINE, healthcheck_interval="30s")
    for name in LONG_RUNNING:
        check = doc["services"][name]["healthcheck"]
        assert "start_interval" not in check, name  # Engine 20.10 refuses the key
        assert (check["interval"], check["retries"], check["start_period"]) == ("30s", 3, "120s")
    # No engine answered (`config show` without one): the variant every engine accepts.
    unknown = compose(engine={"engine_version": None, "compose_version": None})
    assert "start_interval" not in unknown["services"]["backend"]["healthcheck"]


def test_healthchecks_on_engine_25_are_fast_while_starting_then_slow():
    doc = compose(engine=NEW_ENGINE, healthcheck_interval="45s")
    for name in LONG_RUNNING:
        check = doc["services"][name]["healthcheck"]
        assert (check["interval"], check["start_interval"]) == ("45s", "1s"), name
    # A compose older than 2.20.2 does not know the key.
    old_compose = compose(engine={"engine_version": "27.3.1", "compose_version": "2.19.0"})
    assert "start_interval" not in old_compose["services"]["backend"]["healthcheck"]


def test_swarm_healthchecks_stay_fast_whatever_the_engine():
    # A swarm counts a task started (and puts it in DNS) only once healthy.
    for engine in (OLD_ENGINE, NEW_ENGINE):
        doc = compose(engine=engine, target="swarm", healthcheck_interval="30s")
        check = doc["services"]["backend"]["healthcheck"]
        assert (check["interval"], check["retries"]) == ("1s", 30)
        assert "start_interval" not in check


def test_backend_check_asks_ready_then_health_and_prints_which():
    script = compose()["services"]["backend"]["healthcheck"]["test"]
    assert script[:3] == ["CMD", "bash", "-c"]
    assert script[3].rstrip().endswith("ask /ready 3 || ask /health 2")
    assert "GET %s HTTP/1.0" in script[3]


@pytest.mark.parametrize("target", ["compose", "swarm"])
def test_every_service_log_is_rotated_by_the_engine(target):
    doc = compose(target=target, log_max_size="100k", log_max_files=2)
    for name, service in doc["services"].items():
        assert service["logging"] == {"driver": "json-file",
                                      "options": {"max-size": "100k", "max-file": "2"}}, name


def test_logs_rotate_at_10m_keeping_3_files_by_default():
    assert compose()["services"]["nginx"]["logging"]["options"] == {"max-size": "10m",
                                                                    "max-file": "3"}
