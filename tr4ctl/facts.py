"""Facts about the stack's containers, in one place: the code reads them from here and
the templates get them as `facts`, so a port or a mount path is never written twice."""

from __future__ import annotations

from typing import Any

# Long-running services `up` starts and waits for; certbot is a tool run on demand,
# certbot-renew its unattended loop.
RENEW_SERVICE = "certbot-renew"
LONG_RUNNING_SERVICES = ("chroma", "backend", "nginx", RENEW_SERVICE)
ALL_SERVICES = (*LONG_RUNNING_SERVICES, "certbot")
VOLUME_KEYS = (
    "chroma_data",
    "backend_data",
    "backend_logs",
    "nginx_logs",
    "certbot_conf",
    "certbot_www",
    # PostgreSQL's cluster (TR4CTL_DATABASE=postgres); created with the others, so moving
    # to it later never has to create a volume on a running stack.
    "postgres_data",
    # The newest pg_dump of a scheduled backup on PostgreSQL (backup-dump writes it,
    # backup-schedule ships it): never part of an archive, removed with the others.
    "backup_dumps",
)
SQLITE, POSTGRES = "sqlite", "postgres"
DATABASES = (SQLITE, POSTGRES)
COMPOSE, SWARM = "compose", "swarm"
# Swarm nodes labelled so hold the stack's state: PostgreSQL, Chroma, nginx (its config
# and certificates), certbot, and their volumes. tr4ctl labels the manager it runs on.
STATEFUL_LABEL = "tr4ctl.stateful"

BACKEND_PORT = 8000
# The OCI label of the commit an image was built from (builds from a git source set it).
COMMIT_LABEL = "org.opencontainers.image.revision"
# The backend image's working directory: relative paths in its settings start here.
BACKEND_APP_DIR = "/app"
BACKEND_DATA_DIR = f"{BACKEND_APP_DIR}/data"
BACKEND_LOG_DIR = f"{BACKEND_APP_DIR}/logs"
CHROMA_PORT = 8000
CHROMA_DATA_DIR = "/data"
CHROMA_HEARTBEAT_PATH = "/api/v2/heartbeat"
# nginx's own health listener, on its loopback only: answers "ok <mode>".
NGINX_HEALTH_PORT = 8081
LETSENCRYPT_DIR = "/etc/letsencrypt"
ACME_WEBROOT = "/var/www/certbot"
# nginx reads certificates at start and reload only: a loop beside it looks at the files
# it serves this often and reloads once they changed (renewed by certbot-renew or tr4ctl).
NGINX_CERT_CHECK_SECONDS = 10
# TR4CTL_ACME_CA_BUNDLE (a private ACME CA's bundle), mounted read-only in certbot's
# containers and named by REQUESTS_CA_BUNDLE.
ACME_CA_BUNDLE_IN_CONTAINER = "/run/tr4ctl/acme-ca-bundle.pem"
# The certbot-renew loop: a pass at start and every RENEW_INTERVAL_SECONDS, its outcome
# written to RENEW_STATE_FILE (read by `cert status`). A file at RENEW_FORCE_FILE makes
# the loop start a pass that renews every certificate, due or not, within
# RENEW_POLL_SECONDS: drills and tests of the unattended path, without a short interval.
RENEW_INTERVAL_SECONDS = 12 * 3600
RENEW_POLL_SECONDS = 5
RENEW_STATE_DIR = "/tmp/tr4ctl-renew"
RENEW_STATE_FILE = f"{RENEW_STATE_DIR}/state"
RENEW_FORCE_FILE = f"{RENEW_STATE_DIR}/force-renewal"

POSTGRES_PORT = 5432
POSTGRES_USER = "tr4ction"
POSTGRES_DB = "tr4ction"
POSTGRES_DATA_DIR = "/var/lib/postgresql/data"
# Where the stack mounts the database password, as a file (never an environment variable:
# `docker inspect` would show it).
DB_PASSWORD_SECRET = "/run/secrets/db_password"
# On a swarm the JWT signing key too (the backend reads JWT_SECRET_KEY_FILE).
JWT_SECRET_FILE = "/run/secrets/jwt_secret"
JWT_SECRET_KEY = "JWT_SECRET_KEY"
# The backend runs as this uid (backend/Dockerfile): the password file must be readable
# by it, and by no one else on the host.
BACKEND_UID = 10001


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
        "nginx_cert_check_seconds": NGINX_CERT_CHECK_SECONDS,
        "acme_ca_bundle": ACME_CA_BUNDLE_IN_CONTAINER,
        "renew_interval_seconds": RENEW_INTERVAL_SECONDS,
        "renew_poll_seconds": RENEW_POLL_SECONDS,
        "renew_state_dir": RENEW_STATE_DIR,
        "renew_state_file": RENEW_STATE_FILE,
        "postgres_port": POSTGRES_PORT,
        "postgres_user": POSTGRES_USER,
        "postgres_db": POSTGRES_DB,
        "postgres_data_dir": POSTGRES_DATA_DIR,
        "db_password_secret": DB_PASSWORD_SECRET,
        "stateful_label": STATEFUL_LABEL,
        "renew_force_file": RENEW_FORCE_FILE,
    }


BACKUP_SERVICE = "backup-schedule"
# On PostgreSQL, its pg_dump: the server's own image, so its own major version.
BACKUP_DUMP_SERVICE = "backup-dump"
# pg_dump's custom format, as an archive's part and in an off-host snapshot.
POSTGRES_DUMP = "database.pgdump"
ALERT_SERVICE = "alert-watch"


def stack_services(database: str, backup: bool = False,
                   alerts: bool = False) -> tuple[str, ...]:
    """The long-running services of a stack on this database (and with a backup
    schedule: TR4CTL_BACKUP_SCHEDULE; with TR4CTL_ALERT_WEBHOOK, the alert watcher)."""
    services = (*LONG_RUNNING_SERVICES, POSTGRES) if database == POSTGRES else LONG_RUNNING_SERVICES
    dump = (BACKUP_DUMP_SERVICE,) if backup and database == POSTGRES else ()
    return (*services, *((BACKUP_SERVICE, *dump) if backup else ()),
            *((ALERT_SERVICE,) if alerts else ()))
