"""Facts about the stack's containers, in one place: the code reads them from here and
the templates get them as `facts`, so a port or a mount path is never written twice."""

from __future__ import annotations

from typing import Any

# Long-running services `up` starts and waits for; certbot is a tool run on demand,
# certbot-renew its unattended loop.
LONG_RUNNING_SERVICES = ("chroma", "backend", "nginx", "certbot-renew")
ALL_SERVICES = (*LONG_RUNNING_SERVICES, "certbot")
VOLUME_KEYS = (
    "chroma_data",
    "backend_data",
    "backend_logs",
    "nginx_logs",
    "certbot_conf",
    "certbot_www",
)

BACKEND_PORT = 8000
# The backend image's working directory: relative paths in its settings start here.
BACKEND_APP_DIR = "/app"
BACKEND_DATA_DIR = f"{BACKEND_APP_DIR}/data"
BACKEND_LOG_DIR = f"{BACKEND_APP_DIR}/logs"
BACKEND_LOG_FILE = f"{BACKEND_LOG_DIR}/app.log"
CHROMA_PORT = 8000
CHROMA_DATA_DIR = "/data"
CHROMA_HEARTBEAT_PATH = "/api/v2/heartbeat"
# nginx's own health listener, on its loopback only: answers "ok <mode>".
NGINX_HEALTH_PORT = 8081
NGINX_ACCESS_LOG = "/var/log/nginx/access.log"
LETSENCRYPT_DIR = "/etc/letsencrypt"
ACME_WEBROOT = "/var/www/certbot"
# Written by the certbot-renew loop after each pass (read by `cert status`).
RENEW_STATE_FILE = "/tmp/tr4ctl-renew/state"


def template_facts() -> dict[str, Any]:
    return {
        "backend_port": BACKEND_PORT,
        "backend_data_dir": BACKEND_DATA_DIR,
        "backend_log_dir": BACKEND_LOG_DIR,
        "chroma_port": CHROMA_PORT,
        "chroma_data_dir": CHROMA_DATA_DIR,
        "nginx_health_port": NGINX_HEALTH_PORT,
        "letsencrypt_dir": LETSENCRYPT_DIR,
        "acme_webroot": ACME_WEBROOT,
        "renew_state_file": RENEW_STATE_FILE,
    }
